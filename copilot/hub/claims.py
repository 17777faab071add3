"""Which key spoke first for a machine id: bindings from the allow-list, first claims on file.

A key bound to machine ids in the allow-list (``copilot keys allow --machines``) speaks for
those and nothing else. A key without a binding may claim an id no other key holds; the first
claim is kept in the hub's SQLite database (``<data>/hub.db``, table ``claims``), written by
that database's :class:`~copilot.storage.Writer` thread (never on the hub's I/O thread), so a
restarted hub still knows who holds what.

What is durable when: a claim is recorded once the hub has accepted the claiming BIRTH. From
then on it holds in this hub's memory at once; it is on disk (WAL, ``synchronous=FULL``: it
survives a kill -9 or a power cut) once the writer's next commit returns, normally within a
few milliseconds. A hub killed inside that window forgets the claim, and the id is free again
for the first key that sends a BIRTH for it after the restart (the real owner's agent, which
redials at once, usually). Nothing else the hub does waits for that commit.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from copilot.storage import Connection, Migration, WriteFailed, Writer, open_database

log = logging.getLogger(__name__)


class Bindings(Protocol):
    """Who may speak for which machine, as the allow-list says."""

    def may_speak_for(self, user: str, machine_id: str) -> bool | None:
        """True: bound to it; False: not allowed (bound elsewhere); None: the key has no binding."""


class AllowListBindings:
    """:class:`Bindings` over the allow-list's ``machines`` patterns (``role:name`` users).

    ``source`` returns the current allow-list (re-read when its file changes); a key whose
    entry has no ``machines`` has no binding. An id bound to some key is refused to every
    unbound key too.
    """

    def __init__(self, source: Callable[[], Any]) -> None:
        self._source = source

    def may_speak_for(self, user: str, machine_id: str) -> bool | None:
        """See :class:`Bindings`."""
        allow = self._source()
        native = getattr(allow, "may_speak_for", None)
        if native is not None:
            found = native(user, machine_id)
            if found is not None:
                return bool(found)
        mine: list[str] | None = None
        bound_elsewhere = False
        for key in getattr(allow, "keys", ()):
            patterns = list(getattr(key, "machines", None) or ())
            if f"{key.role}:{key.name}" == user:
                mine = patterns or None
            elif any(fnmatch.fnmatchcase(machine_id, p) for p in patterns):
                bound_elsewhere = True
        if mine is not None:
            return any(fnmatch.fnmatchcase(machine_id, p) for p in mine)
        return False if bound_elsewhere else None


MIGRATIONS = (
    Migration(
        1,
        """
        CREATE TABLE IF NOT EXISTS claims (
            machine TEXT PRIMARY KEY,
            key     TEXT NOT NULL,
            at      INTEGER NOT NULL
        );
        """,
        "claims",
    ),
)


def claims_path(data_path: Path) -> Path:
    """The hub's database, which holds the first claims."""
    return data_path / "hub.db"


class ClaimBook:
    """First claims of machine ids by unbound keys, persisted off the caller's thread.

    ``path`` is the hub's database (``None``: kept in memory only). Opening it applies the
    schema migrations and reads every claim, on the caller's thread; a file written by a newer
    release raises :class:`~copilot.storage.StorageError` (one sentence) before anything else
    happens. :meth:`record` only queues the row (see the module docstring for when it is
    durable); write errors are logged and counted in :attr:`write_errors`, never raised.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.claims: dict[str, str] = {}
        self.write_errors = 0
        self._writer: Writer | None = None
        if path is None:
            return
        reader = open_database(path, MIGRATIONS)
        try:
            self.claims = dict(_read_rows(reader))
        finally:
            reader.close()
        self._writer = Writer(path, MIGRATIONS, "hub", on_error=self._failed)

    def _failed(self, failure: WriteFailed) -> None:
        self.write_errors += 1  # logged by the writer; called on its thread

    def holder(self, machine_id: str) -> str | None:
        """The key that claimed ``machine_id``, if any."""
        return self.claims.get(machine_id)

    def record(self, machine_id: str, user: str) -> None:
        """Remember a first claim now; the row is committed soon, by the writer thread."""
        self.claims[machine_id] = user
        if self._writer is not None:
            row = (machine_id, user, time.time_ns())
            # The first claim stays the claim: a row already there is never replaced.
            self._writer.submit(
                "INSERT OR IGNORE INTO claims (machine, key, at) VALUES (?, ?, ?)", row
            )

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every claim recorded so far is on disk (for tests and shutdown)."""
        return True if self._writer is None else self._writer.flush(timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Commit what is pending and stop the writer thread (safe to call twice)."""
        if self._writer is not None:
            self._writer.close(timeout)


def _read_rows(conn: Connection) -> list[tuple[str, str]]:
    return [(str(m), str(k)) for m, k in conn.execute("SELECT machine, key FROM claims")]
