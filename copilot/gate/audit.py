"""The audit trail: every request, decision, signature, log-in and admin act, hash-chained.

One SQLite file, ``<data>/audit.db``, table ``audit``. Rows are numbered 1, 2, 3… with no gaps
(``seq``) and never changed: triggers refuse ``UPDATE`` and ``DELETE``. Each row carries the
SHA-256 of the row before it (``prev``; 64 zeros for row 1) and its own ``hash``, the SHA-256
of the canonical JSON (:func:`canonical`) of ``[seq, at, kind, user, name, station, machine,
area, command, cmd_id, meaning, outcome, detail, prev]``, where ``detail`` is the stored
canonical JSON text of the entry's details. Whoever appends reads the last row inside the same
write transaction, so the hub (through its storage :class:`~copilot.storage.Writer`) and
``copilot users`` (its own connection, ``BEGIN IMMEDIATE``) can append at once and the chain
stays whole. A row is on disk (WAL, ``synchronous=FULL``) once its append returns or its future
resolves: it survives a kill -9 or a power cut.

After each commit the appender also writes the newest ``seq`` and ``hash`` to
``<data>/audit.head`` (atomically, best effort), so :func:`verify` can tell that rows were cut
off the end, which the chain alone cannot show.

What :func:`verify` detects, reading the file as it is: a row edited (its hash no longer
matches), deleted (a gap in ``seq``, or the next row's ``prev`` wrong), inserted (a wrong
``prev``, a repeated ``seq`` or a wrong hash), the triggers dropped, and — when
``audit.head`` is there — the last rows deleted. What it cannot detect: a person who can write
the file and recomputes every hash from the edited row on *and* rewrites ``audit.head`` (the
chain has no secret key), or who deletes the newest rows and the head file together. Copies
exported to another machine (``copilot audit export``) are the defence against those.

Kinds (free strings; these are the ones the gate writes): :data:`KINDS`. ``meaning`` is a
signature's meaning (21 CFR 11.50): ``performed``, ``approved``, ``reviewed`` or empty.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from copilot.storage import Connection, Migration, StorageError, Writer, open_database

MIGRATIONS = (
    Migration(
        1,
        """
        CREATE TABLE IF NOT EXISTS audit (
            seq     INTEGER PRIMARY KEY,
            at      INTEGER NOT NULL,
            kind    TEXT NOT NULL,
            user    TEXT NOT NULL DEFAULT '',
            name    TEXT NOT NULL DEFAULT '',
            station TEXT NOT NULL DEFAULT '',
            machine TEXT NOT NULL DEFAULT '',
            area    TEXT NOT NULL DEFAULT '',
            command TEXT NOT NULL DEFAULT '',
            cmd_id  TEXT NOT NULL DEFAULT '',
            meaning TEXT NOT NULL DEFAULT '',
            outcome TEXT NOT NULL DEFAULT '',
            detail  TEXT NOT NULL DEFAULT '{}',
            prev    TEXT NOT NULL,
            hash    TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
        CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
        BEGIN
            SELECT RAISE(ABORT, 'audit rows are append-only');
        END;
        CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
        BEGIN
            SELECT RAISE(ABORT, 'audit rows are append-only');
        END;
        """,
        "audit trail",
    ),
)

TRIGGERS = ("audit_no_update", "audit_no_delete")
GENESIS = "0" * 64

KINDS = (
    "login",
    "login_refused",
    "logout",
    "lockout",
    "session_locked",
    "refused",
    "signature",
    "approval_requested",
    "approved",
    "denied",
    "approval_expired",
    "dispatched",
    "status",
    "result",
    "cancelled",
    "authority",
    "alarm_act",
    "anomaly_feedback",
    "user_admin",
)

Meaning = Literal["performed", "approved", "reviewed", ""]
MEANINGS: tuple[Meaning, ...] = ("performed", "approved", "reviewed", "")

_COLUMNS = (
    "seq, at, kind, user, name, station, machine, area, command, cmd_id, meaning, outcome,"
    " detail, prev, hash"
)


def audit_path(data_path: Path) -> Path:
    """The audit trail of a hub whose data folder is ``data_path``."""
    return data_path / "audit.db"


def head_path(path: Path) -> Path:
    """The head file next to the audit trail ``path`` (``audit.db`` → ``audit.head``)."""
    return path.with_suffix(".head")


def canonical(value: object) -> str:
    """JSON with sorted keys and no spaces: the text that details are stored and hashed as."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def row_hash(values: Iterable[object]) -> str:
    """The hex SHA-256 of a row's 14 hashed values (``seq`` … ``detail``, ``prev``)."""
    return hashlib.sha256(canonical(list(values)).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """What happened, as the appender says it; ``seq``, ``prev`` and ``hash`` come on append.

    ``at`` is ns UTC (0: the time :meth:`AuditTrail.append` is called); ``name`` the acting
    person's printed name; ``detail`` a JSON object (never a secret).
    """

    kind: str
    at: int = 0
    user: str = ""
    name: str = ""
    station: str = ""
    machine: str = ""
    area: str = ""
    command: str = ""
    cmd_id: str = ""
    meaning: Meaning = ""
    outcome: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One stored row; ``detail`` is its canonical JSON text (:meth:`details` parses it)."""

    seq: int
    at: int
    kind: str
    user: str
    name: str
    station: str
    machine: str
    area: str
    command: str
    cmd_id: str
    meaning: str
    outcome: str
    detail: str
    prev: str
    hash: str

    def details(self) -> dict[str, Any]:
        """``detail`` as a dict (empty if it is not a JSON object)."""
        try:
            value = json.loads(self.detail)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def _values(entry: AuditEntry) -> tuple[object, ...]:
    """The entry's stored values from ``at`` to ``detail`` (checked on the caller's thread)."""
    if not entry.kind:
        raise ValueError("An audit entry needs a kind.")
    if entry.meaning not in MEANINGS:
        raise ValueError(
            f"{entry.meaning!r} is not a signature meaning: use performed, approved or reviewed."
        )
    detail = canonical(dict(entry.detail))  # TypeError: not JSON
    return (
        entry.at or time.time_ns(),
        entry.kind,
        entry.user,
        entry.name,
        entry.station,
        entry.machine,
        entry.area,
        entry.command,
        entry.cmd_id,
        entry.meaning,
        entry.outcome,
        detail,
    )


def _insert(conn: Connection, values: tuple[object, ...]) -> tuple[int, str]:
    """Append one row after the last one; call inside a write transaction."""
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (1, GENESIS) if last is None else (int(last[0]) + 1, str(last[1]))
    digest = row_hash((seq, *values, prev))
    conn.execute(
        f"INSERT INTO audit ({_COLUMNS}) VALUES ({', '.join('?' * 15)})",
        (seq, *values, prev, digest),
    )
    return seq, digest


class AuditTrail:
    """Appends to the audit trail at ``path``.

    With ``writer`` (a :class:`~copilot.storage.Writer` on ``path``, made with
    :data:`MIGRATIONS`; the hub's) :meth:`append` goes through the writer thread; the writer
    stays the caller's to close. :meth:`append_now` (the CLI's) writes through this object's
    own connection and returns once the row is committed.
    """

    def __init__(self, path: Path, writer: Writer | None = None) -> None:
        if writer is not None and writer.path != path:
            raise ValueError(f"The writer writes {writer.path}, not the audit trail {path}.")
        self.path = path
        self._writer = writer
        self._conn: Connection | None = None
        self._conn_lock = threading.Lock()
        self._head_lock = threading.Lock()
        self._pending = (0, "")  # (seq, hash) of the newest row the writer thread inserted
        self._head_seq = 0  # the seq audit.head holds, as far as this process wrote it
        if writer is None:
            self._conn = open_database(path, MIGRATIONS)

    def close(self) -> None:
        """Close this object's own connection (not the writer)."""
        with self._conn_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def append(self, entry: AuditEntry) -> Future[int]:
        """Queue ``entry``; the future gives its ``seq`` once it is committed.

        Without a writer the row is written at once (as :meth:`append_now`). A bad entry (no
        kind, an unknown meaning, details that are not JSON) raises here, on the caller's thread.
        """
        values = _values(entry)
        if self._writer is None:
            done: Future[int] = Future()
            try:
                done.set_result(self._append_values(values))
            except Exception as exc:
                done.set_exception(exc)
            return done

        def run(conn: Connection) -> int:
            self._pending = _insert(conn, values)  # one assignment: read whole by _committed
            return self._pending[0]

        future = self._writer.call(run, f"audit {entry.kind}")
        future.add_done_callback(self._committed)
        return future

    def append_now(self, entry: AuditEntry) -> int:
        """Write ``entry`` in its own transaction on this object's connection; its ``seq``."""
        return self._append_values(_values(entry))

    def _append_values(self, values: tuple[object, ...]) -> int:
        with self._conn_lock:
            if self._conn is None:
                self._conn = open_database(self.path, MIGRATIONS)
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                seq, digest = _insert(conn, values)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self._write_head(seq, digest)
        return seq

    def _committed(self, future: Future[int]) -> None:
        # After the commit (normally on the writer thread): only a batch's last row writes.
        seq, digest = self._pending
        if future.exception() is None and future.result() == seq:
            self._write_head(seq, digest)

    def _write_head(self, seq: int, digest: str) -> None:
        with self._head_lock:
            if seq <= self._head_seq:
                return
            target = head_path(self.path)
            temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            try:
                temporary.write_text(f"{seq} {digest}\n", encoding="ascii")
                os.replace(temporary, target)
            except OSError:  # best effort: verify then checks the chain without the head
                return
            self._head_seq = seq


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What :func:`verify` found: ``ok``, the rows read, the first bad row (0: none) and why."""

    ok: bool
    rows: int
    first_bad_seq: int
    sentence: str
    last_at: int = 0


def _open(path: Path) -> Connection:
    if not path.is_file():
        raise StorageError(f"There is no audit trail at {path}.")
    return open_database(path)


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _read_head(path: Path) -> tuple[int, str] | None:
    try:
        seq, digest = head_path(path).read_text(encoding="ascii").split()
        return int(seq), digest
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def verify(path: Path) -> VerifyResult:
    """Check the whole chain of the audit trail at ``path`` (see the module docstring).

    Raises :class:`~copilot.storage.StorageError` if the file is missing or not a database.
    The trail is read as it is now; rows appended meanwhile are checked next time.
    """
    conn = _open(path)
    try:
        try:
            return _verify(conn, path)
        except conn.Error as exc:
            raise StorageError(f"Cannot read the audit trail {path}: {exc}.") from None
    finally:
        conn.close()


def _broken(rows: int, seq: int, what: str) -> VerifyResult:
    return VerifyResult(False, rows, seq, f"audit trail broken at row #{seq}: {what}")


def _verify(conn: Connection, path: Path) -> VerifyResult:
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'"
    ).fetchone()
    if has_table is None:
        return _broken(0, 1, "the audit table is gone")
    head = _read_head(path)  # before the rows: a row committed after this is not yet in it
    expected, prev, rows, last_at, head_hash = 1, GENESIS, 0, 0, ""
    for row in conn.execute(f"SELECT {_COLUMNS} FROM audit ORDER BY seq"):
        seq = int(row[0])
        if seq < expected:
            return _broken(rows, seq, f"row #{seq} appears twice (a row was inserted)")
        if seq > expected:
            missing = f"#{expected}" if seq == expected + 1 else f"#{expected} to #{seq - 1}"
            return _broken(rows, expected, f"row {missing} is missing (deleted)")
        if row[13] != prev:
            return _broken(
                rows,
                seq,
                f"row #{seq} does not follow row #{seq - 1} (a row before it was removed, "
                "inserted or rewritten)",
            )
        try:
            good = row_hash(row[:14]) == row[14]
        except (TypeError, ValueError):  # a value no row could hold (a blob, say)
            good = False
        if not good:
            return _broken(rows, seq, f"row #{seq} was changed (its hash does not match it)")
        if head is not None and seq == head[0]:
            head_hash = str(row[14])
        rows, prev, expected = rows + 1, str(row[14]), seq + 1
        last_at = row[1] if isinstance(row[1], int) else 0  # a forged row may hold anything
    if head is not None and head[0] > rows:
        return _broken(
            rows,
            rows + 1,
            f"the trail ends at #{rows} but {head_path(path).name} records #{head[0]} "
            "(the newest rows were deleted)",
        )
    if head is not None and head_hash != head[1]:
        return _broken(
            rows,
            head[0],
            f"row #{head[0]} is not the row {head_path(path).name} recorded (the trail was "
            "rewritten up to there)",
        )
    triggers = {
        str(r[0])
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'"
        )
    }
    if missing_triggers := [t for t in TRIGGERS if t not in triggers]:
        return VerifyResult(
            False,
            rows,
            0,
            f"audit trail rows are chained ({rows} rows) but its append-only triggers were "
            f"removed ({', '.join(missing_triggers)}): someone edited the file",
            last_at,
        )
    if rows == 0:
        return VerifyResult(True, 0, 0, "audit trail intact: 0 rows")
    return VerifyResult(
        True, rows, 0, f"audit trail intact: {rows} rows, last #{rows} at {_when(last_at)}", last_at
    )


def query(
    source: Path | Connection,
    since: int = 0,
    until: int = 0,
    machine: str = "",
    user: str = "",
    kind: str = "",
    limit: int = 0,
) -> list[AuditRow]:
    """Rows with ``since <= at < until`` (ns; 0: open), newest first.

    ``machine`` matches ids starting with it (``press-``); ``user`` and ``kind`` match exactly;
    ``limit`` 0 returns all. ``source`` is a file (:class:`~copilot.storage.StorageError` if
    it is missing) or an open connection.
    """
    sql = f"SELECT {_COLUMNS} FROM audit WHERE at >= ?"
    params: list[object] = [since]
    if until:
        sql += " AND at < ?"
        params.append(until)
    if machine:
        sql += " AND substr(machine, 1, ?) = ?"
        params += [len(machine), machine]
    if user:
        sql += " AND user = ?"
        params.append(user)
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    sql += " ORDER BY seq DESC"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    conn = _open(source) if isinstance(source, Path) else source
    try:
        try:
            found = conn.execute(sql, params).fetchall()
        except conn.Error as exc:
            raise StorageError(f"Cannot read the audit trail: {exc}.") from None
    finally:
        if isinstance(source, Path):
            conn.close()
    return [_row(r) for r in found]


def _row(r: tuple[Any, ...]) -> AuditRow:
    return AuditRow(int(r[0]), int(r[1]), *(str(v) for v in r[2:15]))


CSV_COLUMNS = (
    "seq",
    "time",
    "kind",
    "user",
    "name",
    "station",
    "machine",
    "area",
    "command",
    "cmd_id",
    "meaning",
    "outcome",
    "signature",
    "detail",
    "hash",
)


def iso(ns: int) -> str:
    """A time as ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds")


def export_csv(rows: Iterable[AuditRow], out: TextIO) -> int:
    """Write ``rows`` (in the order given) as CSV with a header row; the number written.

    A signature row's ``signature`` column reads ``printed name, time, meaning`` (21 CFR 11.50).
    """
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        when = iso(row.at)
        signature = f"{row.name or row.user}, {when}, {row.meaning}" if row.meaning else ""
        writer.writerow(
            [
                row.seq,
                when,
                row.kind,
                row.user,
                row.name,
                row.station,
                row.machine,
                row.area,
                row.command,
                row.cmd_id,
                row.meaning,
                row.outcome,
                signature,
                row.detail,
                row.hash,
            ]
        )
        count += 1
    return count
