"""History windows for trends: full rate for the recent past, min/max per interval before."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import numpy as np
import pytest

from copilot.hub import HistoryService, PlantState
from copilot.protocol import (
    Birth,
    Body,
    ErrorReply,
    Header,
    HistoryReply,
    HistoryRequest,
    MachineInfo,
    TagSpec,
)
from copilot.protocol.columns import pack
from copilot.settings import HubSettings


class Replies:
    """A publisher that keeps what a service sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Body]] = []

    def publish(self, topic: bytes, body: Body) -> None:
        self.sent.append((topic, body))

    def reply(self, identity: bytes, body: Body) -> bool:
        self.sent.append((identity, body))
        return True


def _plant(settings: HubSettings) -> tuple[PlantState, HistoryService]:
    plant = PlantState(settings)
    service = HistoryService(settings)
    service.attach(plant, Replies())
    return plant, service


def test_history_mixes_full_rate_and_minmax_tiers_with_gaps_as_nan(data_dir: Path) -> None:
    plant, hub = _plant(
        HubSettings(history_full_s=60, history_minmax_interval_s=10, history_hours=1)
    )
    birth = Birth(
        machine=MachineInfo(id="m1", name="M1", kind="x"), tags=[TagSpec(name="temp", alias=0)]
    )
    now = time.time()
    plant.birth(b"id", "", Header(src="m1", epoch=1, seq=0, ts=0), birth, b"")
    # 20 minutes at 1 Hz, with a 2-minute hole in the middle
    t = np.arange(now - 1200, now, 1.0)
    t = t[(t < now - 700) | (t >= now - 580)]
    v = np.sin(t / 30.0)
    for i in range(0, t.size, 50):
        chunk = slice(i, i + 50)
        plant.data(
            b"id",
            Header(src="m1", epoch=1, seq=1 + i // 50, ts=0),
            pack(np.zeros(t[chunk].size), v[chunk], (t[chunk] * 1e9).astype(np.int64)),
            b"",
        )
    reply = hub.history(
        HistoryRequest(
            machine="m1",
            tags=["temp", "nope"],
            since=int((now - 1200) * 1e9),
            max_points=100_000,
        )
    )
    assert isinstance(reply, HistoryReply)
    series, missing = reply.series
    assert missing.tier == "none" and missing.t == []
    assert series.tier == "mixed"
    times = np.asarray(series.t) * 1e-9
    values = np.asarray(series.v)
    assert np.all(np.diff(times) >= 0)
    recent = times >= now - 60
    assert recent.sum() >= 59  # full rate in the last minute
    old = times < now - 300  # older than the full-rate ring holds here (256 samples)
    assert old.sum() <= 2 * 92  # a min/max pair per 10 s, not 900 raw samples
    hole = (times > now - 690) & (times < now - 590)
    assert hole.any() and np.isnan(values[hole]).all()  # the gap is a gap
    finite = values[np.isfinite(values)]
    assert finite.min() >= -1 and finite.max() <= 1
    # Each min/max pair of the old tier is the true min and max of its 10 s interval.
    raw_t, raw_v = t, v
    pairs = 0
    for start in np.floor(times[old] / 10) * 10:
        inside = (raw_t >= start) & (raw_t < start + 10)
        if not inside.any():
            continue
        mine = (times >= start) & (times < start + 10)
        shown = values[mine][np.isfinite(values[mine])]
        assert shown.min() == pytest.approx(raw_v[inside].min(), abs=1e-6)
        assert shown.max() == pytest.approx(raw_v[inside].max(), abs=1e-6)
        pairs += 1
    assert pairs > 20
    decimated = hub.history(
        HistoryRequest(machine="m1", tags=["temp"], since=int((now - 1200) * 1e9), max_points=50)
    )
    assert isinstance(decimated, HistoryReply) and len(decimated.series[0].t) <= 50


def _one_tag_machine(plant: PlantState, tags: int = 1) -> float:
    birth = Birth(
        machine=MachineInfo(id="m1", name="M1", kind="x"),
        tags=[TagSpec(name=f"t{i}", alias=i) for i in range(tags)],
    )
    plant.birth(b"id", "", Header(src="m1", epoch=1, seq=0, ts=0), birth, b"")
    now = time.time()
    t = np.arange(now - 100, now, 0.01)
    aliases = np.arange(t.size) % tags
    plant.data(b"id", Header(src="m1", epoch=1, seq=1, ts=0), pack(aliases, t, t * 1e9), b"")
    return now


def test_a_large_history_answer_comes_in_parts_under_the_size_limit() -> None:
    settings = HubSettings(max_reply_bytes=64 * 1024)
    plant, service = _plant(settings)
    now = _one_tag_machine(plant)
    parts = service.answer(
        HistoryRequest(
            machine="m1",
            tags=["t0"],
            since=int((now - 100) * 1e9),
            max_points=200_000,
            request_id=7,
        )
    )
    assert len(parts) >= 3
    assert all(isinstance(p, HistoryReply) and p.request_id == 7 for p in parts)
    assert [p.part for p in parts if isinstance(p, HistoryReply)] == list(range(len(parts)))
    assert [p.last for p in parts if isinstance(p, HistoryReply)][-1] is True
    encoder = msgspec.msgpack.Encoder()
    assert max(len(encoder.encode(p)) for p in parts) < settings.max_reply_bytes
    times = [t for p in parts if isinstance(p, HistoryReply) for s in p.series for t in s.t]
    assert len(times) == 10_000 and times == sorted(times)  # reassembled: every sample, in order


def test_history_for_many_tags_is_bounded_and_too_many_is_an_error_with_its_id() -> None:
    settings = HubSettings(
        max_history_samples=50_000, max_history_tags=5000, max_reply_bytes=1 << 20
    )
    plant, service = _plant(settings)
    now = _one_tag_machine(plant, tags=1000)
    names = [f"t{i}" for i in range(1000)]
    since = int((now - 200) * 1e9)
    parts = service.answer(HistoryRequest(machine="m1", tags=names, since=since, request_id=3))
    replies = [p for p in parts if isinstance(p, HistoryReply)]
    assert replies and replies[0].truncated
    assert sum(len(s.t) for p in replies for s in p.series) <= 50_000
    assert {s.tag for p in replies for s in p.series} == set(names)
    refused = service.answer(
        HistoryRequest(
            machine="m1", tags=[f"x{i}" for i in range(10_000)], since=since, request_id=9
        )
    )
    assert len(refused) == 1 and isinstance(refused[0], ErrorReply)
    assert refused[0].request_id == 9 and refused[0].code == "history_too_big"
    unknown = service.answer(HistoryRequest(machine="zz", tags=["a"], since=since, request_id=4))
    assert isinstance(unknown[0], ErrorReply) and unknown[0].request_id == 4


def test_a_window_that_ends_in_the_past_stops_there() -> None:
    settings = HubSettings(history_full_s=60, history_minmax_interval_s=10, history_hours=1)
    plant, service = _plant(settings)
    birth = Birth(
        machine=MachineInfo(id="m1", name="M1", kind="x"), tags=[TagSpec(name="a", alias=0)]
    )
    plant.birth(b"id", "", Header(src="m1", epoch=1, seq=0, ts=0), birth, b"")
    now = time.time()
    t = np.arange(now - 1200, now, 0.5)  # a backlog, arriving at once
    for seq, i in enumerate(range(0, t.size, 50), start=1):
        c = t[i : i + 50]
        plant.data(b"id", Header(src="m1", epoch=1, seq=seq, ts=0), pack(c * 0, c, c * 1e9), b"")
    since, until = now - 1000, now - 600  # long before what the rings hold
    reply = service.history(
        HistoryRequest(machine="m1", tags=["a"], since=int(since * 1e9), until=int(until * 1e9))
    )
    assert isinstance(reply, HistoryReply)
    series = reply.series[0]
    times = np.asarray(series.t) * 1e-9
    assert series.tier == "minmax" and times.size == 2 * 41  # intervals since..until, no more
    assert times[0] <= since < times[0] + 10 and times[-2] <= until < times[-2] + 10
    values = np.asarray(series.v)
    assert values[0] == np.float32(t[t >= np.floor(since / 10) * 10][0])  # the min is the first


def test_ticks_fold_every_machine_within_the_fold_period_a_few_at_a_time() -> None:
    """Folding 200 machines at once held the hub's loop for 0.1–0.6 s: a tick folds a share."""
    plant, service = _plant(HubSettings())
    now = time.time()
    for m in range(40):
        mid = f"m{m:02d}"
        birth = Birth(
            machine=MachineInfo(id=mid, name=mid, kind="x"), tags=[TagSpec(name="t", alias=0)]
        )
        plant.birth(mid.encode(), "", Header(src=mid, epoch=1, seq=0, ts=0), birth, b"")
        header = Header(src=mid, epoch=1, seq=1, ts=0)
        plant.data(mid.encode(), header, pack([0], [1.0], [int(now * 1e9)]), b"")
    service.tick(100.0)  # the first tick folds everything known (nothing waited before it)
    folded: list[int] = []
    for step in range(1, 21):  # 2 s of 0.1-s ticks
        before = {mid: int(s.folded.sum()) for mid, s in plant.machines.items()}
        for mid in list(plant.machines):  # one new sample each tick
            header = Header(src=mid, epoch=1, seq=1 + step, ts=0)
            plant.data(mid.encode(), header, pack([0], [2.0], [int(now * 1e9) + step]), b"")
        service.tick(100.0 + 0.1 * step)
        after = {mid: int(s.folded.sum()) for mid, s in plant.machines.items()}
        folded.append(sum(after[m] > before[m] for m in after))
    assert max(folded) <= 3, f"a tick folded {max(folded)} of 40 machines"
    assert sum(folded) >= 40, "every machine was folded within the fold period"
    assert all(int(s.folded.sum()) >= 2 for s in plant.machines.values())
