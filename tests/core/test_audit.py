"""The audit trail: append-only, hash-chained; verify names the first row edited, deleted or
inserted straight in the SQLite file; two writers keep one chain; a kill -9 loses nothing
committed."""

from __future__ import annotations

import csv
import io
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.gate.audit import (
    GENESIS,
    MIGRATIONS,
    AuditEntry,
    AuditTrail,
    audit_path,
    export_csv,
    head_path,
    query,
    row_hash,
    verify,
)
from copilot.storage import StorageError, Writer

T0 = 1_800_000_000 * 10**9
S = 10**9


@pytest.fixture
def path(data_dir: Path) -> Path:
    return audit_path(data_dir)


def entry(i: int, **fields: object) -> AuditEntry:
    values: dict[str, object] = {
        "kind": "request",
        "at": T0 + i * S,
        "user": "ana",
        "name": "Ana Lima",
        "station": "station-1",
        "machine": f"press-{i % 3:02d}",
        "command": "start",
        "outcome": "ok",
        "detail": {"i": i},
    }
    values.update(fields)
    return AuditEntry(**values)


def fill(path: Path, count: int) -> None:
    trail = AuditTrail(path)
    try:
        for i in range(1, count + 1):
            assert trail.append_now(entry(i)) == i
    finally:
        trail.close()


@pytest.fixture
def tamper(path: Path) -> Iterator[sqlite3.Connection]:
    """The file opened the way a person with an SQLite tool would, triggers dropped."""
    fill(path, 10)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    try:
        yield conn
    finally:
        conn.close()


def test_an_intact_chain_passes(path: Path) -> None:
    fill(path, 10)
    result = verify(path)
    assert result.ok and result.rows == 10 and result.first_bad_seq == 0
    assert result.sentence.startswith("audit trail intact: 10 rows, last #10 at ")
    assert result.last_at == T0 + 10 * S
    rows = list(reversed(query(path)))
    assert [r.seq for r in rows] == list(range(1, 11))
    assert rows[0].prev == GENESIS
    for before, row in itertools.pairwise(rows):
        assert row.prev == before.hash
    first = rows[0]
    assert first.hash == row_hash(
        [1, T0 + S, "request", "ana", "Ana Lima", "station-1", "press-01", "", "start", "", "",
         "ok", '{"i":1}', GENESIS]
    )  # fmt: skip


def test_an_empty_trail_is_intact_and_a_missing_one_is_an_error(path: Path) -> None:
    with pytest.raises(StorageError, match="There is no audit trail at"):
        verify(path)
    assert not path.exists()  # verify never creates one
    AuditTrail(path).close()
    result = verify(path)
    assert result.ok and result.rows == 0 and result.sentence == "audit trail intact: 0 rows"


def test_the_file_refuses_updates_and_deletes(path: Path) -> None:
    fill(path, 3)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="audit rows are append-only"):
            conn.execute("UPDATE audit SET outcome = 'refused' WHERE seq = 2")
        with pytest.raises(sqlite3.DatabaseError, match="audit rows are append-only"):
            conn.execute("DELETE FROM audit WHERE seq = 3")
    finally:
        conn.close()
    assert verify(path).ok


def test_verify_names_an_edited_row(path: Path, tamper: sqlite3.Connection) -> None:
    tamper.execute("UPDATE audit SET outcome = 'refused' WHERE seq = 4")
    result = verify(path)
    assert not result.ok and result.first_bad_seq == 4
    assert result.sentence == (
        "audit trail broken at row #4: row #4 was changed (its hash does not match it)"
    )
    assert result.rows == 3


@pytest.mark.parametrize(
    "edit",
    [
        """UPDATE audit SET detail = '{"i": 7}' WHERE seq = 7""",  # same meaning, other text
        "UPDATE audit SET at = CAST(at AS BLOB) WHERE seq = 7",  # a value no row holds
    ],
)
def test_verify_names_a_row_edited_without_changing_what_it_says(
    path: Path, tamper: sqlite3.Connection, edit: str
) -> None:
    tamper.execute(edit)
    result = verify(path)
    assert not result.ok and result.first_bad_seq == 7


def test_verify_names_a_deleted_row(path: Path, tamper: sqlite3.Connection) -> None:
    tamper.execute("DELETE FROM audit WHERE seq = 4")
    result = verify(path)
    assert not result.ok and result.first_bad_seq == 4
    assert "row #4 is missing (deleted)" in result.sentence


