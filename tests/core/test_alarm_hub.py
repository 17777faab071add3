"""Alarms across real processes: one hub, two stations, restarts and kill -9.

The hub runs as its own process (``copilot hub``); a small in-process agent drives a machine's
values so each test decides when a limit is crossed.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import pytest

from copilot.alarms import journal_path, open_journal, read_occurrences
from copilot.protocol import AlarmActReply
from copilot.station import AlarmActed, Station
from tests.helpers import DrivenAgent, Plant, add_person, login, run_cli, wait_until

N_TAGS = 300


def people(plant: Plant) -> None:
    """The people who act here (the hub records who is logged in, not what a client says)."""
    add_person(plant.data_dir, "ana", "Operator", "1111")
    add_person(plant.data_dir, "ben", "Operator", "2222")
    add_person(plant.data_dir, "eve", "Engineer", "3333")


@pytest.fixture
def agent(plant: Plant) -> DrivenAgent:
    people(plant)
    plant.hub()
    a = DrivenAgent(plant)
    yield a  # type: ignore[misc]
    a.close()


def acted(station: Station) -> list[AlarmActReply]:
    """Collect the answers to this station's alarm acts."""
    replies: list[AlarmActReply] = []
    station.add_listener(lambda e: replies.append(e.reply) if isinstance(e, AlarmActed) else None)
    return replies


def state(station: Station, alarm_id: str) -> str:
    s = station.alarms.get(alarm_id)
    return "" if s is None else s.state


HI = "mixer-1/temp_0/hi"
HIHI = "mixer-1/temp_1/hihi"


def test_ack_on_one_station_is_seen_on_the_other_and_survives_a_restart(
    plant: Plant, agent: DrivenAgent, stations: object
) -> None:
    a = stations()  # type: ignore[operator]
    b = stations()  # type: ignore[operator]
    login(a, "ana", "1111")
    login(b, "ben", "2222")
    replies = acted(a)
    agent.set(temp_0=85.0, temp_1=95.0)
    for st in (a, b):
        wait_until(lambda st=st: state(st, HI) == "unack", 15, "both stations see HI")
        wait_until(lambda st=st: state(st, HIHI) == "unack", 15, "both stations see HIHI")

    request = a.act_on_alarms("ack", [HI], "ana", note="cooling water checked")
    wait_until(lambda: any(r.request_id == request for r in replies), 10, "the hub's answer")
    assert [r.done for r in replies if r.request_id == request] == [[HI]]
    # The other station: acknowledged within one update (the hub publishes once committed).
    wait_until(lambda: state(b, HI) == "ack", 2, "station B shows Acknowledged")
    seen = b.alarms.get(HI)
    assert seen is not None and seen.acked_by == "Ana" and seen.note == "cooling water checked"

    b.act_on_alarms("shelve", [HIHI], "ben", note="sensor being replaced", duration_s=600)
    wait_until(lambda: (s := a.alarms.get(HIHI)) is not None and s.shelf is not None, 5, "shelf")
    shelf = a.alarms.get(HIHI).shelf  # type: ignore[union-attr]
    assert shelf is not None and shelf.by == "Ben"

    # Restart the hub: the journal, the acknowledgement and the shelf (with its expiry) remain.
    hub = plant.procs[0]
    hub.send_signal(signal.SIGTERM)
    hub.wait(10)
    plant.hub()
    new_epoch = a.sync.hub_epoch

    def restored(st: Station) -> bool:
        hi, hihi = st.alarms.get(HI), st.alarms.get(HIHI)
        return (
            st.sync.hub_epoch != new_epoch
            and hi is not None
            and hi.state == "ack"
            and hihi is not None
            and hihi.shelf is not None
        )

    wait_until(lambda: restored(b), 20, "station B resynced with the restarted hub")
    hihi = b.alarms.get(HIHI)
    assert hihi is not None and hihi.shelf is not None
    assert hihi.shelf.until == shelf.until and hihi.shelf.reason == "sensor being replaced"
    conn = open_journal(journal_path(plant.data_dir))
    try:
        rows = {o.alarm: o for o in read_occurrences(conn)}
    finally:
        conn.close()
    assert rows[HI].acked_by == "Ana" and rows[HI].note == "cooling water checked"
    assert rows[HIHI].shelved


