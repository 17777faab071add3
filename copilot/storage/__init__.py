"""Durable storage: SQLite files in the data folder, and the single-instance lock.

The only home of ``sqlite3``. Databases run in WAL mode with ``synchronous=FULL``: once a
write method returns, the record is on disk and survives a kill -9 or a power cut.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import msgspec


class StorageError(Exception):
    """A database or lock file cannot be used; the message says which and why."""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating) a durable SQLite database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        raise StorageError(f"Cannot open database {path}: {exc}.") from None
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


@dataclass
class JournalEntry:
    """What the journal knows about one command."""

    cmd_id: str
    machine: str
    name: str
    state: str
    cause: str
    message: str
    observed: dict[str, Any] | None
    not_after: int
    received_at: int
    updated_at: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    cmd_id      TEXT PRIMARY KEY,
    machine     TEXT NOT NULL,
    name        TEXT NOT NULL,
    args        TEXT NOT NULL,
    state       TEXT NOT NULL,
    cause       TEXT NOT NULL DEFAULT '',
    message     TEXT NOT NULL DEFAULT '',
    observed    TEXT,
    not_after   INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_state ON commands(state);
"""


class CommandJournal:
    """The agent's durable record of every command it has seen (at-most-once execution).

    :meth:`begin` commits the command id *before* the machine acts, so after a crash the
    agent knows it may have acted and reports UNKNOWN instead of acting again.
    """

    IN_FLIGHT = ("ACCEPTED", "EXECUTING")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def get(self, cmd_id: str) -> JournalEntry | None:
        """The entry for ``cmd_id``, if this agent has ever seen it."""
        row = self._db.execute(
            "SELECT cmd_id, machine, name, state, cause, message, observed, not_after,"
            " received_at, updated_at FROM commands WHERE cmd_id = ?",
            (cmd_id,),
        ).fetchone()
        return self._entry(row) if row else None

    @staticmethod
    def _entry(row: tuple[object, ...]) -> JournalEntry:
        observed = msgspec.json.decode(str(row[6])) if row[6] else None
        return JournalEntry(
            cmd_id=str(row[0]),
            machine=str(row[1]),
            name=str(row[2]),
            state=str(row[3]),
            cause=str(row[4]),
            message=str(row[5]),
            observed=observed,
            not_after=int(str(row[7])),
            received_at=int(str(row[8])),
            updated_at=int(str(row[9])),
        )

    def begin(
        self,
        cmd_id: str,
        machine: str,
        name: str,
        args: dict[str, object],
        not_after: int,
        state: str = "ACCEPTED",
        cause: str = "",
        message: str = "",
    ) -> bool:
        """Durably record a new command; ``False`` if ``cmd_id`` was seen before."""
        now = time.time_ns()
        try:
            self._db.execute(
                "INSERT INTO commands (cmd_id, machine, name, args, state, cause, message,"
                " not_after, received_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    cmd_id,
                    machine,
                    name,
                    msgspec.json.encode(args).decode(),
                    state,
                    cause,
                    message,
                    not_after,
                    now,
                    now,
                ),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def update(
        self,
        cmd_id: str,
        state: str,
        cause: str = "",
        message: str = "",
        observed: dict[str, object] | None = None,
    ) -> None:
        """Durably record a new state for a command."""
        self._db.execute(
            "UPDATE commands SET state=?, cause=?, message=?, observed=?, updated_at=?"
            " WHERE cmd_id=?",
            (
                state,
                cause,
                message,
                msgspec.json.encode(observed).decode() if observed is not None else None,
                time.time_ns(),
                cmd_id,
            ),
        )

    def in_flight(self) -> list[JournalEntry]:
        """Commands that were accepted or executing when the agent last stopped."""
        rows = self._db.execute(
            "SELECT cmd_id, machine, name, state, cause, message, observed, not_after,"
            " received_at, updated_at FROM commands WHERE state IN (?, ?)",
            self.IN_FLIGHT,
        ).fetchall()
        return [self._entry(r) for r in rows]

    def prune(self, older_than_ns: int) -> int:
        """Forget finished commands last updated before ``older_than_ns``; return how many."""
        cur = self._db.execute(
            "DELETE FROM commands WHERE updated_at < ? AND state NOT IN (?, ?)",
            (older_than_ns, *self.IN_FLIGHT),
        )
        return cur.rowcount
