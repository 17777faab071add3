"""The Level 1 overview against a real hub and a real 12-machine simulated plant."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QLabel, QWidget

from copilot.protocol import Limits, MachineInfo, Quality, Range, TagSpec
from copilot.station import MachineSnapshot, Reading
from tests.ui.conftest import save_screenshot
from ui.overview import QtMachineTile, QtOverview, format_value
from ui.theme import DARK, LIGHT, Theme

STATES = ("running", "idle", "setup", "fault", "maintenance")


def _has_values(tile: QtMachineTile) -> bool:
    kv = tile.key_values()
    return tile.state_text() in STATES and len(kv) >= 2 and all(text != "—" for _tag, text in kv)


def _build(qtbot, ctx) -> QtOverview:  # type: ignore[no-untyped-def]
    view = QtOverview(ctx)
    qtbot.addWidget(view)
    view.resize(1600, 1000)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(
        lambda: len(view.tiles) == 12 and all(_has_values(t) for t in view.tiles.values()),
        timeout=20_000,
    )
    return view


def _ordered_by_attention(view: QtOverview) -> bool:
    for _title, ids in view.groups():
        keys = [view.tiles[mid].sort_key() for mid in ids]
        if keys != sorted(keys):
            return False
    return True


def test_format_value() -> None:
    assert format_value(71.26, "°C") == "71.3 °C"
    assert format_value(-0.001, "bar") == "0.00 bar"
    assert format_value(0.0) == "0"
    assert format_value(9876.4, "rpm") == "9876 rpm"
    assert format_value(6.789) == "6.79"
    assert format_value(math.nan, "A") == "— A"


@pytest.mark.slow
def test_overview_live_then_stale(live_plant, make_ctx, qtbot) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx()
    view = _build(qtbot, ctx)

    # Twelve tiles, each in one of the five states, key values carrying their BIRTH units.
    assert len(view.tiles) == 12
    assert sorted(view.ordered_ids()) == sorted(ctx.store.machine_ids())
    births = {m.info.id: m for m in ctx.store.machines()}
    for mid, tile in view.tiles.items():
        assert tile.objectName() == "tile"
        assert tile.state_text() in STATES
        assert not tile.is_stale(), (mid, tile.stale_text())
        assert tile.stale_text() == ""
        keys = {t.name: t for t in births[mid].tags if t.key and t.name != "state"}
        kv = tile.key_values()
        assert 2 <= len(kv) <= 3
        for tag, text in kv:
            assert tag in keys
            unit = keys[tag].unit
            assert text.endswith(f" {unit}"), (tag, text, unit)
            number = text.removesuffix(f" {unit}")
            assert number != "-0" and not number.startswith("-0.0")
            float(number)
        assert tile.minimumHeight() >= 48 * len(kv)
        assert all(rect.height() >= 48 for _tag, rect in tile.row_rects())
        assert tile.focusPolicy() & Qt.FocusPolicy.TabFocus

    # Grouped by line then area, section titles like "Line 1 · Machining".
    titles = [title for title, _ids in view.groups()]
    assert titles and all(t.startswith("Line ") and " · " in t for t in titles)
    labels = [w.text() for w in view.findChildren(QLabel, "sectionTitle")]
    assert sorted(labels) == sorted(titles)
    qtbot.waitUntil(lambda: _ordered_by_attention(view), timeout=5_000)

    # The grid re-flows: 1600 px gives several columns, 700 px fewer.
    first = view.tiles[view.ordered_ids()[0]]
    assert 300 <= first.width() <= 340
    wide = view.columns()
    assert wide >= 4
    view.resize(700, 1000)
    qtbot.waitUntil(lambda: view.columns() == 2)
    assert all(t.geometry().right() < 700 for t in view.tiles.values())
    assert all(300 <= t.width() <= 340 for t in view.tiles.values())
    view.resize(1600, 1000)
    qtbot.waitUntil(lambda: view.columns() == wide)

    # Tap a tile: open the machine; tap a key-value row: open that tag's trend.
    mid = view.ordered_ids()[0]
    tile = view.tiles[mid]
    with qtbot.waitSignal(ctx.open_machine, timeout=2_000) as opened:
        qtbot.mouseClick(tile, Qt.MouseButton.LeftButton, pos=QPoint(tile.width() // 2, 20))
    assert opened.args == [mid]
    tag, rect = tile.row_rects()[0]
    with qtbot.waitSignal(ctx.open_trend, timeout=2_000) as trend:
        qtbot.mouseClick(tile, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert trend.args == [mid, tag]
    # Keyboard: a focused tile opens its machine on Enter.
    tile.setFocus()
    with qtbot.waitSignal(ctx.open_machine, timeout=2_000) as keyed:
        qtbot.keyClick(tile, Qt.Key.Key_Return)
    assert keyed.args == [mid]

    # The alarm area: a placeholder until the alarm system feeds counts.
    tile.set_alarm_count(3, "high")
    view.tiles[view.ordered_ids()[1]].set_alarm_count(1, "medium")
    assert _has_color(_alarm_pixels(tile), LIGHT.fault)
    medium = _alarm_pixels(view.tiles[view.ordered_ids()[1]])
    assert _colourful(medium) and not _has_color(medium, LIGHT.fault)
    save_screenshot(view, "overview_light")

    # The plant goes away: every tile must turn stale, never look normal.
    live_plant.procs[-1].kill()
    qtbot.waitUntil(
        lambda: all(
            t.is_stale() and t.stale_text().startswith("No data since") for t in view.tiles.values()
        ),
        timeout=30_000,
    )
    qtbot.waitUntil(
        lambda: all(t.state_text() == "offline" for t in view.tiles.values()), timeout=30_000
    )
    qtbot.waitUntil(lambda: _ordered_by_attention(view), timeout=5_000)
    for _title, ids in view.groups():
        names = [view.tiles[m].snapshot.info.name.lower() for m in ids]
        assert names == sorted(names)  # all equally stale: by name
    assert all(t.attention() == 1 for t in view.tiles.values())
    save_screenshot(view, "overview_stale")


@pytest.mark.slow
def test_overview_dark(live_plant, make_ctx, qtbot) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(theme="dark")
    view = _build(qtbot, ctx)
    assert ctx.theme.name == "dark"
    qtbot.waitUntil(lambda: _ordered_by_attention(view), timeout=5_000)
    # Hidden views do no work on frames.
    view.hide()
    tile = next(iter(view.tiles.values()))
    before = tile.key_values()
    assert tile.isVisible() is False
    view.show()
    qtbot.waitExposed(view)
    assert before  # the tile kept its values while hidden
    save_screenshot(view, "overview_dark")


# -- deterministic rendering against a fake store (no processes) ------------------------------


class _FakeCtx(QObject):
    open_machine = Signal(str)
    open_trend = Signal(str, str)

    def __init__(self, store: object, theme: Theme) -> None:
        super().__init__()
        self.store = store
        self.theme = theme


class _FakeStore:
    """Just what a tile reads: ``reading`` and ``window``."""

    def __init__(self, specs: list[TagSpec], values: dict[str, object], quality: int = 0) -> None:
        self.specs = {s.name: s for s in specs}
        self.values = values
        self.quality = quality

    def reading(self, mid: str, tag: str, now: float | None = None) -> Reading | None:
        spec = self.specs.get(tag)
        if spec is None:
            return None
        q = 0 if tag == "state" else self.quality
        return Reading(mid, tag, self.values.get(tag), q, time.time(), spec, None)

    def window(self, mid: str, tag: str, since: float | None = None):  # type: ignore[no-untyped-def]
        t = time.time() - np.linspace(170, 0, 600)
        v = 40 + 30 * np.sin(np.linspace(0, 6, 600))
        v[300:340] = np.nan
        return t, v


SPECS = [
    TagSpec("state", 0, type="enum", labels=list(STATES)),
    TagSpec(
        "spindle_speed_rpm",
        1,
        unit="rpm",
        eng_range=Range(0, 12000),
        normal=Range(1000, 10000),
        limits=Limits(hi=10500, hihi=11500),
        key=True,
    ),
    TagSpec(
        "spindle_temp_c",
        2,
        unit="°C",
        eng_range=Range(0, 120),
        normal=Range(20, 65),
        limits=Limits(hi=72, hihi=82),
        key=True,
    ),
    TagSpec(
        "vibration_mm_s",
        3,
        unit="mm/s",
        normal=Range(0, 4.5),
        limits=Limits(hi=7.1, hihi=11.2),
        key=True,
    ),
]


def _fake_tile(
    qtbot, theme: Theme, values: dict[str, object], online: bool = True, quality: int = 0
) -> QtMachineTile:  # type: ignore[no-untyped-def]
    store = _FakeStore(SPECS, values, quality)
    ctx = _FakeCtx(store, theme)
    snap = MachineSnapshot(
        info=MachineInfo(id="cnc-09", name="CNC 9", kind="cnc", line="line-1", area="Machining"),
        tags=SPECS,
        commands=[],
        online=online,
        since=time.time() - 65,
        epoch=1,
        last_update=0.0,
    )
    tile = QtMachineTile(ctx, snap)  # type: ignore[arg-type]
    qtbot.addWidget(tile)
    tile.resize(320, tile.minimumHeight())
    tile.refresh(store, time.time())  # type: ignore[arg-type]
    return tile


def _pixels(widget: QWidget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * h)
    return data.reshape(h, image.bytesPerLine())[:, : w * 3].reshape(h, w, 3).astype(int)


def _alarm_pixels(tile: QtMachineTile) -> np.ndarray:
    """What the tile shows in its alarm area (top right), as RGB pixels."""
    rect = tile._geo.alarms.toAlignedRect()
    return _pixels(tile)[rect.top() : rect.bottom() + 1, rect.left() : rect.right() + 1]


def _colourful(px: np.ndarray) -> bool:
    """Whether any pixel has a clear colour (text and placeholders are grey)."""
    return bool((px.max(axis=2) - px.min(axis=2) > 60).any())


def _has_color(px: np.ndarray, color: str, tol: int = 12) -> bool:
    c = QColor(color)
    target = np.array([c.red(), c.green(), c.blue()])
    return bool((np.abs(px - target).max(axis=2) <= tol).any())


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])
def test_tile_colour_only_when_abnormal(qtbot, theme: Theme) -> None:  # type: ignore[no-untyped-def]
    normal = _fake_tile(
        qtbot,
        theme,
        {
            "state": "running",
            "spindle_speed_rpm": 7420.4,
            "spindle_temp_c": 50.26,
            "vibration_mm_s": -0.0001,
        },
    )
    assert normal.state_text() == "running"
    assert normal.key_values() == [
        ("spindle_speed_rpm", "7420 rpm"),
        ("spindle_temp_c", "50.3 °C"),
        ("vibration_mm_s", "0.00 mm/s"),
    ]
    assert all(sev == "" for _t, sev, _a in normal.deviations())
    assert normal.attention() == 3 and not normal.is_stale()
    px = _pixels(normal)
    saturation = px.max(axis=2) - px.min(axis=2)
    assert saturation.max() <= 12, "a normal tile must be entirely grey"

    bad = _fake_tile(
        qtbot,
        theme,
        {
            "state": "running",
            "spindle_speed_rpm": 500.0,
            "spindle_temp_c": 75.0,
            "vibration_mm_s": 12.0,
        },
    )
    assert bad.deviations() == [
        ("spindle_speed_rpm", "warning", "▼"),
        ("spindle_temp_c", "warning", "▲"),
        ("vibration_mm_s", "fault", "▲"),
    ]
    assert bad.attention() == 2
    px = _pixels(bad)
    assert _has_color(px, theme.warning) and _has_color(px, theme.fault)

    idle = _fake_tile(
        qtbot,
        theme,
        {"state": "idle", "spindle_speed_rpm": 0.0, "spindle_temp_c": 22.0, "vibration_mm_s": 0.0},
    )
    assert [d[1] for d in idle.deviations()] == ["", "", ""]  # below the running band is normal

    fault = _fake_tile(
        qtbot,
        theme,
        {"state": "fault", "spindle_speed_rpm": 0.0, "spindle_temp_c": 85.0, "vibration_mm_s": 1.0},
    )
    assert fault.state_text() == "fault" and fault.attention() == 0
    # The alarm area shows a count only once the alarm system feeds one, in the priority's colour.
    assert not _colourful(_alarm_pixels(fault))  # "— alarms", dim grey
    fault.set_alarm_count(2, "high")
    assert _has_color(_alarm_pixels(fault), theme.fault)  # a red triangle with the count
    fault.set_alarm_count(1, "medium")
    px = _alarm_pixels(fault)
    assert _colourful(px) and not _has_color(px, theme.fault)  # an amber diamond
    fault.set_alarm_count(0, "high")
    assert not _colourful(_alarm_pixels(fault))  # "0 alarms", dim grey
    fault.set_alarm_count(2, "high")
    save_screenshot(fault, f"tile_alarms_{theme.name}")

    offline = _fake_tile(
        qtbot,
        theme,
        {
            "state": "running",
            "spindle_speed_rpm": 7000.0,
            "spindle_temp_c": 50.0,
            "vibration_mm_s": 1.0,
        },
        online=False,
        quality=int(Quality.BAD_STALE),
    )
    assert offline.state_text() == "offline" and offline.is_stale()
    assert offline.stale_text().startswith("No data since ")
    assert offline.attention() == 1

    sensor = _fake_tile(
        qtbot,
        theme,
        {
            "state": "running",
            "spindle_speed_rpm": 7000.0,
            "spindle_temp_c": None,
            "vibration_mm_s": 1.0,
        },
        quality=int(Quality.BAD_SENSOR_FAILURE),
    )
    assert sensor.is_stale() and "sensor" in sensor.stale_text()

    strip = QWidget()
    qtbot.addWidget(strip)
    strip.setStyleSheet(f"background: {theme.background};")
    for i, tile in enumerate((normal, bad, idle, fault, offline, sensor)):
        tile.setParent(strip)
        tile.move(12 + i * 332, 12)
    strip.resize(12 + 6 * 332, normal.height() + 24)
    strip.show()
    qtbot.waitExposed(strip)
    save_screenshot(strip, f"overview_tiles_{theme.name}")
