"""Durable storage: SQLite files in the data folder, the single-instance lock, and writers.

The only home of ``sqlite3``. Each database has one :class:`Writer` thread that batches commits
(no fsync on any caller's thread), ordered :class:`Migration` steps recorded in a
``schema_version`` table, and readers opened with :func:`open_database`.
"""

from copilot.storage.database import InstanceLock, connect, open_database
from copilot.storage.errors import StorageError
from copilot.storage.journal import CommandJournal, JournalEntry
from copilot.storage.migrations import Migration, schema_version
from copilot.storage.writer import Connection, WriteFailed, Writer, WriterStats

__all__ = [
    "CommandJournal",
    "Connection",
    "InstanceLock",
    "JournalEntry",
    "Migration",
    "StorageError",
    "WriteFailed",
    "Writer",
    "WriterStats",
    "connect",
    "open_database",
    "schema_version",
]
