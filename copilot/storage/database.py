"""Opening SQLite files durably, and the single-instance lock on a data folder.

Every database runs in WAL mode with ``synchronous=FULL``: a transaction is on disk once its
``COMMIT`` returns and survives a kill -9 or a power cut. Readers never block the writer.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from copilot.storage.errors import StorageError
from copilot.storage.migrations import Migration, migrate


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating) a durable SQLite database at ``path``, in autocommit mode."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        raise StorageError(f"Cannot open database {path}: {exc}.") from None
    return conn


def open_database(path: Path, migrations: Sequence[Migration] = ()) -> sqlite3.Connection:
    """Open ``path`` and bring its schema up to date (raises :class:`StorageError`).

    For readers, and for the :class:`~copilot.storage.writer.Writer` before its thread starts.
    With no ``migrations`` the file is only opened.
    """
    conn = connect(path)
    if not migrations:
        return conn
    try:
        migrate(conn, path, migrations)
    except StorageError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise StorageError(f"Cannot prepare database {path}: {exc}.") from None
    return conn


class InstanceLock:
    """An exclusive lock on a file: a second process asking for it is told who holds it."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`StorageError` naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = open(self.path, "a+", encoding="ascii")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise StorageError(
                f"Another {self.what} is already running on data folder {self.path.parent} "
                f"(pid {holder}); stop it or set COPILOT_DATA_DIR to another folder."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        """Give the lock back."""
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
