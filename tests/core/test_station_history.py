"""History answers in parts: one HistoryArrived per request, with every part; errors matched."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.bus import Bus, Security
from copilot.protocol import ErrorReply, HistoryReply, Series
from copilot.settings import StationSettings
from copilot.station import Event, HistoryArrived, LinkState, Station
from copilot.station import history as history_module
from copilot.station.history import HistoryAssembler
from tests.helpers import CountingAgent, InProcessHub, free_hub_address, wait_until

SMALL_REPLY = 4096 + 18 * 60  # the hub's parts then hold about 60 points each


class Rig:
    """A real hub with small replies, an agent that has published a few hundred samples, a
    station, and the history events the station's listeners heard."""

    def __init__(self, data_dir: Path, **hub_settings: object) -> None:
        self.since = time.time() - 1  # later than this, the hub answers from its full tier
        self.hub = InProcessHub(data_dir, max_reply_bytes=SMALL_REPLY, **hub_settings)
        self.agent = CountingAgent(data_dir, self.hub.address, period_s=0.005)
        self.bus = Bus(Security.from_data_path(data_dir, "station", False))
        self.station = Station(self.bus, self.hub.address, StationSettings(hub_status_every_s=0))
        self.events: list[HistoryArrived] = []
        self._lock = threading.Lock()
        self.station.add_listener(self._heard)
        self.station.start()

    def _heard(self, event: Event) -> None:
        if isinstance(event, HistoryArrived):
            with self._lock:
                self.events.append(event)

    def answers(self, request_id: int) -> list[HistoryArrived]:
        with self._lock:
            return [e for e in self.events if e.request_id == request_id]

    def answer(self, request_id: int) -> HistoryArrived:
        wait_until(lambda: self.answers(request_id), 10, f"the answer to request {request_id}")
        return self.answers(request_id)[0]

    def close(self) -> None:
        self.station.stop()
        self.bus.close()
        self.agent.close()
        self.hub.close()


@pytest.fixture
def rig(data_dir: Path) -> Iterator[Rig]:
    r = Rig(data_dir, max_history_tags=5)
    try:
        wait_until(lambda: r.agent.count >= 300, 20, "the agent to publish 300 counts")
        r.agent.close()  # the window is complete and no longer moves
        wait_until(lambda: r.station.state == LinkState.LIVE, 10, "station live")
        yield r
    finally:
        r.close()


def test_an_answer_in_several_parts_arrives_as_one_event_with_every_sample(rig: Rig) -> None:
    request_id = rig.station.request_history("mixer-1", ["count", "temp", "nosuch"], rig.since)
    event = rig.answer(request_id)
    reply = event.reply
    assert isinstance(reply, HistoryReply), reply
    assert event.parts > 3  # it really came in parts, and they were joined
    assert [s.tag for s in reply.series] == ["count", "temp", "nosuch"]
    count, temp, nosuch = reply.series
    # Every count the agent published, once, in order: no part lost, none doubled (the
    # agent's DEATH ends the history with one gap marker).
    assert math.isnan(count.v[-1]) and math.isnan(temp.v[-1])
    counts, temps = count.v[:-1], temp.v[:-1]
    assert len(counts) >= 300
    assert counts == [float(n) for n in range(1, len(counts) + 1)]
    assert temps == [20.0 + n % 40 for n in range(1, len(temps) + 1)]
    assert all(a < b for a, b in zip(count.t, count.t[1:], strict=False))
    assert len(count.t) == len(count.v) and len(temp.t) == len(temp.v) == len(count.v)
    assert nosuch.t == [] and nosuch.tier == "none"
    assert not event.truncated and not reply.truncated
    assert reply.last and reply.part == 0 and reply.request_id == request_id
    wait_until(lambda: rig.station.history.waiting == 0, 5, "nothing left waiting")
    assert len(rig.answers(request_id)) == 1  # exactly one event for the request


def test_concurrent_requests_each_get_their_own_whole_answer(rig: Rig) -> None:
    tags = ("count", "temp") * 3
    ids = [rig.station.request_history("mixer-1", [tag], rig.since) for tag in tags]
    replies = [rig.answer(i).reply for i in ids]
    assert all(isinstance(r, HistoryReply) for r in replies)
    lengths = {len(r.series[0].v) for r in replies if isinstance(r, HistoryReply)}
    assert len(lengths) == 1 and lengths.pop() > 300
    assert [r.series[0].tag for r in replies if isinstance(r, HistoryReply)] == [
        "count",
        "temp",
    ] * 3


def test_an_error_reply_answers_the_request_it_names(rig: Rig) -> None:
    good = rig.station.request_history("mixer-1", ["count"], rig.since)
    unknown = rig.station.request_history("nosuch-9", ["count"], rig.since)
    too_many = rig.station.request_history("mixer-1", [f"t{i}" for i in range(6)], rig.since)
    error = rig.answer(unknown).reply
    assert isinstance(error, ErrorReply) and error.code == "unknown_machine"
    assert error.request_id == unknown
    limited = rig.answer(too_many).reply
    assert isinstance(limited, ErrorReply) and limited.code == "history_too_big"
    assert "At most 5 tags" in limited.message
    assert isinstance(rig.answer(good).reply, HistoryReply)
    assert rig.station.stats.hub_errors == 0  # every error found its request
    assert not rig.answers(0)


