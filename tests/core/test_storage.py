"""Storage: schema migrations, the newer-file sentence, the writer thread, kill -9 survival."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from copilot.storage import (
    CommandJournal,
    Migration,
    StorageError,
    WriteFailed,
    Writer,
    open_database,
    schema_version,
)

STEPS = (
    Migration(1, "CREATE TABLE t (x INTEGER);"),
    Migration(2, "ALTER TABLE t ADD COLUMN y TEXT DEFAULT '';"),
)


def test_migrations_apply_in_order_once_and_record_the_version(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    conn = open_database(path, STEPS[:1])
    conn.execute("INSERT INTO t (x) VALUES (1)")
    assert schema_version(conn) == ("a", 1)
    conn.close()
    conn = open_database(path, STEPS)  # a newer release adds a column to the old file
    assert schema_version(conn) == ("a", 2)
    assert conn.execute("SELECT x, y FROM t").fetchall() == [(1, "")]
    conn.close()
    conn = open_database(path, STEPS)  # nothing left to do: no error, same data
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)
    conn.close()
    with pytest.raises(ValueError, match="in order"):
        open_database(tmp_path / "b.sqlite", (STEPS[1],))


def test_a_file_newer_than_the_code_is_one_sentence_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite"
    open_database(path, STEPS).close()
    before = path.read_bytes()
    with pytest.raises(StorageError) as raised:
        open_database(path, STEPS[:1])
    sentence = str(raised.value)
    assert str(path) in sentence and "newer version" in sentence
    assert "schema 2" in sentence and "knows up to 1" in sentence
    assert "upgrade" in sentence and "move the file aside" in sentence
    assert sentence.count(". ") == 0 and sentence.endswith(".")
    with pytest.raises(StorageError):
        Writer(path, STEPS[:1])
    assert path.read_bytes() == before


def test_writer_batches_what_queues_up_into_one_commit_and_flush_waits(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "w.sqlite", STEPS)
    try:
        release = threading.Event()
        started = threading.Event()

        def hold(conn: sqlite3.Connection) -> str:
            started.set()
            release.wait(10)
            return "held"

        held = writer.call(hold)
        assert started.wait(5)
        futures = [writer.submit("INSERT INTO t (x) VALUES (?)", (i,)) for i in range(200)]
        many = writer.submit_many("INSERT INTO t (x) VALUES (?)", [(i,) for i in range(50)])
        assert not writer.flush(0.05)  # still held: nothing after the call is committed
        release.set()
        assert writer.flush(5)
        assert held.result(0) == "held"
        assert all(f.done() and f.exception() is None for f in [*futures, many])
        assert writer.stats.batches == 2  # the held call, then 201 items in one transaction
        assert writer.stats.largest_batch == 201
        reader = open_database(tmp_path / "w.sqlite", STEPS)
        assert reader.execute("SELECT COUNT(*) FROM t").fetchone() == (250,)
        reader.close()
    finally:
        writer.close()


def test_a_failing_item_fails_alone_and_is_delivered_never_raised(tmp_path: Path) -> None:
    failures: list[WriteFailed] = []
    writer = Writer(tmp_path / "e.sqlite", STEPS, on_error=failures.append)
    try:
        good = writer.submit("INSERT INTO t (x) VALUES (1)")
        bad = writer.submit("INSERT INTO nowhere VALUES (1)")  # returns; never raises here
        also_good = writer.submit("INSERT INTO t (x) VALUES (2)")
        assert writer.flush(5)
        assert good.exception() is None and also_good.exception() is None
        assert isinstance(bad.exception(), sqlite3.OperationalError)
        assert writer.stats.errors == 1 and "nowhere" in writer.stats.last_error
        assert [f.writer for f in failures] == ["e"]
        assert writer.alive
        assert (
            writer.call(lambda c: c.execute("SELECT COUNT(*) FROM t").fetchone()[0]).result(5) == 2
        )
    finally:
        writer.close()
    late = writer.submit("INSERT INTO t (x) VALUES (3)")  # after close: delivered, not raised
    assert isinstance(late.exception(0), StorageError)


def test_journal_records_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "agent.sqlite"
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from copilot.storage import CommandJournal
        j = CommandJournal(Path({str(path)!r}))
        for i in range(40):
            j.begin(f"c{{i}}", "m", "start", {{"i": i}}, time.time_ns() + 10**12)
        for i in range(20):
            j.update(f"c{{i}}", "COMPLETED", message="done")
        j.flush(10)
        j.begin("last", "m", "stop", {{}}, time.time_ns() + 10**12)
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(5) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()
    journal = CommandJournal(path)
    try:
        flying = {e.cmd_id for e in journal.in_flight()}
        assert flying == {f"c{i}" for i in range(20, 40)} | {"last"}  # begin was durable
        done = journal.get("c3")
        assert done is not None and done.state == "COMPLETED"
        assert not journal.begin("last", "m", "stop", {}, 0)  # never started twice
    finally:
        journal.close()


def test_journal_retention_by_time_and_count_keeps_commands_in_flight(tmp_path: Path) -> None:
    now = [10**18]
    journal = CommandJournal(tmp_path / "r.sqlite", keep_s=3600, keep_count=5, clock=lambda: now[0])
    try:
        for i in range(12):
            journal.begin(f"c{i}", "m", "x", {}, 0)
            if i != 0:
                journal.update(f"c{i}", "COMPLETED")
            now[0] += 10**9
        assert journal.flush(5)
        now[0] += 7200 * 10**9  # two hours later: every finished command is past keep_s
        assert journal.prune_now() == 11
        assert journal.get("c0") is not None  # still ACCEPTED: never pruned
        assert all(journal.get(f"c{i}") is None for i in range(1, 12))
        now[0] += 1
        for i in range(12, 20):
            journal.begin(f"c{i}", "m", "x", {}, 0)
            journal.update(f"c{i}", "FAILED")
        assert journal.flush(5)
        journal.prune_now()
        left = [i for i in range(12, 20) if journal.get(f"c{i}") is not None]
        assert left == [15, 16, 17, 18, 19]  # the newest keep_count finished ones
    finally:
        journal.close()


def test_begin_is_durable_before_it_returns(tmp_path: Path) -> None:
    journal = CommandJournal(tmp_path / "d.sqlite")
    try:
        assert journal.begin("x", "m", "start", {}, time.time_ns())
        other = open_database(tmp_path / "d.sqlite")  # another connection sees it at once
        assert other.execute("SELECT state FROM commands WHERE cmd_id='x'").fetchone() == (
            "ACCEPTED",
        )
        other.close()
        assert journal.writer.stats.committed >= 1
    finally:
        journal.close()