def test_every_confirmed_ack_survives_kill_9(plant: Plant, stations: object) -> None:
    people(plant)
    plant.hub()
    agent = DrivenAgent(plant, tags=N_TAGS)
    try:
        st = stations()  # type: ignore[operator]
        login(st, "ana", "1111")
        replies = acted(st)
        agent.set_all(85.0)  # a burst: N_TAGS alarms raised at once
        ids = [f"mixer-1/temp_{i}/hi" for i in range(N_TAGS)]
        wait_until(lambda: all(state(st, i) == "unack" for i in ids), 20, "the burst arrived")

        # Acknowledge one alarm per request, paced over ~1.5 s by a sender thread, and kill the
        # hub as soon as the first is confirmed: most are still on their way or uncommitted.
        def send() -> None:
            for i in ids:
                st.act_on_alarms("ack", [i], "ana")
                time.sleep(0.005)  # pacing the sender, not waiting for a condition

        sender = threading.Thread(target=send)
        sender.start()
        wait_until(lambda: len(replies) >= 1, 10, "a first acknowledgement confirmed")
        plant.procs[0].send_signal(signal.SIGKILL)
        plant.procs[0].wait(5)
        confirmed = {i for r in list(replies) for i in r.done}
        sender.join(10)
        assert confirmed, "no acknowledgement was confirmed before the kill"
        # The kill landed mid-burst (else this test would prove nothing about the in-flight).
        assert len(confirmed) < N_TAGS, "every act was confirmed before the kill"
    finally:
        agent.close()
    conn = open_journal(journal_path(plant.data_dir))
    try:
        acked = {o.alarm for o in read_occurrences(conn) if o.acked_at is not None}
        events = {r[0] for r in conn.execute("SELECT alarm FROM event WHERE event = 'acked'")}
    finally:
        conn.close()
    assert confirmed <= acked
    assert confirmed <= events


def test_journal_path_is_the_data_folder(plant: Plant, agent: DrivenAgent) -> None:
    agent.set(temp_0=85.0)
    path: Path = journal_path(plant.data_dir)

    def journaled() -> bool:
        conn = open_journal(path)
        try:
            return any(o.alarm == HI for o in read_occurrences(conn))
        finally:
            conn.close()

    wait_until(journaled, 15, "the raise journaled in <data>/alarms.db")


def test_the_cli_lists_acts_and_exports(plant: Plant, agent: DrivenAgent) -> None:
    agent.set(temp_0=85.0)

    def listed() -> list[dict[str, object]]:
        out = run_cli(plant, "alarms", "list", "--json", "--hub", plant.address)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    wait_until(lambda: any(a["id"] == HI for a in listed()), 15, "the CLI lists the alarm")
    bad = run_cli(plant, "alarms", "shelve", HI, "--hub", plant.address)
    assert bad.returncode == 2 and "--note" in bad.stderr and "Traceback" not in bad.stderr
    unknown = run_cli(plant, "alarms", "ack", "all", "--hub", plant.address)
    assert unknown.returncode == 1 and "Log in" in unknown.stderr  # nobody said who
    done = run_cli(
        plant, "alarms", "ack", "all", "--user", "ana", "--pin", "1111", "--hub", plant.address
    )
    assert done.returncode == 0 and f"ack: {HI}" in done.stdout, done.stderr
    again = run_cli(
        plant, "alarms", "ack", HI, "--user", "ana", "--pin", "1111", "--hub", plant.address
    )
    assert again.returncode == 1 and "already acknowledged" in again.stderr
    # Out of service is an engineer's act: an operator is refused, an engineer may.
    act = ("alarms", "remove", HI, "--note", "probe out", "--hub", plant.address)
    refused = run_cli(plant, *act, "--user", "ana", "--pin", "1111")
    assert refused.returncode == 1 and "Engineer" in refused.stderr, refused.stderr
    removed = run_cli(plant, *act, "--user", "eve", "--pin", "3333")
    assert removed.returncode == 0, removed.stderr
    row = next(a for a in listed() if a["id"] == HI)
    assert row["removed"]["reason"] == "probe out"  # type: ignore[index]
    assert row["acked_by"] == "Ana"
    csv_out = run_cli(plant, "alarms", "export", "--out", "-")
    assert csv_out.returncode == 0, csv_out.stderr
    header, first = csv_out.stdout.splitlines()[:2]
    assert header.startswith("occurrence,alarm,machine")
    assert HI in first and "Ana" in first
