"""CurveZMQ on every socket: no key, an unknown key or a revoked key gets no data, and says why."""

from __future__ import annotations

import shutil
from pathlib import Path

from copilot.bus import Bus, KeyStore, Security
from copilot.settings import StationSettings
from copilot.station import LinkState, Station
from tests.helpers import CountingAgent, InProcessHub, wait_until


def station_for(security: Security, address: str) -> tuple[Bus, Station]:
    bus = Bus(security)
    station = Station(bus, address, StationSettings())
    station.start()
    return bus, station


def other_host(tmp_path: Path, data_dir: Path, pin_hub: bool = True) -> KeyStore:
    """Keys made on another host; it knows our hub's public key if ``pin_hub``."""
    store = KeyStore(tmp_path / "remote")
    store.init()
    if pin_hub:
        shutil.copy(data_dir / "keys" / "hub.key", store.dir / "hub.key")
    return store


def test_client_without_a_key_gets_nothing(data_dir: Path) -> None:
    hub = InProcessHub(data_dir)
    agent = CountingAgent(data_dir, hub.address)
    bus, station = station_for(Security(insecure=True), hub.address)
    try:
        wait_until(lambda: agent.count > 20, 10, "agent publishing")
        wait_until(lambda: station.stats.handshake_failures or hub.hub.stats.received > 40, 5)
        assert station.store.machine_ids() == []
        assert station.stats.messages == 0
        assert station.state != LinkState.LIVE
    finally:
        station.stop()
        bus.close()
        agent.close()
        hub.close()


def test_unknown_key_is_refused_and_both_sides_say_so(data_dir: Path, tmp_path: Path) -> None:
    hub = InProcessHub(data_dir)
    agent = CountingAgent(data_dir, hub.address)
    remote = other_host(tmp_path, data_dir)
    bus, station = station_for(
        Security(insecure=False, keys=remote, identity="station"), hub.address
    )
    try:
        wait_until(lambda: station.stats.handshake_failures > 0, 10, "station to see the refusal")
        assert "refused this key" in station.stats.last_handshake_failure
        assert "copilot keys allow" in station.stats.last_handshake_failure
        assert station.state == LinkState.LOST
        gate = hub.bus.gatekeeper
        assert gate is not None and gate.last_refusal.startswith("unknown key")
        assert station.stats.messages == 0 and station.store.machine_ids() == []
    finally:
        station.stop()
        bus.close()
        agent.close()
        hub.close()


def test_wrong_hub_key_gets_no_data(data_dir: Path, tmp_path: Path) -> None:
    hub = InProcessHub(data_dir)
    agent = CountingAgent(data_dir, hub.address)
    remote = other_host(tmp_path, data_dir, pin_hub=False)  # pins a different hub's key
    KeyStore(data_dir).allow(remote.dir / "station.key", "remote", "station")
    bus, station = station_for(
        Security(insecure=False, keys=remote, identity="station"), hub.address
    )
    try:
        wait_until(lambda: agent.count > 40, 10, "agent publishing for a while")
        assert station.stats.messages == 0 and station.store.machine_ids() == []
        assert station.state != LinkState.LIVE
        # Both sides say why: the station cannot complete the handshake, the hub saw it fail.
        wait_until(lambda: station.stats.handshake_failures > 0, 10, "station reports failure")
        assert "handshake failed" in station.stats.last_handshake_failure
        watch = hub.hub._watch
        assert watch is not None
        wait_until(lambda: watch.failures > 0, 5, "hub reports the failed handshake")
    finally:
        station.stop()
        bus.close()
        agent.close()
        hub.close()


def test_revoked_key_is_cut_off_and_cannot_come_back(data_dir: Path, tmp_path: Path) -> None:
    hub = InProcessHub(data_dir)
    agent = CountingAgent(data_dir, hub.address)
    remote = other_host(tmp_path, data_dir)
    KeyStore(data_dir).allow(remote.dir / "station.key", "remote-panel", "station")
    bus, station = station_for(
        Security(insecure=False, keys=remote, identity="station"), hub.address
    )
    local_bus, local = station_for(Security.from_data_path(data_dir, "station", False), hub.address)
    try:
        wait_until(
            lambda: station.state == LinkState.LIVE and station.stats.samples > 10,
            10,
            "remote station receiving",
        )
        KeyStore(data_dir).revoke("remote-panel")
        wait_until(lambda: hub.hub.stats.sessions_cut == 1, 5, "hub to cut the session")
        wait_until(lambda: station.state == LinkState.LOST, 10, "remote station to lose its link")
        samples = station.stats.samples
        # Everyone else reconnects by themselves; the revoked station never does.
        local_samples = local.stats.samples
        wait_until(lambda: local.stats.samples > local_samples + 20, 10, "local data flowing")
        assert station.stats.samples == samples
        assert station.state == LinkState.LOST
        assert "refused this key" in station.stats.last_handshake_failure
    finally:
        station.stop()
        bus.close()
        local.stop()
        local_bus.close()
        agent.close()
        hub.close()