def test_verify_names_a_deleted_row_even_when_the_rest_is_renumbered(
    path: Path, tamper: sqlite3.Connection
) -> None:
    tamper.execute("DELETE FROM audit WHERE seq = 4")
    tamper.execute("UPDATE audit SET seq = seq - 1 WHERE seq > 4")
    result = verify(path)
    assert not result.ok and result.first_bad_seq == 4
    assert "row #4 does not follow row #3" in result.sentence


def _shift_from(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute("UPDATE audit SET seq = seq + 1000 WHERE seq >= ?", (seq,))
    conn.execute("UPDATE audit SET seq = seq - 999 WHERE seq >= 1000")


def test_verify_names_an_inserted_row(path: Path, tamper: sqlite3.Connection) -> None:
    _shift_from(tamper, 5)
    # A copy of row 3 put in as row 5: its hash is row 3's.
    tamper.execute(
        "INSERT INTO audit SELECT 5, at, kind, user, name, station, machine, area, command,"
        " cmd_id, meaning, outcome, detail, prev, hash FROM audit WHERE seq = 3"
    )
    result = verify(path)
    assert not result.ok and result.first_bad_seq == 5
    assert result.rows == 4


def test_a_forged_row_with_a_good_hash_breaks_the_link_of_the_row_after_it(
    path: Path, tamper: sqlite3.Connection
) -> None:
    _shift_from(tamper, 5)
    prev = tamper.execute("SELECT hash FROM audit WHERE seq = 4").fetchone()[0]
    values = [5, T0 + 4 * S + 1, "approved", "boss", "The Boss", "station-9", "press-01", "",
              "start", "", "approved", "ok", "{}", prev]  # fmt: skip
    tamper.execute(
        "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*values, row_hash(values)),
    )
    result = verify(path)
    assert not result.ok and result.first_bad_seq == 6
    assert "row #6 does not follow row #5" in result.sentence


def test_a_row_appended_with_a_bad_hash_is_named(path: Path, tamper: sqlite3.Connection) -> None:
    tamper.execute(
        "INSERT INTO audit SELECT 11, at, kind, user, name, station, machine, area, command,"
        " cmd_id, meaning, 'forged', detail, hash, hash FROM audit WHERE seq = 10"
    )
    result = verify(path)
    assert not result.ok and result.first_bad_seq == 11


def test_the_head_file_shows_the_newest_rows_were_deleted(
    path: Path, tamper: sqlite3.Connection
) -> None:
    assert head_path(path).read_text().split()[0] == "10"
    tamper.execute("DELETE FROM audit WHERE seq >= 9")
    tamper.execute("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT 1; END")
    tamper.execute("CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT 1; END")
    result = verify(path)
    assert not result.ok and result.first_bad_seq == 9
    assert "the trail ends at #8 but audit.head records #10" in result.sentence
    # Without the head file the chain alone cannot tell (as the module docstring says).
    head_path(path).unlink()
    assert verify(path).ok


def test_the_head_file_shows_a_rewritten_chain(path: Path, tamper: sqlite3.Connection) -> None:
    # Rewrite rows 4… with recomputed hashes: the chain is whole again, the head is not.
    rows = tamper.execute("SELECT * FROM audit WHERE seq >= 4 ORDER BY seq").fetchall()
    prev = tamper.execute("SELECT hash FROM audit WHERE seq = 3").fetchone()[0]
    tamper.execute("DELETE FROM audit WHERE seq >= 4")
    for row in rows:
        values = [*row[:11], "refused", row[12], prev]
        prev = row_hash(values)
        tamper.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, prev),
        )
    result = verify(path)
    assert not result.ok and result.first_bad_seq == 10
    assert "row #10 is not the row audit.head recorded" in result.sentence


def test_dropped_triggers_alone_fail_verify(path: Path, tamper: sqlite3.Connection) -> None:
    result = verify(path)
    assert not result.ok and result.first_bad_seq == 0 and result.rows == 10
    assert "append-only triggers were removed" in result.sentence


