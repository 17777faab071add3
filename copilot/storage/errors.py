"""The one exception storage raises."""

from __future__ import annotations


class StorageError(Exception):
    """A database or lock file cannot be used; the message says which and why."""
