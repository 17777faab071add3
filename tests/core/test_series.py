"""Batch-vectorised tag state and history."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from copilot.protocol import Quality, TagSpec
from copilot.series import (
    BatchError,
    MinMax,
    Rings,
    SegmentRings,
    TagTable,
    batch_ranks,
    occurrence_rank,
)


def test_occurrence_rank_counts_repeats_in_order() -> None:
    ranks = occurrence_rank(np.array([3, 1, 3, 3, 1, 0], dtype=np.int64))
    assert ranks.tolist() == [0, 0, 1, 2, 1, 0]


def test_ring_keeps_newest_in_time_order_with_repeats_in_one_batch() -> None:
    rings = Rings(2, 4)
    rings.append(
        np.array([0, 0, 1, 0]), np.array([1.0, 2.0, 2.0, 3.0]), np.array([10, 20, 5, 30.0])
    )
    rings.append(np.array([0, 0]), np.array([4.0, 5.0]), np.array([40, 50.0]))
    t, v = rings.window(0)
    assert t.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert v.tolist() == [20, 30, 40, 50]
    t, v = rings.window(0, since=3.5)
    assert v.tolist() == [40, 50]


@given(
    batches=st.lists(st.integers(1, 7), min_size=1, max_size=12),
    capacity=st.integers(1, 9),
    since=st.floats(-1.0, 60.0),
)
def test_ring_window_since_is_the_tail_of_the_whole_window(
    batches: list[int], capacity: int, since: float
) -> None:
    rings = Rings(1, capacity)
    n = 0
    for size in batches:
        ts = np.arange(n, n + size, dtype=np.float64)
        rings.append(np.zeros(size, dtype=np.int64), ts, ts * 10)
        n += size
    t_all, v_all = rings.window(0)
    t, v = rings.window(0, since=since)
    keep = t_all >= since
    assert t.tolist() == t_all[keep].tolist()
    assert v.tolist() == v_all[keep].tolist()


def test_ring_grows_to_cover_its_time_span_instead_of_overwriting() -> None:
    rings = Rings(1, 4, keep_s=100.0, max_capacity=64)
    for i in range(20):
        rings.append(np.array([0]), np.array([float(i)]), np.array([float(i)]))
    t, _ = rings.window(0)
    assert t.tolist() == [float(i) for i in range(20)]
    assert rings.capacity == 32


def test_minmax_buckets_hold_extremes_and_report_holes_as_nan() -> None:
    mm = MinMax(1, 10.0, 8)
    ts = np.array([0.0, 5.0, 9.0, 31.0])
    mm.append(np.zeros(4, dtype=np.int64), ts, np.array([3.0, -1.0, 7.0, 2.0]))
    t, lo, hi = mm.window(0, 0.0, 39.0)
    assert t.tolist() == [0.0, 10.0, 20.0, 30.0]
    assert lo[0] == -1.0 and hi[0] == 7.0
    assert np.isnan(lo[1]) and np.isnan(hi[2])
    assert lo[3] == hi[3] == 2.0


def test_tag_table_types_unknown_aliases_and_quality() -> None:
    table = TagTable(
        [
            TagSpec(name="n", alias=0, type="int"),
            TagSpec(name="s", alias=2, type="enum", labels=["run", "idle"]),
            TagSpec(name="txt", alias=3, type="str"),
        ]
    )
    table.apply(
        np.array([0, 2, 3]), np.array([5, 1, np.nan]), np.array([1.0, 1.0, 1.0]), None, {2: "hello"}
    )
    assert table.display_value(0) == 5 and table.display_value(2) == "idle"
    assert table.display_value(3) == "hello"
    with pytest.raises(BatchError):
        table.apply(np.array([1]), np.array([1.0]), np.array([1.0]), None)
    table.mark_all(int(Quality.BAD_STALE))
    assert not table.is_good(0)
    assert table.display_value(0) == 5  # a stale value keeps its last value


def test_since_returns_each_sample_once_across_growth_and_wrap() -> None:
    rings = Rings(2, 4, keep_s=5.0, max_capacity=8)
    seen: list[tuple[int, float]] = []
    mark = np.zeros(2, dtype=np.int64)
    for i in range(30):
        rings.append(np.array([0, 1]), np.array([float(i)] * 2), np.array([float(i), -i]))
        if i % 3 == 0:
            a, t, _ = rings.since(mark)
            seen += list(zip(a.tolist(), t.tolist(), strict=True))
            mark = rings.total.copy()
    a, t, _ = rings.since(mark)
    seen += list(zip(a.tolist(), t.tolist(), strict=True))
    assert sorted(seen) == sorted((tag, float(i)) for tag in (0, 1) for i in range(30))


def test_agent_conflation_keeps_the_newest_sample_of_each_tag() -> None:
    from copilot.agent import _Pending
    from copilot.protocol.columns import unpack

    pending = _Pending()
    for i in range(3):
        pending.add(
            np.array([0, 1], dtype=np.uint32),
            np.array([i, 10.0 + i]),
            np.array([i, i], dtype=np.int64),
            None,
            {},
        )
    assert pending.conflate() == 4
    aliases, values, _, _ = unpack(pending.data())
    assert sorted(zip(aliases.tolist(), values.tolist(), strict=True)) == [(0, 2.0), (1, 12.0)]


def test_batch_ranks_equal_occurrence_ranks_for_tick_batches_and_any_other() -> None:
    rng = np.random.default_rng(0)
    for trial in range(2000):
        width, ticks = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        if trial % 3 == 1:
            aliases = rng.integers(0, 5, int(rng.integers(1, 12)))
        else:
            aliases = np.tile(rng.permutation(10)[:width], ticks)
            if trial % 3 == 2:
                aliases[rng.integers(0, aliases.size)] = rng.integers(0, 10)
        aliases = aliases.astype(np.int64)
        counts = np.bincount(aliases, minlength=10)
        assert np.array_equal(batch_ranks(aliases, counts), occurrence_rank(aliases)), aliases


def test_segment_rings_hold_what_rings_hold_but_grow_only_the_tags_that_send() -> None:
    rng = np.random.default_rng(1)
    seg = SegmentRings(5, 4, keep_s=50.0, max_capacity=64)
    ref = Rings(5, 4, keep_s=50.0, max_capacity=64)
    t = 0.0
    for step in range(300):
        n = int(rng.integers(1, 8))
        aliases = np.sort(rng.integers(0, 3, n)).astype(np.int64)
        ts = t + np.arange(n) * 0.01
        t += 1
        values = rng.random(n)
        seg.append(aliases, ts, values)
        ref.append(aliases, ts, values)
        if step % 13 == 0:
            for alias in range(5):
                got, want = seg.window(alias, t - 30), ref.window(alias, t - 30)
                assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    start = np.zeros(5, dtype=np.int64)
    for got, want in zip(seg.since(start), ref.since(start), strict=True):
        assert np.array_equal(got, want)
    assert seg.cap[3:].tolist() == [0, 0]  # tags that never sent hold nothing
    assert seg.held_slots < ref.capacity * 5


def test_segment_rings_since_reads_the_same_by_slices_and_by_gathers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import copilot.series as series

    rng = np.random.default_rng(3)
    for _ in range(200):
        size = int(rng.integers(1, 20))
        rings = SegmentRings(
            size,
            initial=int(rng.integers(1, 8)),
            keep_s=float(rng.integers(1, 50)),
            max_capacity=int(rng.choice([8, 64, 1024])),
        )
        t = 0.0
        for _ in range(int(rng.integers(1, 30))):
            n = int(rng.integers(0, 200))
            aliases = rng.integers(0, size, n).astype(np.int64)
            ts = t + np.arange(n) * 0.1  # every tag's samples in time order
            t += n * 0.1
            rings.append(aliases, ts, ts * 2)
        start = rng.integers(0, int(rings.total.max()) + 1, size).astype(np.int64)
        monkeypatch.setattr(series, "SLICE_RUN", 10**9)
        gathered = rings.since(start)
        monkeypatch.setattr(series, "SLICE_RUN", 0)
        sliced = rings.since(start)
        for a, b in zip(gathered, sliced, strict=True):
            np.testing.assert_array_equal(a, b)


def test_segment_rings_say_when_an_append_may_overwrite_what_was_not_taken() -> None:
    rings = SegmentRings(2, initial=4, keep_s=None, max_capacity=4)
    taken = np.zeros(2, dtype=np.int64)
    three = np.array([3, 0])
    assert not rings.would_overwrite(taken, three)
    rings.append(np.zeros(3, dtype=np.int64), np.arange(3.0), np.arange(3.0))
    assert not rings.would_overwrite(taken, np.array([1, 0]))  # 4 fit in 4
    assert rings.would_overwrite(taken, np.array([2, 0]))  # the 1st would go, not taken
    assert not rings.would_overwrite(rings.total.copy(), np.array([4, 4]))  # all taken


def test_a_steady_tag_grows_once_to_what_its_rate_needs_not_through_every_doubling() -> None:
    """A plant of tags at one rate used to double together at 16, 32 … samples, each time
    copying them all in one go (a stall of the hub's loop); a full segment now grows at once
    to what ``keep_s`` needs at the rate it saw, and holds that span."""
    seg = SegmentRings(3, 16, keep_s=120.0, max_capacity=1 << 14)
    resizes: list[int] = []
    real = seg._resize

    def counting(aliases, caps):  # type: ignore[no-untyped-def]
        caps = list(caps)
        resizes.extend(caps)
        real(aliases, caps)

    seg._resize = counting  # type: ignore[method-assign]
    aliases = np.arange(3, dtype=np.int64)
    for k in range(10 * 300):  # 10 Hz for 300 s
        t = k / 10
        seg.append(aliases, np.full(3, t), np.full(3, float(k)))
    assert len(resizes) <= 2 * 3, f"grew {len(resizes)} times: {resizes}"
    assert seg.cap.tolist() == [2048, 2048, 2048]  # 120 s at 10 Hz is 1,200 samples
    t, _v = seg.window(0)
    assert t[-1] - t[0] >= 120.0


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def test_growing_a_plants_segments_commits_memory_as_samples_arrive_not_all_at_once() -> None:
    """10,000 tags at 10 Hz first fill their segments in the same second: writing the grown
    segments at allocation committed ~2.6 GB then, a stall of the hub of several seconds."""
    tags = 2000
    seg = SegmentRings(tags, 16, keep_s=900.0, max_capacity=1 << 14)
    aliases = np.arange(tags, dtype=np.int64)
    for k in range(16):  # every segment full, none grown yet
        seg.append(aliases, np.full(tags, k / 10), np.full(tags, float(k)))
    before = _rss_mb()
    seg.append(aliases, np.full(tags, 1.6), np.full(tags, 16.0))  # every segment grows now
    grown = _rss_mb() - before
    assert seg.cap.min() == 1 << 14  # 900 s at 10 Hz: 16,384 slots each, 524 MB if written
    assert grown < 100, f"growing committed {grown:.0f} MB at once"
    t, v = seg.window(7)
    assert t.tolist() == [k / 10 for k in range(17)] and v[-1] == 16.0
