"""Line rasterising for dense trends: the pixels a 1-px line covers, per column."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from copilot.pixels import Canvas, ColumnRuns, Grid, RunSet, argb

INK = argb(40, 40, 40)


def _draw(grid: Grid, runs: list[ColumnRuns], first: int) -> np.ndarray:
    canvas = Canvas(grid)
    canvas.paint(np.arange(first, first + grid.capacity, dtype=np.int64), [(INK, runs)])
    return canvas.pixels != 0


def test_a_slow_ramp_is_a_staircase_through_every_column_it_crosses() -> None:
    grid = Grid(dt=1.0, top=10.0, bottom=0.0, rows=10, capacity=12)
    runs = ColumnRuns(grid)
    runs.add(np.array([0.5, 9.5]), np.array([0.0, 9.99]), 0, 11)
    # Rising left to right = rows going up the image; adjacent columns touch (no holes).
    got = [runs.run(c) for c in range(11)]
    assert got[0] == (9, 9) and got[9] == (0, 0) and got[10] is None
    runs_ = [r for r in got[:10] if r is not None]
    assert len(runs_) == 10
    for (_, a_hi), (b_lo, _) in pairwise(runs_):
        assert b_lo <= a_hi  # each column overlaps the next: a connected line


def test_a_nan_is_a_gap_never_bridged_and_a_lone_sample_is_a_dot() -> None:
    grid = Grid(dt=1.0, top=10.0, bottom=0.0, rows=10, capacity=8)
    runs = ColumnRuns(grid)
    runs.add(np.array([0.5, 1.5, 2.5, 4.5]), np.array([5.0, np.nan, 8.0, np.nan]), 0, 7)
    assert runs.run(0) == (5, 5)
    assert runs.run(1) is None  # the NaN's column: nothing drawn towards it
    assert runs.run(2) == (2, 2)  # the lone sample between two gaps
    assert runs.run(3) is None and runs.run(4) is None


def test_samples_added_in_batches_draw_the_same_as_all_at_once() -> None:
    grid = Grid(dt=0.25, top=100.0, bottom=0.0, rows=50, capacity=64)
    t = np.arange(0.0, 15.0, 0.1)
    y = 50 + 40 * np.sin(t)
    y[70:75] = np.nan
    whole = ColumnRuns(grid)
    whole.add(t, y, 0, 63)
    parts = ColumnRuns(grid)
    for chunk in np.array_split(np.arange(t.size), 9):
        parts.add(t[chunk], y[chunk], 0, 63)
    assert (_draw(grid, [whole], 0) == _draw(grid, [parts], 0)).all()


def test_columns_outside_the_requested_range_are_not_computed() -> None:
    grid = Grid(dt=1.0, top=1.0, bottom=0.0, rows=4, capacity=4)
    runs = ColumnRuns(grid)
    changed = runs.add(np.arange(0.0, 20.0), np.full(20, 0.5), 16, 19)
    assert changed.tolist() == [16, 17, 18, 19]
    assert runs.run(12) is None  # same slot as 16, never held


def test_values_off_the_plot_are_clipped_to_its_edges_and_beyond_are_dropped() -> None:
    grid = Grid(dt=1.0, top=10.0, bottom=0.0, rows=10, capacity=4)
    runs = ColumnRuns(grid)
    runs.add(np.array([0.5, 1.5, 2.5]), np.array([50.0, 5.0, -50.0]), 0, 3)
    assert runs.run(0) is None  # wholly above the plot
    assert runs.run(1) == (0, 9)  # the steep line crosses the whole height
    assert runs.run(2) is None


def test_canvas_repaints_only_the_columns_asked_and_clears_reused_slots() -> None:
    grid = Grid(dt=1.0, top=4.0, bottom=0.0, rows=4, capacity=4)
    runs = ColumnRuns(grid)
    runs.add(np.array([0.5, 3.5]), np.array([2.5, 2.5]), 0, 3)
    canvas = Canvas(grid)
    canvas.paint(np.arange(0, 4, dtype=np.int64), [(INK, [runs])])
    assert (canvas.pixels[1] == INK).all() and not canvas.pixels[[0, 2, 3]].any()
    # Scrolling on: column 4 reuses column 0's slot and has no data yet → blank.
    canvas.paint(np.array([4], dtype=np.int64), [(INK, [runs])])
    assert not canvas.pixels[:, 0].any()
    assert (canvas.pixels[1, 1:] == INK).all()


def test_later_layers_cover_earlier_ones() -> None:
    grid = Grid(dt=1.0, top=2.0, bottom=0.0, rows=2, capacity=2)
    a, b = ColumnRuns(grid), ColumnRuns(grid)
    a.add(np.array([0.5, 1.5]), np.array([1.5, 1.5]), 0, 1)
    b.add(np.array([0.5, 1.5]), np.array([1.5, 1.5]), 0, 1)
    dark, light = argb(10, 10, 10), argb(200, 200, 200)
    canvas = Canvas(grid)
    canvas.paint(np.array([0, 1], dtype=np.int64), [(dark, [a]), (light, [b])])
    assert (canvas.pixels[0] == light).all()


@given(
    ys=st.lists(st.one_of(st.floats(-5, 15), st.just(float("nan"))), min_size=2, max_size=40),
    step=st.floats(0.05, 3.0),
)
def test_every_finite_sample_inside_the_plot_lights_its_own_pixel(
    ys: list[float], step: float
) -> None:
    grid = Grid(dt=0.5, top=10.0, bottom=0.0, rows=20, capacity=512)
    t = np.arange(len(ys)) * step
    y = np.array(ys)
    runs = ColumnRuns(grid)
    runs.add(t, y, 0, 511)
    for ti, yi in zip(t.tolist(), ys, strict=True):
        row = int(np.floor((10.0 - yi) * 2.0)) if np.isfinite(yi) else -1
        if not 0 <= row < grid.rows:
            continue  # a gap, or off the plot
        column = grid.column(ti)
        got = runs.run(column)
        assert got is not None and got[0] <= row <= got[1]


def test_runset_matches_one_columnruns_per_signal() -> None:
    """One vectorised pass for many signals gives exactly the runs of per-signal adds."""
    rng = np.random.default_rng(3)
    grid = Grid(0.4, 102, -2, 300, 400)
    count = 30
    one_by_one = [ColumnRuns(grid) for _ in range(count)]
    together = RunSet(grid, count)
    latest = [1000.0] * count
    for step in range(200):
        last = grid.column(1002.0 + step * 0.07)
        first = max(0, last - grid.capacity + 1)
        items = []
        expected = []
        for i in range(count):
            k = int(rng.integers(0, 4))
            if k == 0:
                continue
            t = latest[i] + np.cumsum(rng.uniform(0.01, 0.3, k))
            latest[i] = float(t[-1])
            y = rng.uniform(-10, 110, k)  # some rows off the grid
            y[rng.random(k) < 0.1] = np.nan  # gaps
            items.append((i, t, y))
            expected.append(one_by_one[i].add(t.copy(), y.copy(), first, last))
        changed = together.add(items, first, last)
        want = np.unique(np.concatenate(expected)) if expected else np.empty(0, np.int64)
        assert np.array_equal(changed, want)
    for i in range(count):
        assert np.array_equal(together.runs[i].col, one_by_one[i].col)
        assert np.array_equal(together.runs[i].lo, one_by_one[i].lo)
        assert np.array_equal(together.runs[i].hi, one_by_one[i].hi)
