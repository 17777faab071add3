"""The plant state and the service seam, driven by method calls: no sockets anywhere."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from copilot.hub import (
    Dropped,
    Event,
    MachineBorn,
    MachineOffline,
    Peer,
    PlantState,
    RebirthRequested,
    SamplesIngested,
    Sender,
    Service,
    ServiceHost,
)
from copilot.hub.loopwatch import LoopWatch
from copilot.hub.service import TopicError
from copilot.protocol import (
    Birth,
    Body,
    CommandQuery,
    Data,
    ErrorReply,
    Header,
    Heartbeat,
    MachineInfo,
    TagSpec,
)
from copilot.protocol.columns import pack
from copilot.settings import HubSettings


class Wire:
    """A publisher that keeps what was sent."""

    def __init__(self) -> None:
        self.published: list[tuple[bytes, Body]] = []
        self.replies: list[tuple[bytes, Body]] = []

    def publish(self, topic: bytes, body: Body) -> None:
        self.published.append((topic, body))

    def reply(self, identity: bytes, body: Body) -> bool:
        self.replies.append((identity, body))
        return True


class Counter(Service):
    """A toy service: counts samples per machine, publishes on t/, adds to snapshots."""

    name = "counter"
    handles = (CommandQuery,)
    topics = (b"t/",)

    def __init__(self) -> None:
        self.samples: dict[str, int] = {}
        self.fail_on: str = ""
        self.ticks = 0

    def on_event(self, event: Event) -> None:
        if isinstance(event, SamplesIngested):
            if event.machine == self.fail_on:
                raise RuntimeError("boom")
            self.samples[event.machine] = self.samples.get(event.machine, 0) + event.values.size
            self.publisher.publish(b"t/" + event.machine.encode() + b"/", Heartbeat())

    def tick(self, now: float) -> None:
        self.ticks += 1
        if self.fail_on == "tick":
            raise ValueError("tick failed")

    def handle(self, sender: Sender, body: Body) -> Sequence[Event]:
        if self.fail_on == "handle":
            raise KeyError("handler failed")
        self.publisher.publish(b"h/", Heartbeat())  # not its topic family: refused
        return ()

    def snapshot(self, prefix: str) -> Sequence[Body]:
        return [
            ErrorReply(code="count", message=f"{mid}={n}")
            for mid, n in sorted(self.samples.items())
            if mid.startswith(prefix)
        ]


def birth(mid: str = "m1", tags: int = 2, heartbeat_ms: int = 1000, names: str = "t") -> Birth:
    return Birth(
        machine=MachineInfo(id=mid, name=mid.upper(), kind="x"),
        tags=[TagSpec(name=f"{names}{i}", alias=i) for i in range(tags)],
        heartbeat_ms=heartbeat_ms,
    )


def header(seq: int, mid: str = "m1", epoch: int = 1) -> Header:
    return Header(src=mid, epoch=epoch, seq=seq, ts=0)


def data(aliases: list[int], values: object, ts: object) -> Data:
    return pack(aliases, values, (np.asarray(ts) * 1e9).astype(np.int64))


class Clock:
    def __init__(self) -> None:
        self.mono = 1000.0

    def __call__(self) -> float:
        return self.mono


Rig = tuple[PlantState, ServiceHost, "Counter", Wire, Clock]


@pytest.fixture
def rig() -> Rig:
    clock = Clock()
    plant = PlantState(HubSettings(), mono=clock)
    toy = Counter()
    wire = Wire()
    host = ServiceHost([toy], plant, wire)
    return plant, host, toy, wire, clock


def test_events_in_snapshot_contribution_out(rig: Rig) -> None:
    plant, host, toy, wire, _clock = rig
    now = time.time()
    born = plant.birth(b"a", "agent:a", header(0), birth(), b"")
    assert [type(e) for e in born] == [MachineBorn]
    host.emit(born)
    got = plant.data(b"a", header(1), data([0, 1, 0], [1.0, 2.0, 3.0], [now] * 3), b"raw")
    ingested = [e for e in got if isinstance(e, SamplesIngested)]
    assert len(ingested) == 1 and ingested[0].raw == b"raw"
    assert ingested[0].aliases.tolist() == [0, 1, 0] and ingested[0].values.dtype == np.float64
    host.emit(got)
    assert toy.samples == {"m1": 3}
    assert wire.published == [(b"t/m1/", Heartbeat())]
    contribution = host.snapshot("m")
    assert contribution == [ErrorReply(code="count", message="m1=3")]
    assert host.snapshot("zz") == []
    state = plant.machines["m1"]
    assert state.table.value[0] == 3.0 and state.table.value[1] == 2.0


def test_a_failing_service_is_counted_and_the_others_and_the_loop_go_on(rig: Rig) -> None:
    plant, _host, toy, wire, _clock = rig
    healthy = Counter()
    healthy.name = "healthy"
    healthy.handles = ()
    host = ServiceHost([toy, healthy], plant, wire)
    now = time.time()
    host.emit(plant.birth(b"a", "agent:a", header(0), birth(), b""))
    toy.fail_on = "m1"
    for seq in range(1, 4):
        host.emit(plant.data(b"a", header(seq), data([0], [seq], [now]), b""))
    assert host.errors["counter"] == 3
    assert healthy.samples == {"m1": 3}  # the other service heard every event
    toy.fail_on = "tick"
    host.tick(1.0)
    host.tick(1.1)
    assert host.errors["counter"] == 5 and healthy.ticks == 2
    toy.fail_on = "handle"
    sender = Sender(b"s", "station:s", "station", header(0, "station:s"))
    assert host.handle(sender, CommandQuery(cmd_id="x")) == []
    assert host.errors["counter"] == 6
    toy.fail_on = ""
    host.handle(sender, CommandQuery(cmd_id="x"))  # publishes outside its topic family
    assert host.errors["counter"] == 7
    assert all(topic.startswith(b"t/") for topic, _ in wire.published)
    with pytest.raises(TopicError):
        toy.publisher.publish(b"m/m1/", Heartbeat())


class Slow(Counter):
    """A toy service whose tick holds the loop for ``hold`` seconds of the watch's clock."""

    name = "slow"
    handles = ()

    def __init__(self, clock: Clock, hold: float) -> None:
        super().__init__()
        self.clock, self.hold = clock, hold

    def tick(self, now: float) -> None:
        self.clock.mono += self.hold