def test_a_truncated_answer_says_so(data_dir: Path) -> None:
    rig = Rig(data_dir, max_history_samples=200)
    try:
        wait_until(lambda: rig.agent.count >= 300, 20, "the agent to publish 300 counts")
        wait_until(lambda: rig.station.state == LinkState.LIVE, 10, "station live")
        request_id = rig.station.request_history("mixer-1", ["count", "temp"], rig.since)
        event = rig.answer(request_id)
        assert isinstance(event.reply, HistoryReply)
        assert event.truncated and event.reply.truncated
        assert all(len(s.t) <= 100 for s in event.reply.series)
    finally:
        rig.close()


# -- the assembler's bounds, without sockets ----------------------------------------------------


def part(rid: int, n: int, last: bool, *series: Series, truncated: bool = False) -> HistoryReply:
    return HistoryReply(
        machine="m", series=list(series), request_id=rid, part=n, last=last, truncated=truncated
    )


def test_a_tag_split_across_parts_is_joined_in_order_and_truncated_is_passed_on() -> None:
    asm = HistoryAssembler()
    asm.expect(4, "m")
    assert asm.on_reply(part(4, 0, False, Series("a", [1, 2], [1.0, 2.0]))) is None
    assert asm.on_reply(part(4, 1, False, Series("a", [3], [3.0]), Series("b", [1], [9.0]))) is None
    done = asm.on_reply(part(4, 2, True, Series("b", [2], [8.0]), truncated=True))
    assert done is not None and done.parts == 3 and done.truncated
    assert isinstance(done.reply, HistoryReply)
    assert [(s.tag, s.t, s.v) for s in done.reply.series] == [
        ("a", [1, 2, 3], [1.0, 2.0, 3.0]),
        ("b", [1, 2], [9.0, 8.0]),
    ]
    assert asm.waiting == 0


def test_a_missing_part_fails_the_request_instead_of_joining_a_hole() -> None:
    asm = HistoryAssembler()
    asm.expect(1, "m")
    asm.on_reply(part(1, 0, False, Series("a", [1], [1.0])))
    failed = asm.on_reply(part(1, 2, True, Series("a", [3], [3.0])))
    assert failed is not None and isinstance(failed.reply, ErrorReply)
    assert failed.reply.code == "history_incomplete" and failed.reply.request_id == 1
    assert asm.on_reply(part(1, 3, True)) is None and asm.unexpected == 1


def test_a_request_that_hears_nothing_times_out() -> None:
    now = [100.0]
    asm = HistoryAssembler(clock=lambda: now[0])
    asm.expect(1, "m")
    asm.expect(2, "m")
    asm.on_reply(part(2, 0, False, Series("a", [1], [1.0])))
    assert asm.expire(100.0 + history_module.PART_TIMEOUT_S - 1) == []
    now[0] += 10  # request 2 heard a part later than request 1 was sent
    asm.on_reply(part(2, 1, False, Series("a", [2], [2.0])))
    late = asm.expire(100.0 + history_module.PART_TIMEOUT_S + 1)
    assert [e.request_id for e in late] == [1]
    assert isinstance(late[0].reply, ErrorReply) and late[0].reply.code == "history_timeout"
    assert asm.waiting == 1


def test_waiting_requests_and_held_points_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_module, "MAX_PENDING", 3)
    monkeypatch.setattr(history_module, "MAX_POINTS", 5)
    asm = HistoryAssembler()
    assert asm.expect(1, "m") == [] and asm.expect(2, "m") == [] and asm.expect(3, "m") == []
    pushed = asm.expect(4, "m")
    assert [e.request_id for e in pushed] == [1] and asm.waiting == 3
    assert isinstance(pushed[0].reply, ErrorReply)
    assert pushed[0].reply.code == "history_abandoned"
    asm.on_reply(part(2, 0, False, Series("a", [1, 2, 3], [0.0] * 3)))
    big = asm.on_reply(part(2, 1, False, Series("a", [4, 5, 6], [0.0] * 3)))
    assert big is not None and isinstance(big.reply, ErrorReply)
    assert big.reply.code == "history_too_big" and asm.waiting == 2


def test_errors_match_waiting_requests_only_and_a_lost_link_answers_every_request() -> None:
    asm = HistoryAssembler()
    asm.expect(7, "m")
    asm.expect(8, "m")
    assert asm.on_error(ErrorReply(code="x", message="other", request_id=99)) is None
    matched = asm.on_error(ErrorReply(code="unknown_machine", message="No", request_id=7))
    assert matched is not None and matched.request_id == 7
    lost = asm.abandon("replaced")
    assert [e.request_id for e in lost] == [8] and asm.waiting == 0
    # A whole answer nobody waits for (an older hub, another client's id) still reaches views.
    whole = asm.on_reply(part(5, 0, True, Series("a", [1], [1.0])))
    assert whole is not None and whole.parts == 1


def test_a_request_the_link_cannot_send_is_answered_at_once(data_dir: Path) -> None:
    bus = Bus(Security.from_data_path(data_dir, "station", False))
    station = Station(bus, free_hub_address(), StationSettings(hub_status_every_s=0))
    heard: list[HistoryArrived] = []
    station.add_listener(lambda e: heard.append(e) if isinstance(e, HistoryArrived) else None)
    station.start()
    try:
        request_id = station.request_history("mixer-1", ["count"], 0.0)
        wait_until(lambda: heard, 5, "the request to be answered")
        assert [e.request_id for e in heard] == [request_id]
        assert isinstance(heard[0].reply, ErrorReply)
        assert heard[0].reply.code == "hub_unreachable"
        assert station.history.waiting == 0
    finally:
        station.stop()
        bus.close()
