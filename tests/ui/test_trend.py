"""The trend view against a real hub and simulated plant: live data, history, pause, cursor,
export, gaps, pinch/wheel auto-pause, and screenshots in both themes."""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import sample_while_running, save_screenshot
from ui.theme import apply
from ui.trend import NO_VALUE, QtTrend, scroll_step

MACHINE = "cnc-01"
TAG = "spindle_temp_c"
KEY = f"{MACHINE}/{TAG}"
SIM_ARGS = ("--machines", "12", "--rate", "5", "--seed", "4")

# The offscreen platform cannot pass a top-level window's minimum size on; harmless here.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


@pytest.fixture
def styled() -> Iterator[None]:
    """Give the application the station style for the duration of one test."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    yield
    app.setStyleSheet("")


def open_trend(ctx, qtbot, tags=(TAG,), window=120.0) -> QtTrend:  # type: ignore[no-untyped-def]
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply(app, ctx.theme)
    trend = QtTrend(ctx)
    qtbot.addWidget(trend)
    trend.resize(1280, 720)
    trend.show()
    qtbot.waitExposed(trend)
    trend.set_window(window)
    trend.show_signals(MACHINE, list(tags))
    return trend


def store_len(ctx) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    t, _ = ctx.store.window(MACHINE, TAG)
    return int(t.size), float(t[-1]) if t.size else 0.0


def test_live_history_pause_cursor_export(live_plant, make_ctx, qtbot, tmp_path, styled):
    ctx = make_ctx()
    trend = open_trend(ctx, qtbot)
    assert trend.window_seconds() == 120.0
    assert trend.signals() == [KEY]

    # History is requested on open and its reply merged.
    qtbot.waitUntil(lambda: len(trend.history_handled) >= 1, timeout=10_000)

    # Live data flow in; the X range follows "now".
    qtbot.waitUntil(lambda: trend.point_counts()[KEY] >= 5, timeout=20_000)
    first = trend.point_counts()[KEY]
    qtbot.waitUntil(lambda: trend.point_counts()[KEY] > first, timeout=20_000)
    x0, x1 = trend.x_range()
    assert x1 - x0 == pytest.approx(120.0, abs=0.5)
    curve = trend.curves()[KEY]
    assert curve.opts["connect"] == "finite"
    assert curve.opts["antialias"] is False
    assert curve.opts["clipToView"] is True
    assert curve.opts["autoDownsample"] is True

    # Pause: the curves and the X range freeze while the store keeps growing.
    trend.set_paused(True)
    assert trend.is_paused()
    assert trend.pause_button.isChecked()
    frozen = trend.point_counts()[KEY]
    frozen_range = trend.x_range()
    n0, last0 = store_len(ctx)
    qtbot.waitUntil(lambda: store_len(ctx)[0] >= n0 + 3, timeout=20_000)
    assert store_len(ctx)[1] > last0
    assert trend.point_counts()[KEY] == frozen
    assert trend.x_range() == frozen_range

    # Resume: everything that arrived meanwhile shows at once.
    trend.set_paused(False)
    assert not trend.is_paused()
    assert trend.point_counts()[KEY] >= frozen + 3
    t, v = trend.plotted(KEY)
    store_t, store_v = ctx.store.window(MACHINE, TAG)
    assert t[-1] >= store_t[-1] - 1e-9 or t[-1] == pytest.approx(store_t[-1])

    # Cursor on a sample: its value with the unit, and the time in the readout.
    trend.set_paused(True)
    t, v = trend.plotted(KEY)
    finite = np.flatnonzero(np.isfinite(v))
    idx = int(finite[len(finite) // 2])
    trend.set_cursor(float(t[idx]))
    values = trend.cursor_values()
    assert values[KEY] == f"{v[idx]:.1f} °C"
    assert KEY in trend.readout.text()
    assert "Cursor " in trend.readout.text()
    # Before the first sample there is no value.
    trend.set_cursor(float(t[0]) - 100)
    assert trend.cursor_values()[KEY] == NO_VALUE
    trend.set_cursor(float(t[idx]))
    t0, t1 = float(t[finite[0]]), float(t[finite[-1]])
    mid = (t0 + t1) / 2
    trend.set_x_range(min(t0 - 2, mid - 10), max(t1 + 2, mid + 10))  # zoom in for the picture
    assert trend.is_paused()
    QApplication.processEvents()
    shot = save_screenshot(trend, "trend_cursor")
    assert shot.stat().st_size > 0

    # CSV: header, rows within the visible range, values equal to the store's.
    path = tmp_path / "trend.csv"
    rows_written = trend.export_csv(path)
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time_iso", "unix_s", "machine", "tag", "value", "unit", "quality"]
    assert len(rows) - 1 == rows_written > 0
    x0, x1 = trend.x_range()
    ring = dict(zip(store_t.tolist(), store_v.tolist(), strict=True))
    matched = 0
    assert rows[1][4] != ""  # no empty leading row
    for _iso, unix_s, machine, tag, value, unit, quality in rows[1:]:
        ts = float(unix_s)
        assert x0 <= ts <= x1
        assert (machine, tag, unit) == (MACHINE, TAG, "°C")
        assert quality == ("good" if value else "bad")
        if ts in ring:
            expected = ring[ts]
            assert (value == "") if math.isnan(expected) else float(value) == expected
            matched += 1
    assert matched > 0

    # PNG: a real, non-empty picture.
    png = tmp_path / "trend.png"
    assert trend.export_png(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(png))
    assert image.width() > 600 and image.height() > 300

    # Click on the plot places the cursor.
    trend.set_cursor(None)
    assert trend.cursor_values() == {}
    viewport = trend.graphics.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=viewport.rect().center())
    qtbot.waitUntil(lambda: trend.cursor() is not None, timeout=3_000)
    x0, x1 = trend.x_range()
    assert x0 < trend.cursor() < x1


def test_wheel_pinch_pause_and_window_history(live_plant, make_ctx, qtbot, styled):
    ctx = make_ctx()
    trend = open_trend(ctx, qtbot, window=30.0)
    qtbot.waitUntil(lambda: trend.point_counts()[KEY] >= 3, timeout=20_000)
    assert not trend.is_paused()

    # A wheel turn on the plot zooms and pauses (like PlotJuggler).
    viewport = trend.graphics.viewport()
    center = QPointF(viewport.rect().center())
    wheel = QWheelEvent(
        center,
        QPointF(viewport.mapToGlobal(center.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, wheel)
    qtbot.waitUntil(trend.is_paused, timeout=3_000)
    assert trend.pause_button.isChecked()
    assert trend.pause_button.text() != "Pause"

    # Back to live, then a pinch: the time axis scales and the trend pauses.
    trend.set_paused(False)
    qtbot.waitUntil(lambda: trend.x_range()[1] - trend.x_range()[0] == pytest.approx(30, abs=0.5))
    x0, x1 = trend.x_range()
    trend.pinch_zoom(2.0)
    assert trend.is_paused()
    nx0, nx1 = trend.x_range()
    assert nx1 - nx0 == pytest.approx((x1 - x0) / 2, rel=0.02)

    # Widening the window to 1 h reaches beyond the ring: history is requested again.
    trend.set_paused(False)
    handled = len(trend.history_handled)
    trend.window_buttons[3600.0].click()
    assert trend.window_seconds() == 3600.0
    qtbot.waitUntil(lambda: len(trend.history_handled) > handled, timeout=10_000)
    x0, x1 = trend.x_range()
    assert x1 - x0 == pytest.approx(3600, abs=1)


def test_gap_is_not_interpolated(live_plant, make_ctx, qtbot, styled):
    ctx = make_ctx()
    trend = open_trend(ctx, qtbot, window=120.0)
    qtbot.waitUntil(lambda: trend.point_counts()[KEY] >= 3, timeout=20_000)

    sim = live_plant.procs[-1]
    sim.kill()
    sim.wait(5)

    def online() -> bool:
        return next(m for m in ctx.store.machines() if m.info.id == MACHINE).online

    qtbot.waitUntil(lambda: not online(), timeout=20_000)
    live_plant.sim(*SIM_ARGS)
    qtbot.waitUntil(online, timeout=30_000)

    def gap_then_data() -> bool:
        _t, v = trend.plotted(KEY)
        nan = np.flatnonzero(np.isnan(v))
        return nan.size > 0 and bool(np.isfinite(v[nan[-1] + 1 :]).any())

    qtbot.waitUntil(gap_then_data, timeout=30_000)
    # The store has the NaN marker too, and the curve never bridges it.
    _t, store_v = ctx.store.window(MACHINE, TAG)
    assert np.isnan(store_v).any()
    curve = trend.curves()[KEY]
    assert curve.opts["connect"] == "finite"
    assert curve.curve.opts["connect"] == "finite"
    _x, y = curve.getData()
    assert y is not None and np.isnan(y).any()
    # A cursor inside the outage reads "—".
    t, v = trend.plotted(KEY)
    gap = int(np.flatnonzero(np.isnan(v))[-1])
    trend.set_paused(True)
    trend.set_cursor(float(t[gap]) + 0.01)
    assert trend.cursor_values()[KEY] == NO_VALUE
    save_screenshot(trend, "trend_gap")


def test_overlaid_several_machines_dark(live_plant, make_ctx, qtbot, styled):
    ctx = make_ctx(theme="dark")
    trend = open_trend(ctx, qtbot, tags=(TAG, "vibration_mm_s"), window=120.0)
    trend.add_signal("press-01", "oil_temp_c")
    keys = [KEY, f"{MACHINE}/vibration_mm_s", "press-01/oil_temp_c"]
    assert trend.signals() == keys
    qtbot.waitUntil(lambda: all(n >= 3 for n in trend.point_counts().values()), timeout=20_000)
    QApplication.processEvents()
    save_screenshot(trend, "trend_stacked_dark")

    trend.set_stacked(False)
    assert not trend.is_stacked()
    assert trend.mode_button.isChecked()
    qtbot.waitUntil(lambda: all(n >= 3 for n in trend.point_counts().values()), timeout=5_000)
    # All curves in one plot, told apart by pen style / shade, not by hue.
    curves = trend.curves()
    assert len({id(c.getViewBox()) for c in curves.values()}) == 1
    pens = {(c.opts["pen"].style(), c.opts["pen"].color().name()) for c in curves.values()}
    assert len(pens) == 3
    for c in curves.values():
        color = c.opts["pen"].color()
        assert color.red() == color.green() == color.blue()  # neutral grey
    t, _v = trend.plotted(KEY)
    trend.set_paused(True)
    trend.set_cursor(float(t[-2]))
    values = trend.cursor_values()
    assert set(values) == set(keys)
    assert values[KEY].endswith("°C")
    finite = np.flatnonzero(np.isfinite(_v))
    trend.set_x_range(float(t[finite[0]]) - 2, float(t[finite[-1]]) + 2)
    QApplication.processEvents()
    path = Path(save_screenshot(trend, "trend_overlaid_dark"))
    assert path.stat().st_size > 0


def _dense_signals(ctx, count: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    picked = []
    for snap in ctx.store.machines():
        for spec in snap.tags:
            if spec.type == "float" and spec.eng_range is not None:
                picked.append((snap.info.id, spec.name))
    assert len(picked) >= count
    return picked[:count]


def test_many_overlaid_signals_draw_as_one_raster_at_their_values(
    live_plant, make_ctx, qtbot, styled
):
    ctx = make_ctx()
    trend = open_trend(ctx, qtbot, window=120.0)
    signals = _dense_signals(ctx, 16)
    trend.set_stacked(False)
    trend.show_signals(signals[0][0], [signals[0][1]])
    for machine, tag in signals[1:]:
        trend.add_signal(machine, tag)
    assert trend.is_dense() and not trend.is_stacked()
    assert trend.curves() == {}  # one raster item, not 16 curves
    layer = trend._dense
    assert layer is not None
    qtbot.waitUntil(lambda: all(n >= 5 for n in trend.point_counts().values()), timeout=20_000)
    commits = layer.commits
    qtbot.waitUntil(lambda: layer.commits > commits + 3, timeout=10_000)

    # Live, the view moves a step of columns at a time (each move repaints the whole plot
    # and its axis), never leaving the newest sample off its right edge.
    vb = trend._plots[0].getViewBox()
    edges: list[float] = []
    late: list[float] = []

    def watch_edge() -> None:
        x1 = vb.viewRange()[0][1]
        if not edges or x1 != edges[-1]:
            edges.append(x1)
        newest = max(float(trend.plotted(f"{m}/{t}")[0][-1]) for m, t in signals[:3])
        # A sample may arrive just after a frame; the next frame (33 ms on) moves the edge.
        if newest > x1 + 0.1:
            late.append(newest - x1)

    seconds = sample_while_running(qtbot, watch_edge, 15, 3000)
    column_s = trend._window / max(1, round(float(vb.width())))
    every = scroll_step(column_s) * column_s
    assert scroll_step(column_s) > 1
    assert len(edges) >= 2, "the live view did not move"
    assert len(edges) - 1 <= seconds / every + 2, (len(edges), seconds, every)
    assert not late, f"samples right of the view's edge by {max(late):.2f} s"

    # What the operator sees: at each signal's newest sample, its line's pixel on screen.
    trend.set_paused(True)
    QApplication.processEvents()
    image = trend.graphics.grab().toImage()
    dpr = image.devicePixelRatio()
    vb = trend._plots[0].getViewBox()
    background = QColor(ctx.theme.panel).lightness()
    missed = []
    for machine, tag in signals:
        t, v = trend.plotted(f"{machine}/{tag}")
        finite = np.flatnonzero(np.isfinite(v))
        i = int(finite[-2])  # not the newest: it may have arrived after the last raster frame
        sig = next(s for s in trend._signals if s.key == f"{machine}/{tag}")
        y = float(trend._norm(sig, float(v[i])))
        scene = vb.mapViewToScene(QPointF(float(t[i]), y))
        px = trend.graphics.mapFromScene(scene)
        x, y_px = round(px.x() * dpr), round(px.y() * dpr)  # the grab is in device pixels
        dark = [
            QColor(image.pixel(x + dx, y_px + dy)).lightness()
            for dx in range(-2, 3)
            for dy in range(-2, 3)
        ]
        if min(dark) > background - 40:
            missed.append(f"{machine}/{tag}")
    assert not missed, f"no line pixel drawn at the newest value of {missed}"

    # Paused: the raster stops; resumed: it shows what arrived meanwhile.
    frozen = layer.commits
    n0, _ = store_len(ctx)
    qtbot.waitUntil(lambda: store_len(ctx)[0] >= n0 + 3, timeout=20_000)
    QApplication.processEvents()
    assert layer.commits == frozen
    trend.set_paused(False)
    qtbot.waitUntil(lambda: layer.commits > frozen, timeout=5_000)

    # The cursor reads every signal, with units.
    trend.set_paused(True)
    t, _v = trend.plotted(f"{signals[0][0]}/{signals[0][1]}")
    trend.set_cursor(float(t[-3]))
    values = trend.cursor_values()
    assert len(values) == 16 and all(v != NO_VALUE for v in values.values())
    QApplication.processEvents()
    # The readout wraps onto several lines (and scrolls past four) instead of being cut off.
    assert trend.readout_area.height() > 2 * trend.readout.fontMetrics().lineSpacing()
    save_screenshot(trend, "trend_dense")


def test_samples_that_leave_the_ring_stay_on_the_trend(live_plant, make_ctx, qtbot, styled):
    # A 16-sample ring (~3 s at 5 Hz) under a 30 s window: what scrolls out of the ring while
    # the trend is open must stay drawn, not leave a hole between the history and the ring.
    ctx = make_ctx(ring_samples=16)
    trend = open_trend(ctx, qtbot, window=30.0)
    qtbot.waitUntil(lambda: len(trend.history_handled) >= 1, timeout=10_000)
    qtbot.waitUntil(lambda: trend.point_counts()[KEY] >= 16, timeout=20_000)
    opened = float(trend.plotted(KEY)[0][-1])

    def ring_start() -> float:
        t, _ = ctx.store.window(MACHINE, TAG)
        return float(t[0])

    qtbot.waitUntil(lambda: ring_start() > opened + 6.0, timeout=30_000)
    qtbot.waitUntil(lambda: trend.plotted(KEY)[0][-1] >= ring_start(), timeout=5_000)
    t, v = trend.plotted(KEY)
    between = np.isfinite(v) & (t > opened) & (t < ring_start())
    # 5 Hz for at least 6 s: about 30 samples, none lost.
    assert between.sum() >= 25, f"{between.sum()} samples between {opened} and the ring"
    assert np.all(np.diff(t) > 0)

    # Panning back further (which pauses) asks the hub again and shows its reply, paused.
    handled = len(trend.history_handled)
    trend.set_x_range(opened - 60.0, opened + 5.0)
    assert trend.is_paused()
    qtbot.waitUntil(lambda: len(trend.history_handled) > handled, timeout=10_000)
    assert trend.is_paused()
    t2, _v2 = trend.plotted(KEY)
    assert (t2[(t2 > opened) & (t2 < ring_start())]).size >= between.sum()


def test_buttons_lines_axis_cursor_label_export_and_theme(
    live_plant, make_ctx, qtbot, styled, data_dir
):
    from ui.theme import DARK

    ctx = make_ctx()
    trend = open_trend(ctx, qtbot)
    qtbot.waitUntil(lambda: trend.point_counts()[KEY] > 20, timeout=10_000)

    # One range button looks selected at a time — also when another one has keyboard focus.
    for text, seconds in (("30 s", 30.0), ("10 min", 600.0), ("2 min", 120.0)):
        trend.window_buttons[seconds].click()
        assert trend.selected_windows() == [text]
    focused = trend.window_buttons[30.0]
    focused.setFocus(Qt.FocusReason.TabFocusReason)
    QApplication.processEvents()

    def fill(button) -> str:  # type: ignore[no-untyped-def]
        image = button.grab().toImage()
        return image.pixelColor(6, image.height() // 2).name()

    selected = trend.window_buttons[120.0]
    assert fill(selected) == ctx.theme.text
    assert fill(focused) != fill(selected)
    assert [b for b in trend.window_buttons.values() if fill(b) == ctx.theme.text] == [selected]
    x0, x1 = trend.x_range()
    trend.set_x_range(x0 + 30, x1)  # a zoom: no button tells that span
    assert trend.selected_windows() == []
    trend.set_paused(False)
    assert trend.selected_windows() == ["2 min"]

    # 2 px lines for a handful of signals, 1 px for many.
    assert trend.line_widths() == {KEY: 2}
    many = [r.tag for r in ctx.store.readings(MACHINE)][:6]
    trend.show_signals(MACHINE, many)
    assert set(trend.line_widths().values()) == {1}
    trend.show_signals(MACHINE, [TAG])
    qtbot.waitUntil(lambda: trend.point_counts()[KEY] > 20, timeout=10_000)

    # Y fitted to the data, the normal band and the limits — not the instrument's range.
    spec = ctx.store.reading(MACHINE, TAG).spec
    assert spec.eng_range is not None and spec.normal is not None
    _, v = trend.plotted(KEY)
    v = v[np.isfinite(v)]
    y0, y1 = trend.y_range(KEY)
    assert y0 <= min(float(v.min()), spec.normal.lo) and y1 >= max(float(v.max()), spec.normal.hi)
    eng = spec.eng_range.hi - spec.eng_range.lo
    assert y1 - y0 < 0.9 * eng
    trend.scale_button.click()
    assert trend.is_full_scale()
    y0, y1 = trend.y_range(KEY)
    assert y0 <= spec.eng_range.lo + 0.01 * eng and y1 >= spec.eng_range.hi - 0.01 * eng
    trend.scale_button.click()
    assert trend.y_range(KEY)[1] - trend.y_range(KEY)[0] < 0.9 * eng

    # The value beside the cursor line, the same as the readout's.
    t, _ = trend.plotted(KEY)
    trend.set_cursor(float(t[-5]))
    value = trend.cursor_values()[KEY]
    assert value != NO_VALUE
    (label,) = trend.cursor_labels()
    assert label.endswith(value)
    verdict = trend.verdict_at(KEY, float(t[-5]))
    assert label == (f"{verdict.glyph} {value}" if verdict.abnormal else value)
    save_screenshot(trend, "trend_cursor_label")

    # Export: into <data folder>/exports, a notice naming the file, quality, no empty leading row.
    csv_path = trend.export("csv")
    assert csv_path is not None and csv_path.parent == data_dir / "exports"
    assert csv_path.name in trend.notice.text() and str(data_dir / "exports") in trend.notice.text()
    with csv_path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][-1] == "quality"
    assert rows[1][4] != "" and rows[1][6] == "good"
    assert {r[6] for r in rows[1:]} <= {"good", "bad"}
    png_path = trend.export("png")
    assert png_path is not None and png_path.parent == data_dir / "exports"
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png_path.name in trend.notice.text()

    # The theme has one source: the trend follows the context's signal.
    ctx.set_theme(DARK)
    assert trend.graphics.backgroundBrush().color().name() == DARK.panel
    assert trend.line_widths() == {KEY: 2}


def test_export_csv_skips_leading_gaps_and_folds_gap_runs(
    live_plant, make_ctx, qtbot, styled, tmp_path
):
    ctx = make_ctx()
    trend = open_trend(ctx, qtbot)
    qtbot.waitUntil(lambda: trend.point_counts()[KEY] > 5, timeout=10_000)
    trend.set_paused(True)
    (sig,) = trend._signals
    now = float(sig.t[-1])
    sig.t = np.array([now - 9, now - 8, now - 7, now - 6, now - 5, now - 4, now - 3])
    sig.v = np.array([np.nan, np.nan, 1.5, np.nan, np.nan, 2.5, 3.5])
    trend._set_x(now - 10, now)
    path = tmp_path / "gaps.csv"
    assert trend.export_csv(path) == 4
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    assert [(r[4], r[6]) for r in rows] == [
        ("1.5", "good"),
        ("", "bad"),
        ("2.5", "good"),
        ("3.5", "good"),
    ]


def test_a_narrow_trend_is_compact_and_its_range_buttons_fit(live_plant, make_ctx, qtbot, styled):
    ctx = make_ctx()
    trend = open_trend(ctx, qtbot)
    assert not trend.is_compact() and trend.csv_button.isVisible()
    trend.resize(340, 320)  # a machine view's side panel
    qtbot.waitUntil(trend.is_compact, timeout=2_000)
    QApplication.processEvents()
    assert not trend.csv_button.isVisible() and not trend.mode_button.isVisible()
    assert not trend.pause_button.isVisible()
    buttons = list(trend.window_buttons.values())
    for button in buttons:
        assert button.isVisible()
        inside = trend.rect().contains(button.geometry())
        assert inside, (button.text(), button.geometry())
        assert button.width() >= button.fontMetrics().horizontalAdvance(button.text()) + 4
    for left, right in itertools.pairwise(buttons):
        assert left.geometry().right() < right.geometry().left()  # never overlapping
    assert trend.selected_windows() == ["2 min"]
    assert not trend.readout_area.isVisible()
    trend.set_x_range(*trend.x_range())  # a pan pauses: the way back to live shows
    assert trend.is_paused() and not trend.pause_button.isVisible()
    assert trend.readout_area.isVisible() and "tap a range to go live" in trend.readout.text()
    save_screenshot(trend, "trend_compact")
    trend.window_buttons[600.0].click()
    assert not trend.is_paused() and trend.selected_windows() == ["10 min"]
    trend.resize(1280, 720)
    qtbot.waitUntil(lambda: not trend.is_compact(), timeout=2_000)
    assert trend.window_buttons[120.0].text() == "2 min"
