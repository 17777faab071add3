"""Trust boundaries, tried as an attacker holding one admitted key would (issue 7, item 2).

Every test runs a real ``copilot hub`` process with CurveZMQ on, real keys in a temporary data
folder, a real agent that owns ``spindle-1`` and a real station. The attacker is a raw DEALER
(:class:`tests.helpers.RawPeer`) speaking the real codec: well-formed, admitted, hostile. Each
test asserts the safe outcome a user would notice, then that ``copilot hub status --json``
counts the drop by the reason agreed for it.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from copilot.agent import AgentRunner, AgentSession, CommandOutcome
from copilot.bus import Bus, KeyStore, Security
from copilot.protocol import (
    MAX_BODY_BYTES,
    ArgSpec,
    Birth,
    Command,
    CommandSpec,
    CommandStatus,
    ErrorReply,
    Heartbeat,
    HistoryReply,
    HistoryRequest,
    MachineInfo,
    Range,
    RebirthRequest,
    TagSpec,
)
from copilot.protocol.columns import pack
from copilot.settings import StationSettings
from copilot.station import CommandUpdated, LinkState, Station
from copilot.station.client import request_once
from tests.helpers import (
    Plant,
    RawPeer,
    RawSubscriber,
    StationHandle,
    allow_key,
    drops,
    hub_limits,
    hub_status,
    rss_mb,
    run_cli,
    wait_counted,
    wait_until,
)

OWNER = "spindle-1"
TERMINAL = {"REJECTED", "COMPLETED", "FAILED", "EXPIRED", "CANCELLED", "UNKNOWN"}
YEAR_NS = 365 * 24 * 3600 * 10**9
MS = 10**6


class Spindle:
    """The real machine behind ``spindle-1``: counts actuations; can hold a command midway."""

    def __init__(self) -> None:
        self.speed = 0.0
        self.actuations = 0
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()

    def handle(self, cmd: Command) -> CommandOutcome:
        self.entered.set()
        self.hold.wait(10)
        self.actuations += 1
        self.speed = float(cmd.args["rpm"])
        return CommandOutcome(True, "speed set", observed={"speed_rpm": self.speed})


class Owner:
    """The agent that really owns ``spindle-1`` (its own key, its own runner thread)."""

    def __init__(self, security: Security, data_dir: Path, address: str) -> None:
        self.security = security
        self.bus = Bus(security)
        self.address = address
        self.machine = Spindle()
        self.journal = data_dir / "spindle.sqlite"
        self.start()

    def start(self) -> None:
        self.session = AgentSession(
            self.bus,
            self.address,
            MachineInfo(id=OWNER, name="Spindle 1", kind="cnc"),
            [TagSpec(name="speed_rpm", alias=0, unit="rpm")],
            [
                CommandSpec(
                    name="set_speed", args=[ArgSpec(name="rpm", unit="rpm", range=Range(0, 3000))]
                )
            ],
            handler=self.machine.handle,
            journal_path=self.journal,
        )
        self.runner = AgentRunner(
            [self.session], lambda now: self.session.publish({"speed_rpm": self.machine.speed}), 0.1
        )
        self.runner.start()

    def stop(self) -> None:
        self.runner.request_stop()
        self.runner.join(5)

    def close(self) -> None:
        self.machine.hold.set()
        self.stop()
        self.bus.close()


@dataclass
class Rig:
    """A hub process, the owner of ``spindle-1``, one station, and a second agent key."""

    plant: Plant
    owner: Owner
    handle: StationHandle
    intruder: Security  # an admitted agent key bound to nothing
    bound: bool  # whether the owner's key is bound by `--machines` (else: first claim)
    events: list[CommandUpdated] = field(default_factory=list)
    extra: list[Callable[[], None]] = field(default_factory=list)

    @property
    def station(self) -> Station:
        return self.handle.station

    def victim_epoch(self) -> int:
        """The owner's session, as anyone reading the update stream sees it."""
        return next(m.epoch for m in self.station.store.machines() if m.info.id == OWNER)

    def owner_online(self) -> bool:
        return next(m.online for m in self.station.store.machines() if m.info.id == OWNER)

    def peer(self, security: Security) -> RawPeer:
        peer = RawPeer(security, self.plant.address)
        self.extra.append(peer.close)
        return peer

    def station_for(self, identity: str = "station") -> Station:
        handle = StationHandle(self.plant.security(identity), self.plant.address, StationSettings())
        self.extra.append(handle.close)
        return handle.station

    def owner_samples(self, more: int = 10, timeout: float = 10) -> None:
        """Barrier: the station took ``more`` further samples from the owner (10 per second)."""
        start = self.station.store.sample_count(OWNER, "speed_rpm")
        wait_until(
            lambda: self.station.store.sample_count(OWNER, "speed_rpm") >= start + more,
            timeout,
            f"{more} more samples from the owner",
        )

    def command(self, rpm: int, timeout: float = 10) -> str:
        """Send set_speed through the station; wait for its final state."""
        cmd_id = self.station.send_command(OWNER, "set_speed", {"rpm": rpm}, origin="touch")
        self.final(cmd_id, timeout)
        return cmd_id

    def final(self, cmd_id: str, timeout: float = 10) -> CommandStatus:
        wait_until(
            lambda: (
                (s := self.station.store.commands.get(cmd_id)) is not None and s.state in TERMINAL
            ),
            timeout,
            f"command {cmd_id} to finish",
        )
        return self.station.store.commands[cmd_id]

    def history(self, machine: str, tag: str, since_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The hub's history of one tag, as a trend would ask for it."""
        reply = request_once(
            self.plant.security("cli"),
            self.plant.address,
            HistoryRequest(
                machine=machine, tags=[tag], since=int(since_s * 1e9), max_points=100_000
            ),
            5,
        )
        assert isinstance(reply, HistoryReply), reply
        series = reply.series[0]
        return np.asarray(series.t, dtype=np.int64), np.asarray(series.v, dtype=np.float64)


def other_host(tmp_path: Path, data_dir: Path, name: str) -> KeyStore:
    """Keys made on another host that pins our hub's public key."""
    store = KeyStore(tmp_path / name)
    store.init()
    shutil.copy(data_dir / "keys" / "hub.key", store.dir / "hub.key")
    return store


LIMITS = {
    "max_tags_per_machine": 2000,
    "max_machines_per_key": 100,
    "max_message_bytes": 1_000_000,
    "max_string_len": 1024,
    "max_data_columns": 10_000,
    "max_heartbeat_ms": 2000,
    "min_heartbeat_ms": 100,
}


@pytest.fixture
def rig(plant: Plant, data_dir: Path, tmp_path: Path) -> Iterator[Rig]:
    Security.from_data_path(data_dir, "hub", False)  # this host's keys, the local ones admitted
    intruder = other_host(tmp_path, data_dir, "intruder")
    allow_key(plant, intruder.dir / "agent.key", "intruder", "agent")
    press = other_host(tmp_path, data_dir, "press")  # the owner's key, bound to its machine
    bound = allow_key(plant, press.dir / "agent.key", "press", "agent", OWNER)
    plant.hub("--no-gate", env=hub_limits(**LIMITS))  # plain routing: the gate has its own
    owner = Owner(Security(insecure=False, keys=press, identity="agent"), data_dir, plant.address)
    handle = StationHandle(plant.security("station"), plant.address, StationSettings())
    made = Rig(
        plant, owner, handle, Security(insecure=False, keys=intruder, identity="agent"), bound
    )
    made.station.add_listener(
        lambda e: made.events.append(e) if isinstance(e, CommandUpdated) else None
    )
    try:
        handle.wait_live()
        wait_until(
            lambda: (
                OWNER in made.station.store.machine_ids()
                and made.station.store.sample_count(OWNER, "speed_rpm") > 3
            ),
            15,
            "the owner streaming to the station",
        )
        yield made
    finally:
        for close in reversed(made.extra):
            close()
        handle.close()
        owner.close()


def forge_while(busy: Callable[[], bool], forge: Callable[[], None], timeout: float) -> None:
    """Keep forging (every few ms) while ``busy()``; at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while busy() and time.monotonic() < deadline:
        forge()
        time.sleep(0.003)


def own_birth(mid: str, tags: list[TagSpec], heartbeat_ms: int = 1000) -> Birth:
    return Birth(
        machine=MachineInfo(id=mid, name=mid.title(), kind="x"),
        tags=tags,
        heartbeat_ms=heartbeat_ms,
    )


def finite(t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The samples of a history series that hold a value (NaN marks gaps)."""
    keep = np.isfinite(v)
    return t[keep], v[keep]


def values_seen(station: Station, mid: str, tag: str) -> np.ndarray:
    """Every value the station holds for a tag (its ring), as a trend would draw it."""
    _t, v = station.store.window(mid, tag)
    return np.asarray(v)


# -- another key's machine --------------------------------------------------------------------


def test_heartbeats_for_another_keys_machine_move_no_command(rig: Rig) -> None:
    epoch = rig.victim_epoch()
    intruder = rig.peer(rig.intruder)
    seq = 1_000_000

    def forge() -> None:
        nonlocal seq
        for _ in range(3):  # faster than the owner's 10 messages a second
            seq += 1
            intruder.send(Heartbeat(), src=OWNER, epoch=epoch, seq=seq)
        intruder.drain()

    forge()
    for rpm in (100, 200, 300):
        cmd_id = rig.station.send_command(OWNER, "set_speed", {"rpm": rpm}, origin="touch")
        forge_while(lambda c=cmd_id: rig.station.store.commands[c].state not in TERMINAL, forge, 10)
        status = rig.final(cmd_id, 0.1)
        assert status.state == "COMPLETED", status
        assert status.observed == {"speed_rpm": float(rpm)}
    assert rig.owner.machine.actuations == 3
    assert intruder.bodies(Command) == [], "commands were routed to the intruder"
    assert rig.victim_epoch() == epoch and rig.owner_online()
    wait_counted(rig.plant, "foreign_machine", peer="agent:intruder")


def test_a_station_keys_heartbeat_for_a_machine_is_refused(rig: Rig) -> None:
    epoch = rig.victim_epoch()
    panel = rig.peer(rig.plant.security("station"))  # an admitted panel's key
    seq = 1_000_000

    def forge() -> None:
        nonlocal seq
        for _ in range(3):
            seq += 1
            panel.send(Heartbeat(), src=OWNER, epoch=epoch, seq=seq)
        panel.drain()

    for rpm in (100, 200, 300):
        cmd_id = rig.station.send_command(OWNER, "set_speed", {"rpm": rpm})
        forge_while(lambda c=cmd_id: rig.station.store.commands[c].state not in TERMINAL, forge, 10)
        assert rig.final(cmd_id, 0.1).state == "COMPLETED"
    assert rig.owner.machine.actuations == 3
    assert panel.bodies(Command) == [], "commands were black-holed into a station's socket"
    wait_counted(rig.plant, "role", peer="station:station")


def test_birth_and_data_for_another_keys_machine_change_nothing_a_station_sees(rig: Rig) -> None:
    epoch = rig.victim_epoch()
    intruder = rig.peer(rig.intruder)
    fake = Birth(
        machine=MachineInfo(id=OWNER, name="Spindle 1", kind="cnc"),
        tags=[TagSpec(name="speed_rpm", alias=0, unit="rpm"), TagSpec(name="fake", alias=1)],
    )
    now = time.time_ns()
    forged = pack(np.zeros(1), np.array([9999.0]), np.array([now], dtype=np.int64))
    intruder.send(forged, src=OWNER, epoch=epoch, seq=10**6)  # DATA in the owner's session
    intruder.send(fake, src=OWNER, epoch=epoch + 1, seq=0)  # a newer session of its machine
    intruder.send(forged, src=OWNER, epoch=epoch + 1, seq=1)
    rig.owner_samples(10)  # the forgeries went in before these
    [machine] = [m for m in rig.station.store.machines() if m.info.id == OWNER]
    assert machine.epoch == epoch and machine.online
    assert [t.name for t in machine.tags] == ["speed_rpm"]
    assert 9999.0 not in values_seen(rig.station, OWNER, "speed_rpm")
    assert rig.station.store.reading(OWNER, "speed_rpm").value == 0.0  # type: ignore[union-attr]
    _t, v = rig.history(OWNER, "speed_rpm", time.time() - 60)
    assert 9999.0 not in v
    status = rig.final(rig.command(1500))
    assert status.state == "COMPLETED" and rig.owner.machine.actuations == 1
    assert intruder.bodies(Command) == []
    seen = wait_counted(rig.plant, "foreign_machine", at_least=3, peer="agent:intruder")
    assert drops(seen, "foreign_machine", machine=OWNER) >= 3  # counted for the victim too


def test_a_forged_command_status_is_never_shown(rig: Rig) -> None:
    intruder = rig.peer(rig.intruder)
    same_key = rig.peer(rig.owner.security)  # the owner's key, an older session
    epoch = rig.victim_epoch()
    rig.owner.machine.hold.clear()
    cmd_id = rig.station.send_command(OWNER, "set_speed", {"rpm": 1200})
    assert rig.owner.machine.entered.wait(10), "the owner never got the command"

    def forgery(text: str) -> CommandStatus:
        return CommandStatus(
            cmd_id=cmd_id,
            machine=OWNER,
            state="COMPLETED",
            message=text,
            observed={"speed_rpm": 9999.0},
            at=time.time_ns(),
        )

    intruder.send(forgery("forged by another key"), src=OWNER, epoch=epoch, seq=10**6)
    same_key.send(forgery("forged by an old session"), src=OWNER, epoch=epoch - 1, seq=10**6)
    rig.owner.machine.hold.set()  # the real result comes after the forgeries
    status = rig.final(cmd_id)
    rig.command(100)  # barrier: a later command went all the way round
    assert status.state == "COMPLETED" and status.message == "speed set"
    assert status.observed == {"speed_rpm": 1200.0}
    shown = [e.status.message for e in rig.events if e.status.cmd_id == cmd_id]
    assert not any(m.startswith("forged") for m in shown), shown
    assert rig.station.store.commands[cmd_id].message == "speed set"
    wait_counted(rig.plant, "foreign_machine", peer="agent:intruder")
    wait_counted(rig.plant, "status_not_owner", peer="agent:press")


def test_a_birth_with_the_largest_epoch_does_not_lock_the_owner_out(rig: Rig) -> None:
    same_key = rig.peer(rig.owner.security)  # a buggy or hostile copy of the agent
    same_key.send(own_birth(OWNER, [TagSpec(name="speed_rpm", alias=0)]), src=OWNER,
                  epoch=2**64 - 1, seq=0)  # fmt: skip
    rig.owner_samples(5)
    rig.owner.stop()  # the real agent restarts: a new session with today's clock
    rig.owner.start()
    wait_until(
        lambda: (
            rig.owner.session.epoch > 0
            and rig.victim_epoch() == rig.owner.session.epoch
            and rig.owner_online()
        ),
        10,
        "the restarted owner to be online with its own session",
    )
    rig.owner_samples(5)
    assert rig.final(rig.command(700)).state == "COMPLETED"
    assert all(m.epoch < 2**63 for m in rig.station.store.machines())
    wait_counted(rig.plant, "epoch_future", peer="agent:press")


# -- revocation -------------------------------------------------------------------------------


def test_a_revoked_subscribe_only_key_stops_receiving_within_a_second(
    rig: Rig, data_dir: Path, tmp_path: Path
) -> None:
    watcher_keys = other_host(tmp_path, data_dir, "watcher")
    allow_key(rig.plant, watcher_keys.dir / "station.key", "watcher", "station")
    watcher = RawSubscriber(
        Security(insecure=False, keys=watcher_keys, identity="station"), rig.plant.address
    )
    rig.extra.append(watcher.close)
    wait_until(lambda: watcher.drain(0.05) >= 0 and watcher.messages > 20, 15, "watcher reading")
    other = rig.station
    gaps, resyncs, snapshots = other.stats.gaps, other.stats.resyncs, other.stats.snapshots
    changes: list[LinkState] = []
    other.add_listener(lambda e: changes.append(e.state) if hasattr(e, "state") else None)
    done = run_cli(rig.plant, "keys", "revoke", "watcher")
    assert done.returncode == 0, done.stderr
    revoked = time.monotonic()
    while time.monotonic() < revoked + 3.0:
        watcher.drain(0.05)
    assert watcher.last_at <= revoked + 1.0, (
        f"the revoked key still read the plant {watcher.last_at - revoked:.2f} s after revocation"
    )
    rig.owner_samples(10)
    assert other.state == LinkState.LIVE and changes == []
    assert (other.stats.gaps, other.stats.resyncs, other.stats.snapshots) == (
        gaps,
        resyncs,
        snapshots,
    ), "the other station lost data or resynchronised"
    assert rig.final(rig.command(300)).state == "COMPLETED"


# -- sizes and memory -------------------------------------------------------------------------


def sparse_tags(n: int, spread: int = 4) -> list[TagSpec]:
    """``n`` tags whose aliases spread over ``spread * n`` (what a peer claims, not needs)."""
    return [TagSpec(name=f"t{i}", alias=spread * i + spread - 1) for i in range(n)]


@pytest.mark.slow
def test_births_at_each_size_limit_are_refused_past_it_and_memory_stays_bounded(
    rig: Rig,
) -> None:
    hub_pid = rig.plant.procs[0].pid
    intruder = rig.peer(rig.intruder)
    rig.owner_samples(10)
    hub_before, station_before = rss_mb(hub_pid), rss_mb()
    now = time.time_ns()
    at_limit = LIMITS["max_tags_per_machine"]
    intruder.send(own_birth("big-1", sparse_tags(at_limit), 10_000), src="big-1", epoch=now, seq=0)
    intruder.send(
        own_birth("big-2", sparse_tags(at_limit + 1), 10_000), src="big-2", epoch=now, seq=0
    )
    long_text = TagSpec(name="t", alias=0, description="x" * (LIMITS["max_string_len"] + 1))
    intruder.send(own_birth("big-3", [long_text], 10_000), src="big-3", epoch=now, seq=0)
    intruder.send(Heartbeat(), src="h" * 100_000, epoch=now, seq=1)  # a header of 100 kB
    small = own_birth("small-1", [TagSpec(name="t0", alias=0)], 10_000)
    intruder.send(small, src="small-1", epoch=now, seq=0)
    many = LIMITS["max_data_columns"] + 1
    intruder.send(
        pack(np.zeros(many), np.arange(many, dtype=np.float64), np.full(many, now)),
        src="small-1",
        epoch=now,
        seq=1,
    )
    huge = 100_000  # 1.3 MB: under the codec's 4 MB, over the hub's message limit
    intruder.send(
        pack(np.zeros(huge), np.arange(huge, dtype=np.float64), np.full(huge, now)),
        src="small-1",
        epoch=now,
        seq=2,
    )
    rig.owner_samples(20)
    ids = rig.station.store.machine_ids()
    assert "big-2" not in ids, "a BIRTH over the tag limit was accepted"
    assert rig.station.store.sample_count("small-1", "t0") <= 0, "DATA past a limit was applied"
    hub_growth, station_growth = rss_mb(hub_pid) - hub_before, rss_mb() - station_before
    assert hub_growth < 50, f"the hub grew {hub_growth:.0f} MB"
    assert station_growth < 50, f"the station grew {station_growth:.0f} MB"
    for reason in ("too_many_tags", "string_too_long", "header_too_large", "too_many_columns"):
        wait_counted(rig.plant, reason, peer="agent:intruder")
    wait_counted(rig.plant, "too_large")


@pytest.mark.slow
def test_five_thousand_machine_ids_from_one_key_are_refused_past_the_limit(rig: Rig) -> None:
    hub_pid = rig.plant.procs[0].pid
    intruder = rig.peer(rig.intruder)
    rig.owner_samples(10)
    hub_before, station_before = rss_mb(hub_pid), rss_mb()
    tags = [TagSpec(name="t", alias=0)]
    now = time.time_ns()
    for i in range(5000):
        mid = f"fake-{i:04d}"
        intruder.send(own_birth(mid, tags, 10_000), src=mid, epoch=now, seq=0)

    def fakes() -> int:
        return sum(m.startswith("fake-") for m in rig.station.store.machine_ids())

    counts: list[int] = []

    def settled() -> bool:  # the hub took or refused all of them: the count stops moving
        counts.append(fakes())
        time.sleep(0.5)
        return len(counts) > 4 and counts[-1] == counts[-4] and counts[-1] > 0

    wait_until(settled, 60, "the BIRTHs to be handled")
    rig.owner_samples(10)
    assert fakes() <= LIMITS["max_machines_per_key"], f"{fakes()} machine ids taken by one key"
    listed = [m.id for m in rig.plant.machines().machines if m.id.startswith("fake-")]
    assert len(listed) <= LIMITS["max_machines_per_key"]
    hub_growth, station_growth = rss_mb(hub_pid) - hub_before, rss_mb() - station_before
    assert hub_growth < 50, f"the hub grew {hub_growth:.0f} MB"
    assert station_growth < 50, f"the station grew {station_growth:.0f} MB"
    seen = wait_counted(rig.plant, "machine_limit", at_least=4900, peer="agent:intruder")
    [peer] = [p for p in seen["peers"] if p["key"] == "agent:intruder"]
    assert peer["refused_claims"] >= 4900


@pytest.mark.slow
def test_ten_megabytes_of_text_leave_every_other_station_able_to_join(rig: Rig) -> None:
    intruder = rig.peer(rig.intruder)
    tags = [TagSpec(name=f"s{i}", alias=i, type="str") for i in range(12)]
    now = time.time_ns()
    intruder.send(own_birth("label-1", tags, 10_000), src="label-1", epoch=now, seq=0)
    wait_until(lambda: "label-1" in rig.station.store.machine_ids(), 10, "label-1 born")
    piece = "x" * 900_000  # 12 x 0.9 MB: each DATA under the codec's limit, 10.8 MB in total
    for i in range(12):
        body = pack(np.array([i]), np.array([np.nan]), np.array([now + i], dtype=np.int64))
        body.text = {0: piece}
        intruder.send(body, src="label-1", epoch=now, seq=1 + i)
    rig.owner_samples(10)
    late = rig.station_for()
    wait_until(lambda: late.state == LinkState.LIVE, 15, "a station joining after the text")
    assert {OWNER, "label-1"} <= set(late.store.machine_ids())
    assert rig.station.state == LinkState.LIVE
    assert len(rig.plant.machines().machines) == 2  # `copilot machines` still answers
    seen = hub_status(rig.plant)
    assert drops(seen, "string_too_long") + drops(seen, "too_large") >= 1, seen["hub"]["drops"]


# -- time and order ---------------------------------------------------------------------------


def test_samples_a_year_ahead_or_at_zero_are_refused_and_history_is_unaffected(rig: Rig) -> None:
    intruder = rig.peer(rig.intruder)
    now = time.time_ns()
    intruder.send(
        own_birth("clock-1", [TagSpec(name="temp", alias=0)], 10_000),
        src="clock-1",
        epoch=now,
        seq=0,
    )
    t = now - np.arange(100, 0, -1, dtype=np.int64) * 10**9
    good = np.arange(1.0, 101.0)
    intruder.send(pack(np.zeros(100), good, t), src="clock-1", epoch=now, seq=1)
    wait_until(
        lambda: (
            (r := rig.station.store.reading("clock-1", "temp")) is not None and r.value == 100.0
        ),
        10,
        "clock-1's good samples at the station",
    )
    before_t, before_v = finite(*rig.history("clock-1", "temp", now * 1e-9 - 200))
    assert np.isin(t // MS, before_t // MS).all()  # the hub keeps times to well under 1 ms
    intruder.send(
        pack(np.zeros(1), np.array([-1.0]), np.array([time.time_ns() + YEAR_NS])),
        src="clock-1",
        epoch=now,
        seq=2,
    )
    intruder.send(
        pack(np.zeros(960), np.full(960, -2.0), np.zeros(960, dtype=np.int64)),
        src="clock-1",
        epoch=now,
        seq=3,
    )
    mark = time.time_ns()
    intruder.send(
        pack(np.zeros(1), np.array([555.0]), np.array([mark])), src="clock-1", epoch=now, seq=4
    )
    wait_until(
        lambda: (
            (r := rig.station.store.reading("clock-1", "temp")) is not None
            and r.value == 555.0
            and r.good
        ),
        10,
        "the next good sample to show (not one from next year)",
    )
    seen = values_seen(rig.station, "clock-1", "temp")
    assert -1.0 not in seen and -2.0 not in seen
    after_t, after_v = finite(*rig.history("clock-1", "temp", now * 1e-9 - 200))
    assert -1.0 not in after_v and -2.0 not in after_v
    assert after_t.max() <= time.time_ns() and after_t.min() > 0
    kept = np.isin(after_t // MS, before_t // MS)
    assert kept.sum() == before_t.size, "samples at 0 or in the future wiped the history"
    np.testing.assert_array_equal(after_v[kept], before_v)
    assert mark // MS in after_t // MS
    wait_counted(rig.plant, "samples_future", machine="clock-1")
    wait_counted(rig.plant, "samples_zero", at_least=960, machine="clock-1")


def test_a_sequence_number_going_backwards_reapplies_nothing(rig: Rig) -> None:
    intruder = rig.peer(rig.intruder)
    now = time.time_ns()
    intruder.send(
        own_birth("seq-1", [TagSpec(name="v", alias=0)], 10_000), src="seq-1", epoch=now, seq=0
    )

    def data(value: float, seq: int) -> None:
        ts = np.array([time.time_ns()])
        intruder.send(pack(np.zeros(1), np.array([value]), ts), src="seq-1", epoch=now, seq=seq)

    data(1.0, 1)
    data(2.0, 2)
    data(99.0, 1)  # replayed / reordered: an older seq of the same session
    data(3.0, 3)
    wait_until(
        lambda: (r := rig.station.store.reading("seq-1", "v")) is not None and r.value == 3.0,
        10,
        "seq 3 to arrive",
    )
    assert 99.0 not in values_seen(rig.station, "seq-1", "v")
    _t, v = rig.history("seq-1", "v", now * 1e-9 - 10)
    assert 99.0 not in v and {1.0, 2.0, 3.0} <= set(v.tolist())
    wait_counted(rig.plant, "seq_backwards", machine="seq-1")


def test_a_dead_agent_that_declared_a_huge_heartbeat_goes_offline_within_the_hubs_bound(
    rig: Rig,
) -> None:
    intruder = rig.peer(rig.intruder)
    now = time.time_ns()
    intruder.send(
        own_birth("sleepy-1", [TagSpec(name="v", alias=0)], 10**12),
        src="sleepy-1",
        epoch=now,
        seq=0,
    )
    intruder.send(
        pack(np.zeros(1), np.array([1.0]), np.array([time.time_ns()])),
        src="sleepy-1",
        epoch=now,
        seq=1,
    )
    wait_until(lambda: "sleepy-1" in rig.station.store.machine_ids(), 10, "sleepy-1 born")
    intruder.close()  # the agent dies without a DEATH
    died = time.monotonic()
    liveness = 3
    bound_s = liveness * LIMITS["max_heartbeat_ms"] / 1000
    wait_until(
        lambda: not next(m for m in rig.station.store.machines() if m.info.id == "sleepy-1").online,
        bound_s + 5,
        f"sleepy-1 to go offline within {bound_s:g} s (+5 s of margin)",
    )
    assert time.monotonic() - died <= bound_s + 5
    wait_counted(rig.plant, "heartbeat_clamped", peer="agent:intruder")


def test_a_birth_declaring_a_zero_heartbeat_causes_no_rebirth_storm(rig: Rig) -> None:
    intruder = rig.peer(rig.intruder)
    now = time.time_ns()
    tags = [TagSpec(name="v", alias=0)]
    intruder.send(own_birth("eager-1", tags, 0), src="eager-1", epoch=now, seq=0)
    wait_until(lambda: "eager-1" in rig.station.store.machine_ids(), 10, "eager-1 born")
    seq = 0
    until = time.monotonic() + 3.0
    while time.monotonic() < until:  # a live agent: a heartbeat every 50 ms
        seq += 1
        intruder.send(Heartbeat(), src="eager-1", epoch=now, seq=seq)
        intruder.drain(0.05)
    rebirths = intruder.bodies(RebirthRequest)
    assert len(rebirths) <= 1, f"{len(rebirths)} rebirth requests in 3 s to a live agent"
    assert next(m.online for m in rig.station.store.machines() if m.info.id == "eager-1")
    wait_counted(rig.plant, "heartbeat_clamped", peer="agent:intruder")


def test_a_rebirth_with_changed_aliases_keeps_the_station_alive_and_right(rig: Rig) -> None:
    intruder = rig.peer(rig.intruder)
    first = time.time_ns()
    tags = [TagSpec(name="a", alias=0), TagSpec(name="b", alias=1)]
    intruder.send(own_birth("remap-1", tags, 10_000), src="remap-1", epoch=first, seq=0)
    ts = np.full(2, time.time_ns())
    intruder.send(pack(np.array([0, 1]), np.array([1.0, 2.0]), ts), src="remap-1", epoch=first,
                  seq=1)  # fmt: skip
    wait_until(
        lambda: rig.station.store.values("remap-1").get("b", (None,))[0] == 2.0, 10, "first values"
    )
    second = first + 1
    moved = [TagSpec(name="a", alias=0), TagSpec(name="b", alias=40)]  # same names, new aliases
    intruder.send(own_birth("remap-1", moved, 10_000), src="remap-1", epoch=second, seq=0)
    ts = np.full(2, time.time_ns())
    intruder.send(pack(np.array([0, 40]), np.array([3.0, 4.0]), ts), src="remap-1",
                  epoch=second, seq=1)  # fmt: skip
    wait_until(
        lambda: rig.station.store.values("remap-1").get("b", (None,))[0] == 4.0,
        10,
        "values after the re-BIRTH",
    )
    assert rig.station.store.values("remap-1")["a"][0] == 3.0
    assert rig.station._thread is not None and rig.station._thread.is_alive()
    assert rig.station.error is None
    rig.owner_samples(10)  # the station keeps taking everyone else's data
    _t, v = rig.history("remap-1", "b", first * 1e-9 - 10)
    assert v[-1] == 4.0


# -- queries ----------------------------------------------------------------------------------


def test_a_history_request_for_ten_thousand_tags_is_answered_in_bounded_chunks(rig: Rig) -> None:
    intruder = rig.peer(rig.intruder)
    now = time.time_ns()
    tags = [TagSpec(name=f"t{i}", alias=i) for i in range(100)]
    intruder.send(own_birth("wide-1", tags, 10_000), src="wide-1", epoch=now, seq=0)
    for chunk in range(10):  # 200 samples for each of the 100 tags, 2000 per DATA
        secs = np.arange(chunk * 20, chunk * 20 + 20)
        aliases = np.tile(np.arange(100), secs.size)
        ts = np.repeat(now - (200 - secs) * 10**9, 100)
        intruder.send(pack(aliases, np.ones(aliases.size), ts), src="wide-1", epoch=now,
                      seq=1 + chunk)  # fmt: skip
    wait_until(
        lambda: rig.station.store.sample_count("wide-1", "t99") >= 200, 10, "wide-1's samples"
    )
    client = rig.peer(rig.plant.security("cli"))
    asked = [f"t{i % 100}" for i in range(10_000)]
    request = HistoryRequest(
        machine="wide-1", tags=asked, since=now - 300 * 10**9, max_points=4000, request_id=77
    )
    client.send(request, src="cli:attack", epoch=time.time_ns(), seq=0)
    sizes: list[int] = []
    parts: list[HistoryReply] = []
    errors: list[ErrorReply] = []
    deadline = time.monotonic() + 30
    done = False
    while not done and time.monotonic() < deadline:
        if not client.poller.poll(0.2):
            continue
        while (frames := client.link.recv()) is not None:
            sizes.append(len(frames[-1]))
            decoded = client.codec.decode(frames)
            assert decoded is not None
            body = decoded[1]
            if isinstance(body, HistoryReply):
                assert body.request_id == 77 and body.machine == "wide-1"
                parts.append(body)
                done = done or getattr(body, "last", True)
            elif isinstance(body, ErrorReply):
                errors.append(body)
                done = True
    assert sizes, "no answer to a history request for 10,000 tags"
    assert done, "the answer never ended"
    assert max(sizes) <= MAX_BODY_BYTES, f"a reply of {max(sizes)} bytes"
    if errors:  # refused as too big: the refusal names its request and is counted
        assert getattr(errors[0], "request_id", None) == 77, "the error does not name its request"
        wait_counted(rig.plant, "history_too_big", peer="station:cli")
        return
    assert len(parts) > 1, "answered in one message"
    # A tag's series may continue in the next part; no two requested tags in a row are equal.
    merged: list[tuple[str, int]] = []
    for part in parts:
        for s in part.series:
            if merged and merged[-1][0] == s.tag and s is part.series[0]:
                merged[-1] = (s.tag, merged[-1][1] + len(s.t))
            else:
                merged.append((s.tag, len(s.t)))
    assert [tag for tag, _n in merged] == asked, "series missing, repeated or out of order"
    truncated = any(getattr(p, "truncated", False) for p in parts)
    least = 2 if truncated else 200  # lowered max_points to stay bounded says so
    assert all(least <= n <= request.max_points for _tag, n in merged)


# -- the hub's account ------------------------------------------------------------------------


def test_hub_status_json_has_the_agreed_shape(rig: Rig) -> None:
    status = hub_status(rig.plant)
    hub = status["hub"]
    for key in ("epoch", "uptime_s", "rss_mb", "heartbeat_ms", "received", "published", "samples"):
        assert isinstance(hub[key], int | float), key
    assert isinstance(hub["drops"], dict) and isinstance(hub["service_errors"], dict)
    assert hub["rss_mb"] > 10
    [machine] = [m for m in status["machines"] if m["id"] == OWNER]
    assert machine["online"] is True and machine["key"] == "agent:press"
    assert machine["epoch"] == rig.victim_epoch() and machine["samples"] > 0
    for key in ("name", "messages", "drops", "rebirths", "gaps"):
        assert key in machine, key
    peers = {p["key"]: p for p in status["peers"]}
    assert peers["agent:press"]["role"] == "agent"
    assert OWNER in peers["agent:press"]["machines"]
    assert peers["station:station"]["connections"] >= 1
    for key in ("messages", "drops", "refused_claims"):
        assert key in peers["agent:press"], key
