"""Faults on real processes and sockets: agents, stations and hubs die, stall and come back."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from copilot.agent import AgentSession
from copilot.bus import Bus, Security
from copilot.protocol import MachineInfo, Quality, TagSpec
from copilot.settings import StationSettings
from copilot.station import LinkState, Station
from tests.helpers import InProcessHub, Plant, wait_until

HEARTBEAT_S = 1.0
LIVENESS = 3


def all_readings(station: Station) -> list:
    return [r for mid in station.store.machine_ids() for r in station.store.readings(mid)]


def sim_machine_ids(station: Station) -> set[str]:
    return {m.info.id for m in station.store.machines()}


def test_killed_agent_goes_stale_within_liveness_and_returns_with_a_new_epoch(
    plant: Plant, stations: Callable[..., Station]
) -> None:
    plant.hub()
    sim = plant.sim("--machines", "4", "--rate", "10", "--seed", "3")
    station = stations()
    wait_until(
        lambda: (
            len(station.store.machine_ids()) == 4
            and all(r.good for r in all_readings(station) if r.spec.type != "str")
        ),
        15,
        "four machines with good values",
    )
    epochs = {m.info.id: m.epoch for m in station.store.machines()}
    sim.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    wait_until(
        lambda: all(r.quality == Quality.BAD_STALE for r in all_readings(station)),
        LIVENESS * HEARTBEAT_S + 2,
        "every tag Bad/stale",
    )
    elapsed = time.monotonic() - killed
    assert elapsed <= LIVENESS * HEARTBEAT_S + 1.0, f"stale after {elapsed:.2f} s"
    reading = all_readings(station)[0]
    assert reading.value is not None  # a stale value keeps its last value...
    assert reading.stale_since is not None  # ...and says since when
    assert not any(m.online for m in station.store.machines())

    plant.sim("--machines", "4", "--rate", "10", "--seed", "3")
    wait_until(
        lambda: (
            all(m.online for m in station.store.machines())
            and all(r.good for r in all_readings(station) if r.spec.type != "str")
        ),
        15,
        "machines back with good values",
    )
    for machine in station.store.machines():
        assert machine.epoch > epochs[machine.info.id]


def test_old_epoch_data_and_death_are_never_applied(data_dir: Path) -> None:
    hub = InProcessHub(data_dir)
    bus = Bus(Security.from_data_path(data_dir, "agent", False))
    station_bus = Bus(Security.from_data_path(data_dir, "station", False))
    station = Station(station_bus, hub.address, StationSettings())
    station.start()
    tags = [TagSpec(name="temp", alias=0)]
    info = MachineInfo(id="kiln-1", name="Kiln 1", kind="oven")
    old = AgentSession(bus, hub.address, info, tags)
    new = AgentSession(bus, hub.address, info, tags)
    try:
        # birth() sends only once the connection is up (IMMEDIATE): retrying it waits for that.
        wait_until(lambda: (old.birth(), old.stats.births)[1] > 0, 5, "old session born")
        old.publish({"temp": 1.0})
        old.flush()
        wait_until(lambda: station.store.values("kiln-1").get("temp", (None,))[0] == 1.0, 10)
        wait_until(lambda: (new.birth(), new.stats.births)[1] > 0, 5, "new session born")
        assert new.epoch > old.epoch
        new.publish({"temp": 2.0})
        new.flush()
        wait_until(lambda: station.store.values("kiln-1")["temp"][0] == 2.0, 5, "new value")
        dropped = hub.hub.stats.old_epoch_dropped
        old.publish({"temp": 99.0})  # the old session is still talking
        old.flush()
        old.stop()  # ...and then sends its DEATH
        wait_until(lambda: hub.hub.stats.old_epoch_dropped >= dropped + 2, 5, "old epoch dropped")
        assert station.store.values("kiln-1")["temp"][0] == 2.0
        assert station.store.machines()[0].online
        assert hub.hub.machines["kiln-1"].epoch == new.epoch
    finally:
        station.stop()
        station_bus.close()
        bus.close()
        hub.close()


def test_restarted_station_equals_the_hub_exactly(
    plant: Plant, data_dir: Path, stations: Callable[..., Station]
) -> None:
    hub = InProcessHub(data_dir)
    plant.address = hub.address
    try:
        sim = plant.sim("--machines", "6", "--rate", "10", "--seed", "5")
        first = stations()
        wait_until(
            lambda: len(first.store.machine_ids()) == 6 and first.stats.samples > 500,
            15,
            "first station streaming",
        )
        first.stop()  # the station dies mid-stream...
        second = stations()  # ...and a new one starts while data keeps flowing
        wait_until(lambda: second.state == LinkState.LIVE and second.stats.samples > 200, 15)
        sim.send_signal(signal.SIGSTOP)  # freeze the plant to compare a still picture
        try:
            wait_until(lambda: second.hub_seq >= hub.hub.hub_seq, 5, "station caught up")
            for mid, state in hub.hub.machines.items():
                table = state.table
                expected = {
                    t.name: (
                        table.display_value(t.alias),
                        int(table.quality[t.alias]),
                        float(table.ts[t.alias]),
                    )
                    for t in state.birth.tags
                }
                shown = second.store.values(mid)
                assert shown.keys() == expected.keys(), mid
                for tag, (value, quality, ts) in expected.items():
                    # Times go through integer ns in a snapshot and float s in the tables:
                    # equal to well under a microsecond (an older sample is >= 50 ms older).
                    assert shown[tag][:2] == (value, quality), (mid, tag)
                    assert abs(shown[tag][2] - ts) < 1e-6, (mid, tag, shown[tag][2], ts)
        finally:
            sim.send_signal(signal.SIGCONT)
    finally:
        hub.close()


def test_restarted_hub_converges_to_the_agents_truth(
    plant: Plant, stations: Callable[..., Station]
) -> None:
    hub = plant.hub()
    sim = plant.sim("--machines", "5", "--rate", "10", "--seed", "9")
    station = stations()
    wait_until(lambda: len(station.store.machine_ids()) == 5 and station.stats.samples > 100, 15)
    first_epoch = station.hub_epoch
    hub.send_signal(signal.SIGKILL)
    hub.wait(5)
    wait_until(lambda: station.state == LinkState.LOST, LIVENESS * HEARTBEAT_S + 2, "link lost")
    assert all(not r.good for r in all_readings(station))
    assert {r.quality for r in all_readings(station)} <= {
        int(Quality.UNCERTAIN_COMM_LOST),
        int(Quality.BAD_NOT_CONNECTED),
        int(Quality.BAD_SENSOR_FAILURE),
    }
    plant.hub()
    wait_until(
        lambda: (
            station.state == LinkState.LIVE
            and station.hub_epoch != first_epoch
            and len(station.store.machine_ids()) == 5
            and all(m.online for m in station.store.machines())
        ),
        20,
        "converged on new hub",
    )
    assert station.stats.resyncs >= 1
    sim.send_signal(signal.SIGSTOP)
    try:
        fresh = stations()
        wait_until(lambda: fresh.state == LinkState.LIVE, 10)

        # The hub keeps publishing (heartbeats; offline marks once the stopped agents time
        # out), so compare at a moment both stations have applied the same hub_seq.
        # Times to 1 µs: a snapshot carries the hub's float seconds back as integer ns.
        def same(
            a: dict[str, tuple[Any, int, float]], b: dict[str, tuple[Any, int, float]]
        ) -> bool:
            return a.keys() == b.keys() and all(
                a[k][:2] == b[k][:2] and abs(a[k][2] - b[k][2]) < 1e-6 for k in a
            )

        def agree() -> bool:
            return (
                station.hub_seq == fresh.hub_seq
                and station.store.machine_ids() == fresh.store.machine_ids()
                and all(
                    same(station.store.values(mid), fresh.store.values(mid))
                    for mid in fresh.store.machine_ids()
                )
            )

        wait_until(agree, 10, "the restarted-on station and a fresh one show the same plant")
    finally:
        sim.send_signal(signal.SIGCONT)


def test_stalled_station_detects_the_gap_and_resyncs_without_hurting_the_hub(
    plant: Plant, stations: Callable[..., Station]
) -> None:
    # Small queues and kernel buffers on both sides, so that a 5-s stall overflows them whether
    # the machine is quiet or loaded (a loaded simulator sends fewer, larger batches; an
    # autotuned kernel send buffer of up to 4 MiB swallowed the whole stall on a quiet one).
    plant.hub(env={"COPILOT_HUB__SNDHWM": "100", "COPILOT_HUB__PUB_SNDBUF_BYTES": "65536"})
    plant.sim("--machines", "40", "--tags-per-machine", "30", "--rate", "20", "--seed", "2")
    stalled = stations(rcvhwm=50, rcvbuf_bytes=65536)
    healthy = stations()
    wait_until(
        lambda: (
            stalled.state == LinkState.LIVE
            and healthy.state == LinkState.LIVE
            and len(stalled.store.machine_ids()) == 40
        ),
        20,
        "both stations live",
    )
    healthy_gaps = healthy.stats.gaps
    stalled.pause_io(5.0)
    started = time.monotonic()
    answered = plant.machines()  # the hub keeps serving while a station stalls
    assert len(answered.machines) == 40
    assert time.monotonic() - started < 1.0
    try:
        wait_until(
            lambda: (
                stalled.stats.gaps >= 1
                and stalled.stats.resyncs >= 1
                and stalled.state == LinkState.LIVE
            ),
            30,
            "gap detected and resynced",
        )
    except AssertionError as exc:
        raise AssertionError(
            f"{exc} (then: {stalled.stats.gaps} gaps, {stalled.stats.resyncs} resyncs, "
            f"{stalled.state.name}: {stalled.link_reason})"
        ) from None
    wait_until(
        lambda: all(r.good for r in stalled.store.readings("cnc-01") if r.spec.type != "str"),
        10,
        "values good again",
    )
    assert healthy.stats.gaps == healthy_gaps
    assert healthy.state == LinkState.LIVE


@pytest.mark.parametrize("which", ["hub", "sim", "demo"])
def test_every_process_stops_within_two_seconds(plant: Plant, which: str) -> None:
    import psutil

    if which == "hub":
        proc = plant.hub()
    elif which == "sim":
        plant.hub()
        proc = plant.sim("--machines", "12", "--rate", "10")
        wait_until(lambda: len(plant.machines().machines) == 12, 15, "sim online")
    else:
        proc = plant.spawn("demo", "--headless", "--bind", plant.address)
        plant.wait_hub()
        wait_until(lambda: len(plant.machines().machines) == 12, 15, "demo plant online")
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) == (1 if which == "demo" else 0)  # the demo's hub process
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(5)
    assert time.monotonic() - started < 2.0
    assert proc.returncode == 0
    _gone, alive = psutil.wait_procs(children, timeout=0.5)
    assert not alive, f"orphans left: {alive}"


def test_backpressure_is_reported_and_nothing_is_lost(
    plant: Plant, data_dir: Path, stations: Callable[..., Station], caplog: pytest.LogCaptureFixture
) -> None:
    hub = plant.hub()
    station = stations()
    bus = Bus(Security.from_data_path(data_dir, "agent", False))
    tags = [TagSpec(name=f"t{i}", alias=i) for i in range(500)]
    session = AgentSession(
        bus, plant.address, MachineInfo(id="fast-1", name="Fast 1", kind="x"), tags, sndhwm=4
    )
    try:
        wait_until(lambda: (session.birth(), session.stats.births)[1] > 0, 5, "born")
        wait_until(lambda: "fast-1" in station.store.machine_ids(), 10)
        hub.send_signal(signal.SIGSTOP)  # the hub stops reading
        value = 0.0
        for _ in range(20_000):
            value += 1
            session.publish({t.name: value for t in tags})
            if not session.flush():
                break
        assert session.stats.backpressure_events == 1
        assert "cannot send to the hub" in caplog.text
        held = session.pending_samples
        assert held >= 500
        hub.send_signal(signal.SIGCONT)
        wait_until(lambda: session.flush(), 10, "hub taking data again")
        wait_until(
            lambda: station.store.values("fast-1")["t0"][0] == value,
            10,
            "the held values to arrive",
        )
        assert session.stats.samples_conflated == 0
    finally:
        if hub.poll() is None:
            os.kill(hub.pid, signal.SIGCONT)
        bus.close()


def test_idle_agent_that_only_heartbeats_rejoins_a_restarted_hub(data_dir: Path) -> None:
    from copilot.agent import AgentRunner
    from copilot.hub import Hub
    from copilot.settings import HubSettings

    first = InProcessHub(data_dir)
    bus = Bus(Security.from_data_path(data_dir, "agent", False))
    session = AgentSession(
        bus,
        first.address,
        MachineInfo(id="idle-1", name="Idle", kind="x"),
        [TagSpec(name="t", alias=0)],
    )
    runner = AgentRunner([session])  # no tick: it never publishes, it only heartbeats
    runner.start()
    second_bus = None
    try:
        wait_until(lambda: "idle-1" in first.hub.machines, 10, "born on the first hub")
        first.close()
        second_bus = Bus(Security.from_data_path(data_dir, "hub", False))
        second = Hub(second_bus, HubSettings(bind=first.address))
        second.start()
        try:
            wait_until(
                lambda: "idle-1" in second.machines and second.machines["idle-1"].online,
                10,
                "born again on the restarted hub",
            )
            assert session.stats.births >= 2
        finally:
            second.request_stop()
            second.join(3)
    finally:
        runner.request_stop()
        runner.join(3)
        bus.close()
        if second_bus is not None:
            second_bus.close()
