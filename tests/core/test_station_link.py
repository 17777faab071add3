"""The station on real sockets against a fake hub that says whatever the test wants."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from copilot.bus import Bus, KeyStore, Security
from copilot.protocol import (
    Birth,
    Body,
    Codec,
    Header,
    Heartbeat,
    MachineInfo,
    SnapshotEnd,
    SnapshotRequest,
    TagSpec,
)
from copilot.protocol.columns import pack
from copilot.settings import StationSettings
from copilot.station import Event, LinkChanged, LinkState, MachinesChanged, Station, WorkerFailed
from tests.helpers import InProcessHub, free_hub_address, wait_until

HUB_EPOCH = 1_700_000_000_000_000_000


class FakeHub:
    """A ROUTER and a PUB that answer snapshots and publish what a test hands them."""

    def __init__(self) -> None:
        self.address = free_hub_address()
        host, port = self.address.rsplit(":", 1)
        self.bus = Bus(Security(insecure=True))
        self.router = self.bus.router(self.address)
        self.pub = self.bus.pub(f"{host}:{int(port) + 1}")
        self.codec = Codec()
        self.seq = 0
        self.snapshots = 0

    def pump(self) -> None:
        """Answer every snapshot request with an empty snapshot at the current sequence."""
        while (frames := self.router.recv()) is not None:
            decoded = self.codec.decode(frames[1:])
            if decoded is not None and isinstance(decoded[1], SnapshotRequest):
                self.snapshots += 1
                end = SnapshotEnd(HUB_EPOCH, self.seq, request_id=decoded[1].request_id)
                self.router.send([frames[0], *self.codec.frames(self.header("hub"), end)])

    def header(self, src: str, epoch: int = 0, **extra: int) -> Header:
        return Header(src=src, epoch=epoch, seq=0, ts=time.time_ns(), **extra)

    def publish(self, body: Body, src: str = "press-1", epoch: int = 1, v: int = 1) -> None:
        self.seq += 1
        header = self.header(src, epoch, hub_epoch=HUB_EPOCH, hub_seq=self.seq, v=v)
        self.pub.send([b"m/" + src.encode() + b"/", *self.codec.frames(header, body)])

    def close(self) -> None:
        self.bus.close()


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub()
    try:
        yield hub
    finally:
        hub.close()


@pytest.fixture
def station(fake_hub: FakeHub) -> Iterator[Station]:
    bus = Bus(Security(insecure=True))
    st = Station(bus, fake_hub.address, StationSettings(resync_min_interval_ms=50))
    try:
        yield st
    finally:
        st.stop()
        bus.close()


def join(hub: FakeHub, station: Station) -> None:
    """Start the station and wait until it is live and its subscription carries updates."""
    station.start()

    def live() -> bool:
        hub.pump()
        if station.state != LinkState.LIVE or station.stats.messages == 0:
            hub.publish(Heartbeat(), src="hub", epoch=0)  # the SUB joins late: probe
            return False
        return station.hub_seq == hub.seq

    wait_until(live, 15, "station live on the fake hub")


def birth(aliases: dict[str, int]) -> Birth:
    return Birth(
        machine=MachineInfo(id="press-1", name="Press 1", kind="press"),
        tags=[TagSpec(name=n, alias=a) for n, a in aliases.items()],
    )


def now_ns(n: int) -> list[int]:
    t = time.time_ns()
    return [t + i for i in range(n)]


def test_rebirth_with_changed_aliases_keeps_the_io_thread_alive_and_values_right(
    fake_hub: FakeHub, station: Station
) -> None:
    join(fake_hub, station)
    fake_hub.publish(birth({"temp": 0, "speed": 1}), epoch=1)
    fake_hub.publish(pack([0, 1], [20.0, 100.0], now_ns(2)), epoch=1)
    wait_until(lambda: station.store.values("press-1").get("temp", (0,))[0] == 20.0, 5, "data")
    fake_hub.publish(birth({"speed": 4, "temp": 9, "load": 2}), epoch=2)
    for k in range(20):  # every DATA of the new session raised in the I/O thread before
        fake_hub.publish(pack([9, 4, 2], [21.0 + k, 101.0, 0.5], now_ns(3)), epoch=2)
    wait_until(lambda: station.store.values("press-1").get("temp", (0,))[0] == 40.0, 5, "rebirth")
    values = station.store.values("press-1")
    assert values["speed"][0] == 101.0 and values["load"][0] == 0.5
    assert len(station.store.window("press-1", "temp")[0]) == 21  # kept across the re-BIRTH
    assert station.error is None and station._thread is not None and station._thread.is_alive()
    assert station.stats.drops.get("apply_error", 0) == 0
    assert station.state == LinkState.LIVE and station.stats.gaps == 0


def test_an_exception_applying_one_message_is_counted_and_the_loop_goes_on(
    fake_hub: FakeHub, station: Station, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[tuple[Event, str]] = []
    station.add_listener(lambda e: events.append((e, threading.current_thread().name)))

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    station.add_listener(broken)
    join(fake_hub, station)
    real = station.store.apply_data
    calls = {"n": 0}

    def flaky(machine: str, epoch: int, data: msgspec.Struct) -> bool:
        calls["n"] += 1
        if calls["n"] <= 3:
            raise ValueError("a bug the store did not expect")
        return real(machine, epoch, data)  # type: ignore[arg-type]

    station.store.apply_data = flaky  # type: ignore[method-assign]
    fake_hub.publish(birth({"temp": 0}), epoch=1)
    for k in range(5):
        fake_hub.publish(pack([0], [float(k)], now_ns(1)), epoch=1)
    wait_until(lambda: station.store.values("press-1").get("temp", (0,))[0] == 4.0, 5, "data")
    assert station.stats.drops["apply_error"] == 3
    assert station._thread is not None and station._thread.is_alive() and station.error is None
    assert station.state == LinkState.LIVE and station.stats.gaps == 0
    logged = [r for r in caplog.records if "applying of a Data failed" in r.getMessage()]
    assert len(logged) == 1  # logged once, counted every time
    # Listeners run on the dispatch thread, a broken one is counted, the others still hear.
    wait_until(lambda: any(isinstance(e, MachinesChanged) for e, _ in events), 5, "events")
    assert {name for _, name in events} == {"station-events-station"}
    wait_until(lambda: station.stats.listener_errors == len(events), 5, "listener errors")
    assert station.stats.listener_errors >= 2


def test_a_hub_speaking_another_protocol_version_is_said_so(
    fake_hub: FakeHub, station: Station
) -> None:
    changes: list[LinkChanged] = []
    station.add_listener(lambda e: changes.append(e) if isinstance(e, LinkChanged) else None)
    station.start()

    def refused() -> bool:
        fake_hub.publish(Heartbeat(), src="hub", v=2)
        return station.link_cause == "version_mismatch"

    wait_until(refused, 10, "version mismatch seen")
    assert station.state == LinkState.LOST
    assert "protocol version" in station.link_reason
    assert station.stats.drops["version"] >= 1
    wait_until(lambda: changes and changes[-1].cause == "version_mismatch", 5, "the event")


def test_nothing_answering_is_said_so(station: Station) -> None:
    changes: list[LinkChanged] = []
    station.add_listener(lambda e: changes.append(e) if isinstance(e, LinkChanged) else None)
    station.start()  # the fake hub never pumps: its ROUTER takes the request, nobody answers
    wait_until(lambda: station.link_cause == "no_answer", 10, "no answer")
    assert station.state == LinkState.CONNECTING
    assert "nothing answers at" in station.link_reason
    wait_until(lambda: [c.cause for c in changes][-1:] == ["no_answer"], 5, "the event")
    assert changes[0].cause == "syncing"


@pytest.mark.parametrize(("pin_hub", "cause"), [(True, "key_refused"), (False, "handshake_failed")])
def test_a_refused_handshake_is_a_link_cause_a_ui_can_show(
    data_dir: Path, tmp_path: Path, pin_hub: bool, cause: str
) -> None:
    hub = InProcessHub(data_dir)
    remote = KeyStore(tmp_path / "remote")  # keys made on another host, not admitted here
    remote.init()
    if pin_hub:
        shutil.copy(data_dir / "keys" / "hub.key", remote.dir / "hub.key")
    else:  # admitted, but it pins another hub's key
        KeyStore(data_dir).allow(remote.dir / "station.key", "remote", "station")
    bus = Bus(Security(insecure=False, keys=remote, identity="station"))
    station = Station(bus, hub.address, StationSettings())
    changes: list[LinkChanged] = []
    station.add_listener(lambda e: changes.append(e) if isinstance(e, LinkChanged) else None)
    station.start()
    try:
        wait_until(lambda: station.link_cause == cause, 10, cause)
        assert station.state == LinkState.LOST
        assert station.link_reason == station.stats.last_handshake_failure
        wait_until(lambda: any(c.cause == cause for c in changes), 5, "the event")
        # it stays said: the snapshot retries do not turn it back into "connecting"
        deadline = time.monotonic() + 3.5
        wait_until(lambda: time.monotonic() > deadline or station.link_cause != cause, 5)
        assert station.link_cause == cause and station.state == LinkState.LOST
    finally:
        station.stop()
        bus.close()
        hub.close()


def test_a_station_worker_reports_its_failures_to_the_listeners(
    fake_hub: FakeHub, station: Station
) -> None:
    failures: list[WorkerFailed] = []
    station.add_listener(lambda e: failures.append(e) if isinstance(e, WorkerFailed) else None)
    station.start()
    said: list[str] = []

    def speak(text: str) -> None:
        if not text:
            raise ValueError("nothing to say")
        said.append(text)

    tts = station.worker("tts", speak)
    tts.start()
    try:
        for text in ("press 2 stopped", "", "kiln 1 hot"):
            tts.submit(text)
        wait_until(lambda: failures and len(said) == 2, 5, "worker failure as an event")
        assert failures == [WorkerFailed("tts", "str", "ValueError: nothing to say")]
    finally:
        tts.stop()
        tts.join(5)


def test_updates_wait_while_a_view_draws_a_frame_but_never_stop(
    fake_hub: FakeHub, station: Station
) -> None:
    join(fake_hub, station)
    fake_hub.publish(birth({"temp": 0}), epoch=1)
    fake_hub.publish(pack([0], [20.0], now_ns(1)), epoch=1)
    wait_until(lambda: station.store.values("press-1").get("temp", (0,))[0] == 20.0, 5, "data")
    gate = station.frames
    gate.max_wait_s = 30.0  # a frame that never ends: updates hold off...
    gate.begin()
    fake_hub.publish(pack([0], [21.0], now_ns(1)), epoch=1)
    wait_until(lambda: gate.holds >= 1, 5, "the I/O thread holding off")
    assert station.store.values("press-1")["temp"][0] == 20.0, "applied while a frame was drawn"
    gate.end()  # ...until the frame is drawn
    wait_until(lambda: station.store.values("press-1")["temp"][0] == 21.0, 5, "applied after")
    # A view that never ends its frame only slows updates down: each wait is bounded.
    gate.max_wait_s = 0.02
    gate.begin()
    for k in range(5):
        fake_hub.publish(pack([0], [30.0 + k], now_ns(1)), epoch=1)
    wait_until(lambda: station.store.values("press-1")["temp"][0] == 34.0, 10, "bounded waits")
    gate.end()
    assert station.error is None and station.stats.gaps == 0