def test_the_work_that_held_the_loop_is_named_counted_and_its_worst_kept(rig: Rig) -> None:
    plant, _host, toy, wire, clock = rig
    watch = LoopWatch(slow_ms=50, clock=clock)
    slow = Slow(clock, 0.3)
    host = ServiceHost([toy, slow], plant, wire, watch=watch)
    host.tick(1.0)
    slow.hold = 0.08
    host.tick(1.1)
    slow.hold = 0.01  # under the slow mark: its worst stays 300 ms, its count 2
    host.tick(1.2)
    slow_slices, worst_ms = watch.status()
    assert slow_slices == {"tick:slow": 2}  # the quick toy never counted as slow
    assert worst_ms == {"tick:slow": 300.0}
    host.emit(plant.birth(b"a", "agent:a", header(0), birth(), b""))
    assert watch.status()[0] == {"tick:slow": 2}  # hearing events took no (fake) time


def test_rebirth_with_changed_aliases_rebuilds_the_rings(rig: Rig) -> None:
    plant, *_ = rig
    now = time.time()
    plant.birth(b"a", "agent:a", header(0), birth(tags=2), b"")
    plant.data(b"a", header(1), data([0, 1], [1.0, 2.0], [now, now]), b"")
    reborn = Birth(
        machine=MachineInfo(id="m1", name="M1", kind="x"),
        tags=[TagSpec(name=f"t{i}", alias=10 + i) for i in range(3)],
    )
    plant.birth(b"a", "agent:a", header(0, epoch=2), reborn, b"")
    events = plant.data(
        b"a",
        header(1, epoch=2),
        data([10, 11, 12], [5.0, 6.0, 7.0], [now + 1] * 3),
        b"",
    )
    assert not [e for e in events if isinstance(e, Dropped)]
    state = plant.machines["m1"]
    assert state.table.display_value(12) == 7.0
    assert state.rings.window(12)[1].tolist() == [7.0]
    assert state.rebirths == 1


