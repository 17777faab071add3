"""The alarm journal: every transition and every act, in SQLite, through one writer thread.

Schema (``alarms.db`` in the hub's data folder):

* ``occurrence`` — one row per occurrence (raised → back to normal): the alarm, its machine,
  area, line, tag, condition, priority and message; ``raised_at``, ``cleared_at`` (condition
  gone), ``acked_at``/``acked_by``, ``ended_at`` (back to normal), all ns UTC and ``NULL`` until
  they happen; the value and limit at the raise; whether it was raised while suppressed by
  design, whether it was shelved at some point, whether it was its machine's first out, and
  the acknowledgement's note.
* ``event`` — one row per transition or act (``raised``, ``cleared``, ``returned``, ``acked``,
  ``shelved``, ``unshelved``, ``shelf_expired``, ``reset``, ``claimed``, ``unclaimed``,
  ``noted``, ``removed``, ``restored``, ``suppressed``, ``unsuppressed``), with who, when, the
  note and the ISA state after it.
* ``state`` — the current state of every alarm that is not plainly normal (msgpack
  :class:`~copilot.protocol.AlarmStatus`), read back when the hub restarts.

Readers (the report, the CLI) open the file with :func:`open_journal`; WAL lets them read while
the hub writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from copilot.storage import Connection, Migration, open_database

MIGRATIONS = (
    Migration(
        1,
        """
        CREATE TABLE IF NOT EXISTS occurrence (
            id          INTEGER PRIMARY KEY,
            alarm       TEXT NOT NULL,
            machine     TEXT NOT NULL,
            area        TEXT NOT NULL DEFAULT '',
            line        TEXT NOT NULL DEFAULT '',
            tag         TEXT NOT NULL,
            condition   TEXT NOT NULL,
            priority    TEXT NOT NULL,
            message     TEXT NOT NULL DEFAULT '',
            raised_at   INTEGER NOT NULL,
            cleared_at  INTEGER,
            acked_at    INTEGER,
            acked_by    TEXT,
            ended_at    INTEGER,
            value       REAL,
            limit_value REAL,
            suppressed  INTEGER NOT NULL DEFAULT 0,
            shelved     INTEGER NOT NULL DEFAULT 0,
            first_out   INTEGER NOT NULL DEFAULT 0,
            note        TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX IF NOT EXISTS occurrence_raised ON occurrence (raised_at);
        CREATE INDEX IF NOT EXISTS occurrence_alarm ON occurrence (alarm, raised_at);
        CREATE TABLE IF NOT EXISTS event (
            id          INTEGER PRIMARY KEY,
            occurrence  INTEGER,
            alarm       TEXT NOT NULL,
            machine     TEXT NOT NULL,
            area        TEXT NOT NULL DEFAULT '',
            at          INTEGER NOT NULL,
            event       TEXT NOT NULL,
            who         TEXT NOT NULL DEFAULT '',
            note        TEXT NOT NULL DEFAULT '',
            state       TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX IF NOT EXISTS event_at ON event (at);
        CREATE TABLE IF NOT EXISTS state (
            alarm       TEXT PRIMARY KEY,
            body        BLOB NOT NULL
        );
        """,
        "alarm journal",
    ),
)


def journal_path(data_path: Path) -> Path:
    """The alarm journal of a hub whose data folder is ``data_path``."""
    return data_path / "alarms.db"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One row of ``occurrence``: an alarm from its raise until it was back to normal."""

    id: int
    alarm: str
    machine: str
    area: str
    line: str
    tag: str
    condition: str
    priority: str
    message: str
    raised_at: int
    cleared_at: int | None
    acked_at: int | None
    acked_by: str | None
    ended_at: int | None
    value: float | None
    limit: float | None
    suppressed: bool
    shelved: bool
    first_out: bool
    note: str


_COLUMNS = (
    "id, alarm, machine, area, line, tag, condition, priority, message, raised_at, cleared_at,"
    " acked_at, acked_by, ended_at, value, limit_value, suppressed, shelved, first_out, note"
)


def open_journal(path: Path) -> Connection:
    """Open a journal for reading (creating an empty one if there is none yet)."""
    return open_database(path, MIGRATIONS)


def read_occurrences(
    conn: Connection,
    since: int = 0,
    until: int = 0,
    prefix: str = "",
    limit: int = 0,
    newest_first: bool = False,
) -> list[Occurrence]:
    """Occurrences raised in ``[since, until)`` (ns; 0 = open) on machines starting ``prefix``."""
    sql = f"SELECT {_COLUMNS} FROM occurrence WHERE raised_at >= ?"
    params: list[object] = [since]
    if until:
        sql += " AND raised_at < ?"
        params.append(until)
    if prefix:
        sql += " AND substr(machine, 1, ?) = ?"
        params += [len(prefix), prefix]
    sql += " ORDER BY raised_at DESC, id DESC" if newest_first else " ORDER BY raised_at, id"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return [
        Occurrence(
            id=int(r[0]),
            alarm=str(r[1]),
            machine=str(r[2]),
            area=str(r[3]),
            line=str(r[4]),
            tag=str(r[5]),
            condition=str(r[6]),
            priority=str(r[7]),
            message=str(r[8]),
            raised_at=int(r[9]),
            cleared_at=None if r[10] is None else int(r[10]),
            acked_at=None if r[11] is None else int(r[11]),
            acked_by=None if r[12] is None else str(r[12]),
            ended_at=None if r[13] is None else int(r[13]),
            value=None if r[14] is None else float(r[14]),
            limit=None if r[15] is None else float(r[15]),
            suppressed=bool(r[16]),
            shelved=bool(r[17]),
            first_out=bool(r[18]),
            note=str(r[19]),
        )
        for r in conn.execute(sql, params)
    ]
