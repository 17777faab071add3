"""The agent's command journal: every ``cmd_id`` it has seen, so each runs at most once.

Durability rule (docs/protocol.md, "What durable means"): :meth:`CommandJournal.begin` returns
only after the row for the new ``cmd_id`` is committed to disk by the journal's
:class:`~copilot.storage.writer.Writer` (WAL, ``synchronous=FULL``). The agent calls it before the
machine acts, so after a kill -9 or a power cut it knows it may have acted and reports UNKNOWN
instead of acting again. Later states (:meth:`update`) are queued and committed by the writer
without the caller waiting; until then :meth:`get` answers from memory, so a retry is answered
with the newest state. After a crash a command whose last state had not reached the disk is
still ACCEPTED or EXECUTING there, and is reported UNKNOWN — never run again.

Retention: finished commands older than ``keep_s`` are deleted, and at most ``keep_count``
finished ones are kept (checked at open, at most hourly and every 1,000 new commands, on the
writer thread); commands still in flight are never pruned.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec

from copilot.storage.database import open_database
from copilot.storage.errors import StorageError
from copilot.storage.migrations import Migration
from copilot.storage.writer import Writer


@dataclass(frozen=True)
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


MIGRATIONS = (
    Migration(
        1,
        """
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
        """,
        "commands",
    ),
    Migration(
        2, "CREATE INDEX IF NOT EXISTS commands_updated ON commands(updated_at);", "retention"
    ),
)

_COLUMNS = (
    "cmd_id, machine, name, state, cause, message, observed, not_after, received_at, updated_at"
)
IN_FLIGHT = ("ACCEPTED", "EXECUTING")
PRUNE_EVERY_NS = 3600 * 10**9


class CommandJournal:
    """The agent's durable record of every command it has seen (at-most-once execution).

    Used by one thread (the agent's); the writing happens on the journal's writer thread.
    """

    IN_FLIGHT = IN_FLIGHT

    def __init__(
        self,
        path: Path,
        *,
        keep_s: float = 7 * 86_400,
        keep_count: int = 10_000,
        begin_timeout_s: float = 10.0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.path = path
        self.keep_ns = int(keep_s * 1e9)
        self.keep_count = keep_count
        self.begin_timeout_s = begin_timeout_s
        self._clock = clock
        self._writer = Writer(path, MIGRATIONS, name=f"journal-{path.stem}")
        self._db = open_database(path, MIGRATIONS)  # reads, on the owner's thread
        self._pending: dict[str, JournalEntry] = {}  # written, not yet known to be committed
        self._lock = threading.Lock()
        self._begun = 0
        self._pruned_at = 0
        self.prune_now()

    @property
    def writer(self) -> Writer:
        """The journal's writer (its counters say whether writes fail)."""
        return self._writer

    def close(self) -> None:
        """Commit what is queued and close the database."""
        self._writer.close()
        self._db.close()

    # -- reading ----------------------------------------------------------------------------

    def get(self, cmd_id: str) -> JournalEntry | None:
        """The entry for ``cmd_id``, if this agent has ever seen it (newest state first)."""
        with self._lock:
            pending = self._pending.get(cmd_id)
        if pending is not None:
            return pending
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM commands WHERE cmd_id = ?", (cmd_id,)
        ).fetchone()
        return _entry(row) if row else None

    def in_flight(self) -> list[JournalEntry]:
        """Commands that were accepted or executing when the agent last stopped."""
        self._writer.flush(self.begin_timeout_s)
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM commands WHERE state IN (?, ?) ORDER BY received_at",
            IN_FLIGHT,
        ).fetchall()
        return [_entry(r) for r in rows]

    # -- writing ----------------------------------------------------------------------------

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
        """Record a new command and wait until it is on disk; ``False`` if seen before.

        Raises :class:`StorageError` if it cannot be made durable in ``begin_timeout_s``: the
        machine must then not act.
        """
        if self.get(cmd_id) is not None:
            return False
        now = self._clock()
        row = (
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
        )

        def insert(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO commands (cmd_id, machine, name, args, state, cause,"
                " message, not_after, received_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            return cur.rowcount == 1

        future = self._writer.call(insert, "journal begin")
        try:
            new = future.result(self.begin_timeout_s)  # the one wait: durable before acting
        except FutureTimeout:
            raise StorageError(
                f"Command journal {self.path} did not confirm {cmd_id} within "
                f"{self.begin_timeout_s:g} s; the command was not run."
            ) from None
        except Exception as exc:
            raise StorageError(
                f"Command journal {self.path} could not record {cmd_id}: {exc}; "
                "the command was not run."
            ) from None
        self._begun += 1
        if self._begun % 1000 == 0 or now - self._pruned_at > PRUNE_EVERY_NS:
            self.prune_now()
        return bool(new)

    def update(
        self,
        cmd_id: str,
        state: str,
        cause: str = "",
        message: str = "",
        observed: dict[str, object] | None = None,
    ) -> None:
        """Record a new state for a command (committed by the writer; the caller does not wait)."""
        now = self._clock()
        encoded = msgspec.json.encode(observed).decode() if observed is not None else None
        before = self.get(cmd_id)
        if before is not None:
            entry = replace(
                before,
                state=state,
                cause=cause,
                message=message,
                observed=dict(observed) if observed is not None else None,
                updated_at=now,
            )
            with self._lock:
                self._pending[cmd_id] = entry
        future = self._writer.submit(
            "UPDATE commands SET state=?, cause=?, message=?, observed=?, updated_at=?"
            " WHERE cmd_id=?",
            (state, cause, message, encoded, now, cmd_id),
        )
        if before is not None:
            future.add_done_callback(lambda f: self._settled(cmd_id, entry, f))

    def _settled(self, cmd_id: str, entry: JournalEntry, future: Future[None]) -> None:
        del future  # committed or failed: either way the file is now the truth
        with self._lock:
            if self._pending.get(cmd_id) is entry:
                del self._pending[cmd_id]

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every update so far is on disk."""
        return self._writer.flush(timeout)

    # -- retention --------------------------------------------------------------------------

    def prune(self, older_than_ns: int, keep_count: int | None = None) -> int:
        """Forget finished commands older than ``older_than_ns`` or past the newest ``keep_count``.

        Waits for the writer and returns how many were deleted.
        """
        limit = self.keep_count if keep_count is None else keep_count

        def delete(conn: sqlite3.Connection) -> int:
            old = conn.execute(
                "DELETE FROM commands WHERE updated_at < ? AND state NOT IN (?, ?)",
                (older_than_ns, *IN_FLIGHT),
            ).rowcount
            extra = conn.execute(
                "DELETE FROM commands WHERE state NOT IN (?, ?) AND cmd_id NOT IN ("
                " SELECT cmd_id FROM commands WHERE state NOT IN (?, ?)"
                " ORDER BY updated_at DESC LIMIT ?)",
                (*IN_FLIGHT, *IN_FLIGHT, limit),
            ).rowcount
            return int(old) + int(extra)

        future = self._writer.call(delete, "journal retention")
        try:
            return future.result(self.begin_timeout_s)
        except Exception:  # counted and logged by the writer; retention retries next time
            return 0

    def prune_now(self) -> int:
        """Apply the retention rule (time and count) now; also done at open, hourly, per 1,000."""
        self._pruned_at = self._clock()
        return self.prune(self._pruned_at - self.keep_ns)


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