def test_samples_in_the_future_or_at_zero_are_refused_and_history_is_untouched(rig: Rig) -> None:
    plant, *_ = rig
    now = time.time()
    plant.birth(b"a", "agent:a", header(0), birth(tags=1), b"")
    plant.data(b"a", header(1), data([0] * 5, [1, 2, 3, 4, 5], now - 5 + np.arange(5)), b"")
    year = 365 * 86400
    events = plant.data(
        b"a",
        header(2),
        data([0, 0, 0], [99.0, 98.0, 6.0], [now + year, 0.0, now + 0.5]),
        b"raw",
    )
    drops = {e.reason: e.count for e in events if isinstance(e, Dropped)}
    assert drops == {"samples_future": 1, "samples_zero": 1}
    ingested = [e for e in events if isinstance(e, SamplesIngested)]
    assert ingested[0].values.tolist() == [6.0] and ingested[0].raw != b"raw"  # re-packed
    state = plant.machines["m1"]
    assert state.table.value[0] == 6.0
    t, v = state.rings.window(0)
    assert v.tolist() == [1, 2, 3, 4, 5, 6.0] and t.max() < now + 1
    only_bad = plant.data(b"a", header(3), data([0], [50.0], [now + year]), b"")
    assert not [e for e in only_bad if isinstance(e, SamplesIngested)]
    assert state.drops["samples_future"] == 2 and state.table.value[0] == 6.0


def test_a_sequence_number_going_backwards_reapplies_nothing(rig: Rig) -> None:
    plant, *_ = rig
    now = time.time()
    plant.birth(b"a", "agent:a", header(0), birth(tags=1), b"")
    plant.data(b"a", header(1), data([0], [1.0], [now]), b"")
    plant.data(b"a", header(2), data([0], [2.0], [now + 0.1]), b"")
    replay = plant.data(b"a", header(1), data([0], [1.0], [now]), b"")
    assert [e.reason for e in replay if isinstance(e, Dropped)] == ["seq_backwards"]
    assert not [e for e in replay if isinstance(e, SamplesIngested)]
    assert plant.machines["m1"].table.value[0] == 2.0
    assert plant.machines["m1"].rings.window(0)[1].tolist() == [1.0, 2.0]


def test_a_declared_huge_heartbeat_is_clamped_and_the_machine_still_times_out(rig: Rig) -> None:
    plant, _host, _toy, _wire, clock = rig
    settings = plant.settings
    events = plant.birth(b"a", "agent:a", header(0), birth(heartbeat_ms=10**12), b"")
    assert [e.reason for e in events if isinstance(e, Dropped)] == ["heartbeat_clamped"]
    born = next(e for e in events if isinstance(e, MachineBorn))
    assert born.birth.heartbeat_ms == settings.max_heartbeat_ms and born.raw  # re-encoded
    limit = settings.liveness * settings.max_heartbeat_ms / 1000
    assert plant.check_liveness(clock.mono + limit - 1) == []
    offline = plant.check_liveness(clock.mono + limit + 1)
    assert [type(e) for e in offline] == [MachineOffline]
    zero = plant.birth(b"b", "agent:a", header(0, "m2"), birth("m2", heartbeat_ms=0), b"")
    assert plant.machines["m2"].heartbeat_ms == settings.min_heartbeat_ms
    assert [e.reason for e in zero if isinstance(e, Dropped)] == ["heartbeat_clamped"]


def test_a_birth_costs_memory_for_the_tags_that_send_not_for_what_it_declares(rig: Rig) -> None:
    plant, *_ = rig
    now = time.time()
    plant.birth(b"a", "agent:a", header(0), birth(tags=5000), b"")
    state = plant.machines["m1"]
    assert state.rings.held_slots == 0
    fast = np.zeros(2000, dtype=np.int64)
    plant.data(
        b"a", header(1), data(fast.tolist(), [1.0] * 2000, now - 2 + np.arange(2000) / 1000), b""
    )
    plant.data(b"a", header(2), data([1, 2], [1.0, 2.0], [now, now]), b"")
    caps = state.rings.cap
    assert caps[0] >= 2000 and caps[1] == caps[2] == 16 and caps[3:].sum() == 0
    too_many = plant.birth(b"a", "agent:a", header(0, "m2"), birth("m2", tags=5001), b"")
    assert [e.reason for e in too_many if isinstance(e, Dropped)] == ["too_many_tags"]
    assert "m2" not in plant.machines


