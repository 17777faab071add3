"""The agent SDK never loses data silently: a backlog goes out in DATA messages under the
size limit, is bounded, and whatever had to be dropped is counted and logged."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from copilot.agent import AgentRunner, AgentSession, Backlog
from copilot.bus import Bus, Security
from copilot.hub import Hub
from copilot.protocol import Codec, Header, MachineInfo, TagSpec
from copilot.protocol.columns import unpack
from copilot.settings import AgentSettings, HubSettings
from tests.helpers import free_hub_address, wait_until

TAGS = 500


def _chunk(backlog: Backlog, start: int, n: int, tags: int = TAGS) -> None:
    aliases = np.arange(tags, dtype=np.uint32)
    for i in range(start, start + n):
        backlog.add(
            aliases,
            np.full(tags, float(i)),
            np.full(tags, 1_000 + i, dtype=np.int64),
            None,
            {},
        )


def test_take_cuts_the_oldest_samples_into_messages_under_the_limit() -> None:
    backlog = Backlog()
    _chunk(backlog, 0, 400)  # 200,000 samples: 4.2 MB as one message
    codec = Codec()
    header = Header(src="fast-1", epoch=2**62, seq=2**40, ts=2**62)
    sizes, seen = [], []
    while backlog.count:
        body, n = backlog.take(1_000_000)
        assert body is not None and n > 0
        sizes.append(sum(len(f) for f in codec.frames(header, body)))
        seen.append(unpack(body)[2])
        backlog.consume(n)
    assert len(sizes) == 5 and max(sizes) <= 1_000_000
    ts = np.concatenate(seen)
    assert ts.shape[0] == 200_000 and bool(np.all(np.diff(ts) >= 0))  # in time order


def test_text_counts_toward_the_limit_and_a_sample_too_large_for_any_message_is_reported() -> None:
    backlog = Backlog()
    backlog.add(
        np.array([0, 1, 2], np.uint32),
        np.full(3, np.nan),
        np.array([1, 2, 3], np.int64),
        None,
        {0: "x" * 5000, 1: "y" * 10, 2: "z" * 10},
    )
    assert backlog.take(2000) == (None, 1)  # the caller drops it and counts it
    backlog.consume(1)
    body, n = backlog.take(2000)
    assert n == 2 and body is not None and body.text == {0: "y" * 10, 1: "z" * 10}


def test_bound_drops_the_oldest_and_keeps_each_tags_latest_value() -> None:
    backlog = Backlog()
    backlog.add(np.array([7], np.uint32), np.array([70.0]), np.array([1], np.int64), None, {})
    _chunk(backlog, 0, 100, tags=10)
    dropped = backlog.bound(max_samples=500, max_bytes=10**9)
    assert dropped == 1001 - backlog.count and backlog.count <= 500
    aliases, values, ts, _ = unpack(backlog.data())
    assert bool(np.all(np.diff(ts) >= 0))
    assert values[aliases == 7][-1] == 99.0  # tag 7's newest sample is kept
    assert set(aliases.tolist()) == set(range(10))


class Offline:
    """An agent (on its runner's thread) publishing 500 tags × 20 samples per tick while no hub
    listens at its address; hubs come and go with :meth:`start_hub` / :meth:`stop_hub`."""

    def __init__(self, data_dir: Path, **settings: object) -> None:
        self.data_dir = data_dir
        self.address = free_hub_address()
        self.bus = Bus(Security.from_data_path(data_dir, "agent", False))
        self.session = AgentSession(
            self.bus,
            self.address,
            MachineInfo(id="fast-1", name="Fast 1", kind="x"),
            [TagSpec(name=f"t{i}", alias=i) for i in range(TAGS)],
            settings=AgentSettings(**settings),  # type: ignore[arg-type]
        )
        self.publishing = threading.Event()
        self.published = 0
        self.last = 0.0
        self.hub: Hub | None = None
        self.hub_bus: Bus | None = None
        self.runner = AgentRunner([self.session], self._tick, 0.005)
        self.runner.start()

    def _tick(self, now: float) -> None:
        if not self.publishing.is_set():
            return
        aliases = np.tile(np.arange(TAGS, dtype=np.uint32), 20)
        values = np.repeat(self.last + np.arange(1, 21, dtype=np.float64), TAGS)
        ts = np.repeat(time.time_ns() + np.arange(20, dtype=np.int64), TAGS)
        self.session.publish_columns(aliases, values, ts)
        self.last += 20
        self.published += aliases.shape[0]

    def publish_while_offline(self, samples: int) -> int:
        """Publish about ``samples`` more; return how many exactly."""
        before = self.published
        self.publishing.set()
        wait_until(lambda: self.published - before >= samples, 30, "publishing")
        self.publishing.clear()
        time.sleep(0.05)  # let a tick already under way finish (the count is read after it)
        return self.published - before

    def start_hub(self) -> Hub:
        self.hub_bus = Bus(Security.from_data_path(self.data_dir, "hub", False))
        self.hub = Hub(self.hub_bus, HubSettings(bind=self.address))
        self.hub.start()
        return self.hub

    def stop_hub(self) -> None:
        if self.hub is not None and self.hub_bus is not None:
            self.hub.request_stop()
            self.hub.join(3)
            self.hub_bus.close()
            self.hub = self.hub_bus = None

    def close(self) -> None:
        self.publishing.clear()
        self.runner.request_stop()
        self.runner.join(5)
        self.bus.close()
        self.stop_hub()


@pytest.fixture
def offline(data_dir: Path) -> Iterator[Offline]:
    rig = Offline(data_dir)
    try:
        yield rig
    finally:
        rig.close()


def test_a_backlog_after_an_outage_is_delivered_whole_in_messages_under_the_limit(
    offline: Offline, caplog: pytest.LogCaptureFixture
) -> None:
    held = offline.publish_while_offline(200_000)  # one 4.2 MB DATA: the hub would refuse it
    assert offline.session.pending_samples == held
    assert "cannot send to the hub" in caplog.text
    hub = offline.start_hub()
    wait_until(lambda: hub.stats.samples == held, 30, f"all {held} held samples at the hub")
    stats = offline.session.stats
    assert stats.sent_data_messages >= 5 and stats.sent_samples == held
    assert stats.samples_dropped == 0 and offline.session.pending_samples == 0
    assert stats.births == 1  # BIRTH, then the backlog; no second BIRTH for the hub's HB


def test_a_backlog_held_across_a_hub_restart_follows_a_new_birth(offline: Offline) -> None:
    first = offline.start_hub()
    wait_until(lambda: offline.session.stats.births == 1, 10, "born on the first hub")
    before = offline.publish_while_offline(20_000)  # online this time
    wait_until(lambda: first.stats.samples == before, 20, "the first hub to have everything")
    offline.stop_hub()
    held = offline.publish_while_offline(150_000)
    second = offline.start_hub()
    wait_until(lambda: second.stats.samples == held, 30, f"all {held} held samples")
    assert offline.session.stats.births == 2  # exactly one BIRTH for the restarted hub
    assert offline.session.stats.samples_dropped == 0


def test_a_backlog_past_its_bound_drops_the_oldest_counts_and_says_so(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Offline(data_dir, backlog_samples=50_000)
    try:
        published = rig.publish_while_offline(200_000)
        dropped = rig.session.stats.samples_dropped
        assert dropped >= 100_000 and rig.session.pending_samples <= 50_000
        assert "backlog full" in caplog.text and "dropped the" in caplog.text
        hub = rig.start_hub()
        wait_until(lambda: hub.stats.samples == published - dropped, 30, "what was kept")
        assert rig.session.stats.sent_samples + dropped == published  # nothing unaccounted for
    finally:
        rig.close()
