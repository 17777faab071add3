"""The station and the hub's own voice: its heartbeat interval, its health, a refused key."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.bus import Bus, KeyStore, Security
from copilot.protocol import HubStatus
from copilot.settings import StationSettings
from copilot.station import Event, HubStatusArrived, LinkState, Station
from tests.helpers import CountingAgent, InProcessHub, wait_until


class Heard:
    """What a station's listeners heard, read from the test thread."""

    def __init__(self, station: Station) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []
        station.add_listener(self._add)

    def _add(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def of(self, kind: type) -> list[Event]:
        with self._lock:
            return [e for e in self._events if isinstance(e, kind)]


@pytest.fixture
def hub(data_dir: Path) -> Iterator[InProcessHub]:
    h = InProcessHub(data_dir, heartbeat_ms=200)
    try:
        yield h
    finally:
        h.close()


def station_on(
    data_dir: Path, address: str, heartbeat_ms: int = 1000, **settings: object
) -> tuple[Bus, Station]:
    bus = Bus(Security.from_data_path(data_dir, "station", False))
    station = Station(bus, address, StationSettings(**settings), heartbeat_ms=heartbeat_ms)  # type: ignore[arg-type]
    return bus, station


def test_hub_silence_is_judged_by_the_interval_the_hub_says_it_beats_at(
    data_dir: Path, hub: InProcessHub
) -> None:
    # The station was told 5 s (15 s of silence before LOST); the hub says 200 ms on the wire.
    bus, station = station_on(data_dir, hub.address, heartbeat_ms=5000, hub_status_every_s=0)
    station.start()
    try:
        assert station.liveness_s == 15.0 and station.hub_heartbeat_ms == 0
        wait_until(lambda: station.state == LinkState.LIVE, 10, "station live")
        wait_until(lambda: station.hub_heartbeat_ms == 200, 5, "the hub's interval learned")
        assert station.liveness_s == pytest.approx(0.6)
        hub.close()  # the hub goes silent
        silent = time.monotonic()
        wait_until(lambda: station.state == LinkState.LOST, 10, "the link lost")
        assert time.monotonic() - silent < 7.5  # half of what the station's own 5 s would give
        assert station.link_cause == "hub_silent"
    finally:
        station.stop()
        bus.close()


def test_the_station_asks_for_the_hubs_health_by_itself_and_keeps_the_latest(
    data_dir: Path, hub: InProcessHub
) -> None:
    agent = CountingAgent(data_dir, hub.address)
    bus, station = station_on(data_dir, hub.address, hub_status_every_s=0.5)
    heard = Heard(station)
    station.start()
    try:
        assert station.hub_status is None and station.hub_drops is None
        wait_until(lambda: len(heard.of(HubStatusArrived)) >= 3, 10, "three status reports")
        latest = station.hub_status
        assert latest is not None and isinstance(latest.status, HubStatus)
        assert latest.status.hub.heartbeat_ms == 200
        assert station.hub_drops == sum(latest.status.hub.drops.values())
        wait_until(
            lambda: (
                (s := station.hub_status) is not None
                and any(m.id == "mixer-1" for m in s.status.machines)
            ),
            10,
            "the agent's machine in the hub's report",
        )
        # Asked at its own pace, one at a time: not more often than every 0.5 s.
        asked_from = time.monotonic()
        before = station.stats.hub_statuses
        time.sleep(1.5)  # a rate is measured over time: nothing to wait for
        per_s = (station.stats.hub_statuses - before) / (time.monotonic() - asked_from)
        assert 0.5 <= per_s <= 2.5
    finally:
        station.stop()
        bus.close()
        agent.close()


def test_a_station_told_never_asks_only_when_asked(data_dir: Path, hub: InProcessHub) -> None:
    bus, station = station_on(data_dir, hub.address, hub_status_every_s=0)
    heard = Heard(station)
    station.start()
    try:
        wait_until(lambda: station.state == LinkState.LIVE, 10, "station live")
        heard_from_hub = station.stats.messages
        wait_until(lambda: station.stats.messages >= heard_from_hub + 5, 5, "heartbeats pass")
        assert station.hub_status is None and not heard.of(HubStatusArrived)
        station.request_hub_status()
        wait_until(lambda: heard.of(HubStatusArrived), 10, "the status asked for")
        event = heard.of(HubStatusArrived)[0]
        assert isinstance(event, HubStatusArrived) and station.hub_status is event
        assert station.stats.hub_statuses == 1
        assert event.drops == station.hub_drops
    finally:
        station.stop()
        bus.close()


def test_a_station_refused_at_first_connects_within_5_s_once_its_key_is_allowed(
    data_dir: Path, tmp_path: Path
) -> None:
    hub = InProcessHub(data_dir)
    agent = CountingAgent(data_dir, hub.address)
    remote = KeyStore(tmp_path / "remote")
    remote.init()
    shutil.copy(data_dir / "keys" / "hub.key", remote.dir / "hub.key")
    bus = Bus(Security(insecure=False, keys=remote, identity="station"))
    station = Station(bus, hub.address, StationSettings(hub_status_every_s=0))
    station.start()
    try:
        wait_until(lambda: station.stats.redials >= 4, 15, "refused, and dialling again")
        assert station.link_cause == "key_refused" and station.state == LinkState.LOST
        assert station.store.machine_ids() == []
        KeyStore(data_dir).allow(remote.dir / "station.key", "late-panel", "station")
        allowed = time.monotonic()
        wait_until(
            lambda: station.state == LinkState.LIVE and "mixer-1" in station.store.machine_ids(),
            5,
            "the station to connect and sync",
        )
        assert time.monotonic() - allowed < 5
        samples = station.stats.samples
        wait_until(lambda: station.stats.samples > samples + 5, 5, "updates flowing")
    finally:
        station.stop()
        bus.close()
        agent.close()
        hub.close()