def test_unknown_sessions_are_asked_to_rebirth_at_a_bounded_rate(rig: Rig) -> None:
    plant, _host, _toy, _wire, clock = rig
    first = plant.heartbeat(b"x", header(5, "ghost"))
    assert [type(e) for e in first] == [RebirthRequested]
    assert plant.heartbeat(b"x", header(6, "ghost")) == []
    clock.mono += 3
    plant.prune(clock.mono)
    assert [type(e) for e in plant.heartbeat(b"x", header(7, "ghost"))] == [RebirthRequested]


def test_command_statuses_count_only_from_the_session_the_command_was_routed_to() -> None:
    from copilot.hub import CommandService, CommandSettled
    from copilot.protocol import Command, CommandStatus

    plant = PlantState(HubSettings(gate=False))  # plain routing (the gate: test_gate.py)
    wire = Wire()
    commands = CommandService(plant.settings)
    host = ServiceHost([commands], plant, wire)
    host.emit(plant.birth(b"agent-a", "agent:a", header(0), birth(), b""))
    station = Sender(b"st", "station:s", "station", header(0, "station:s"))
    cmd = Command(cmd_id="c1", machine="m1", name="stop", not_after=time.time_ns() + 10**10)
    host.emit(host.handle(station, cmd))
    assert (b"agent-a", cmd) in wire.replies  # routed to the session's connection

    def status(key: str, epoch: int, seq: int, state: str = "COMPLETED") -> list[Event]:
        sender = Sender(b"x", key, "agent", header(seq, epoch=epoch))
        body = CommandStatus(cmd_id="c1", machine="m1", state=state)  # type: ignore[arg-type]
        return host.handle(sender, body)

    forged = status("agent:b", 1, 1)  # another key, right epoch
    assert [e.reason for e in forged if isinstance(e, Dropped)] == ["status_not_owner"]
    older = status("agent:a", 0, 2)  # the owner's key, another epoch
    assert [e.reason for e in older if isinstance(e, Dropped)] == ["status_not_owner"]
    assert commands.commands["c1"].status.state == "SENT"
    accepted = status("agent:a", 1, 3, "EXECUTING")
    assert [e.status.state for e in accepted if isinstance(e, CommandSettled)] == ["EXECUTING"]
    assert (b"c/m1/", commands.commands["c1"].status) in wire.published
    host.emit(plant.mark_offline(plant.machines["m1"], "timeout"))
    assert commands.commands["c1"].status.state == "UNKNOWN"
    assert plant.machines["m1"].drops["status_not_owner"] == 2


def test_text_values_follow_their_samples_and_are_cut_to_the_string_limit(rig: Rig) -> None:
    import msgspec

    plant, *_ = rig
    now = time.time()
    text_birth = Birth(
        machine=MachineInfo(id="m1", name="M1", kind="x"),
        tags=[TagSpec(name="note", alias=0, type="str"), TagSpec(name="n", alias=1)],
    )
    plant.birth(b"a", "agent:a", header(0), text_birth, b"")
    body = data([0, 1, 0], [np.nan, 1.0, np.nan], [now + 10**6, now, now])
    body.text = {0: "from the future", 2: "x" * 5000}
    events = plant.data(b"a", header(1), body, b"raw")
    drops = sorted(e.reason for e in events if isinstance(e, Dropped))
    assert drops == ["samples_future", "string_too_long"]
    limit = plant.settings.max_string_len
    assert plant.machines["m1"].table.text[0] == "x" * limit
    [ingested] = [e for e in events if isinstance(e, SamplesIngested)]
    forwarded = msgspec.msgpack.decode(ingested.raw, type=Data)
    assert forwarded.text == {1: "x" * limit}  # renumbered to the kept samples, cut