def test_the_chain_holds_across_the_writer_thread_and_another_connection(path: Path) -> None:
    writer = Writer(path, MIGRATIONS, "audit")
    hub = AuditTrail(path, writer)
    cli = AuditTrail(path)
    futures = []
    cli_seqs: list[int] = []

    def from_the_cli() -> None:
        for i in range(40):
            cli_seqs.append(cli.append_now(entry(i, kind="user_admin", user="root")))

    thread = threading.Thread(target=from_the_cli)
    try:
        thread.start()
        futures = [hub.append(entry(i)) for i in range(200)]
        thread.join(30)
        assert not thread.is_alive()
        hub_seqs = [f.result(30) for f in futures]
        assert writer.flush(30)
    finally:
        cli.close()
        writer.close()
    assert sorted(hub_seqs + cli_seqs) == list(range(1, 241))
    assert hub_seqs == sorted(hub_seqs) and cli_seqs == sorted(cli_seqs)
    result = verify(path)
    assert result.ok and result.rows == 240, result.sentence
    assert int(head_path(path).read_text().split()[0]) <= 240


def test_append_without_a_writer_resolves_at_once_and_bad_entries_fail_on_the_caller(
    path: Path,
) -> None:
    trail = AuditTrail(path)
    try:
        assert trail.append(entry(1)).result(0) == 1
        with pytest.raises(ValueError, match="not a signature meaning"):
            trail.append(entry(2, meaning="signed"))
        with pytest.raises(TypeError):
            trail.append(entry(2, detail={"when": object()}))
        with pytest.raises(ValueError, match="needs a kind"):
            trail.append_now(entry(2, kind=""))
    finally:
        trail.close()
    assert verify(path).rows == 1
    other = Writer(path.with_name("other.db"), MIGRATIONS, "other")
    try:
        with pytest.raises(ValueError, match=r"writes .*other\.db, not the audit trail"):
            AuditTrail(path, other)
    finally:
        other.close()


def test_query_filters_newest_first(path: Path) -> None:
    fill(path, 12)
    trail = AuditTrail(path)
    try:
        trail.append_now(entry(13, kind="login", user="bob", machine=""))
    finally:
        trail.close()
    assert [r.seq for r in query(path, limit=3)] == [13, 12, 11]
    assert [r.seq for r in query(path, since=T0 + 3 * S, until=T0 + 6 * S)] == [5, 4, 3]
    assert [r.seq for r in query(path, machine="press-01")] == [10, 7, 4, 1]
    assert [r.seq for r in query(path, machine="press-")] == list(range(12, 0, -1))
    assert [r.seq for r in query(path, user="bob")] == [13]
    assert [r.seq for r in query(path, kind="login")] == [13]
    row = query(path, kind="request", limit=1)[0]
    assert row.details() == {"i": 12} and row.detail == '{"i":12}'
    conn = sqlite3.connect(path)
    try:
        assert [r.seq for r in query(conn, user="ana", limit=2)] == [12, 11]
    finally:
        conn.close()


def test_export_shows_signatures_with_printed_name_time_and_meaning(path: Path) -> None:
    trail = AuditTrail(path)
    try:
        trail.append_now(entry(1))
        trail.append_now(entry(2, kind="signature", name="Ana Lima", meaning="performed"))
        trail.append_now(entry(3, kind="approved", user="bo", name="Bo Berg", meaning="approved"))
    finally:
        trail.close()
    out = io.StringIO()
    assert export_csv(reversed(query(path)), out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["seq"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["signature"] == ""
    assert rows[1]["signature"] == "Ana Lima, 2027-01-15T08:00:02.000+00:00, performed"
    assert rows[2]["signature"] == "Bo Berg, 2027-01-15T08:00:03.000+00:00, approved"
    assert rows[2]["detail"] == '{"i":3}' and len(rows[2]["hash"]) == 64


APPENDER = """
import sys
from pathlib import Path
from copilot.gate.audit import MIGRATIONS, AuditEntry, AuditTrail
from copilot.storage import Writer

path = Path(sys.argv[1])
writer = Writer(path, MIGRATIONS, "audit")
trail = AuditTrail(path, writer)
i = 0
while True:
    i += 1
    futures = [trail.append(AuditEntry(kind="status", user="agent", detail={"i": i, "k": k}))
               for k in range(5)]
    print(max(f.result() for f in futures), flush=True)
"""


def test_kill_9_keeps_every_committed_row_and_the_chain(path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        committed = 0
        while committed < 300:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "the appender ended"
            committed = int(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    result = verify(path)
    assert result.ok, result.sentence
    assert result.rows >= committed