def test_the_peer_book_believes_only_what_a_key_may_say(tmp_path: Path) -> None:
    from copilot.hub import ClaimBook, PeerBook
    from copilot.protocol import CommandStatus, SnapshotRequest

    settings = HubSettings(max_machines_per_key=2)
    claims = ClaimBook(tmp_path / "hub.db")
    book = PeerBook(settings, secure=True, claims=claims)
    plant = PlantState(settings)
    now_ns = time.time_ns()
    owner, intruder = book.peer("agent:owner", 10, 0.0), book.peer("agent:evil", 11, 0.0)
    station = book.peer("station:panel", 12, 0.0)
    b = birth()

    def refusal(peer: Peer, body: Body, src: str = "m1", epoch: int = now_ns) -> str:
        return book.refusal(
            peer, Header(src=src, epoch=epoch, seq=0, ts=0), body, plant.machines, now_ns
        )

    assert refusal(owner, b) == ""
    plant.birth(b"o", owner.key, header(0, epoch=now_ns), b, b"")
    book.claim(owner, "m1")
    assert refusal(intruder, b) == "foreign_machine"
    assert refusal(intruder, Heartbeat()) == "foreign_machine"
    assert refusal(intruder, CommandStatus(cmd_id="c", machine="m1", state="COMPLETED"), "m2") == (
        "foreign_machine"
    )
    assert refusal(owner, b, epoch=2**64 - 1) == "epoch_future"
    assert refusal(station, b) == "role"
    assert refusal(station, Heartbeat()) == "role"  # names a machine
    assert refusal(station, Heartbeat(), src="station:panel") == ""
    assert refusal(station, SnapshotRequest()) == ""
    assert refusal(owner, SnapshotRequest()) == "role"
    # A key holds at most max_machines_per_key ids.
    book.claim(intruder, "e1")
    book.claim(intruder, "e2")
    assert refusal(intruder, birth("e3"), "e3") == "machine_limit" and intruder.refused_claims == 1
    claims.record("m1", "agent:late")  # a first claim stays the first claim, on disk too
    claims.close()
    reread = ClaimBook(tmp_path / "hub.db")
    assert reread.holder("m1") == "agent:owner" and reread.holder("e2") == "agent:evil"
    reread.close()
    # After a restart the first claim still protects the id, before its owner is back.
    restarted = PeerBook(settings, secure=True, claims=reread)
    evil = restarted.peer("agent:evil", 5, 0.0)
    assert restarted.refusal(evil, Header(src="m1", epoch=1, seq=0, ts=0), b, {}, now_ns) == (
        "foreign_machine"
    )
    insecure = PeerBook(settings, secure=False)
    anyone = insecure.peer("", -1, 0.0)
    assert insecure.refusal(anyone, Header(src="m1", epoch=2**64 - 1, seq=0, ts=0), b, {}, 0) == ""


def test_revoking_a_key_cuts_only_the_connections_it_was_seen_on() -> None:
    from copilot.hub import PeerBook

    inode = {10: 100, 11: 101, 12: 102}
    book = PeerBook(HubSettings(), secure=True, connection_id=lambda fd: inode.get(fd, -1))
    gone = book.peer("station:gone", 10, 0.0)
    book.peer("station:gone", 11, 0.0)
    book.peer("station:kept", 12, 0.0)
    assert gone.connections == 2
    inode[11] = 555  # fd 11 closed and now carries someone else's connection
    [(peer, fds)] = book.revoke({"station:kept"})
    assert peer.key == "station:gone" and fds == [10]
    assert set(book.peers) == {"station:kept"}
    inode.pop(12)
    book.forget_closed()
    assert book.peers["station:kept"].connections == 0


def test_claims_live_in_the_hub_database_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    from copilot.hub import ClaimBook
    from copilot.storage import StorageError, open_database, schema_version

    path = tmp_path / "hub.db"
    book = ClaimBook(path)
    book.record("m1", "agent:a")
    assert book.flush(5)
    conn = open_database(path)
    rows = conn.execute("SELECT machine, key, at FROM claims").fetchall()
    assert [r[:2] for r in rows] == [("m1", "agent:a")] and rows[0][2] > 0
    assert schema_version(conn) == ("hub", 1)
    book.close()
    conn.execute("UPDATE schema_version SET version = 99")
    conn.close()
    with pytest.raises(StorageError, match="newer version"):
        ClaimBook(path)
