"""The Level 1 overview against a real hub and a real 12-machine simulated plant."""

from __future__ import annotations

import itertools
import math
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFocusEvent, QImage
from PySide6.QtWidgets import QApplication, QWidget

from copilot.limits import classify_latest, classify_series
from copilot.protocol import Birth, Limits, MachineInfo, Quality, Range, TagSpec
from copilot.protocol.columns import pack_values
from copilot.settings import load as load_settings
from copilot.station import MachineSnapshot, StationStore
from tests.helpers import Plant
from tests.ui.conftest import sample_while_running, save_screenshot
from ui.context import StationContext
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


def _assert_bands_apart(view: QtOverview) -> None:
    """A line's tiles all sit below its title and above the next line's first tile."""
    bands = view.bands()
    for (_t, ids), (_n, next_ids) in itertools.pairwise(bands):
        bottom = max(view.tiles[m].geometry().bottom() for m in ids)
        assert bottom < min(view.tiles[m].geometry().top() for m in next_ids)


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

    # Grouped by line then area, section titles like "Line 1 · Machining"; one band per line,
    # titled with the line's name and then its areas' names.
    titles = [title for title, _ids in view.groups()]
    assert titles and all(t.startswith("Line ") and " · " in t for t in titles)
    bands = view.bands()
    assert [title for title, _ids in bands] == ["Line 1", "Line 2"]
    areas = sorted({t.split(" · ", 1)[1] for t in titles})
    shown = view.band_titles()
    assert shown.count("Line 1") == 1 and shown.count("Line 2") == 1
    assert sorted(set(shown) - {"Line 1", "Line 2"}) == areas
    qtbot.waitUntil(lambda: _ordered_by_attention(view), timeout=5_000)

    # The grid re-flows: 1600 px holds a whole line per row, 700 px wraps within each band.
    first = view.tiles[view.ordered_ids()[0]]
    assert 190 <= first.width() <= 340
    wide = view.columns()
    assert wide == 6
    view.resize(700, 1000)
    qtbot.waitUntil(lambda: view.columns() == 3)
    assert all(t.geometry().right() < 700 for t in view.tiles.values())
    assert all(190 <= t.width() <= 340 for t in view.tiles.values())
    _assert_bands_apart(view)
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


def _store(
    specs: list[TagSpec],
    values: dict[str, object],
    quality: int = 0,
    state_q: int = 0,
    mid: str = "cnc-09",
    step_s: float = 0.2,
) -> StationStore:
    """A real station store holding one machine's BIRTH and samples.

    A value that is a list is that tag's history, oldest first, ``step_s`` apart and ending now;
    enum values are given as their label.
    """
    store = StationStore(ring_samples=1024)
    assert store.apply_birth(
        Birth(machine=MachineInfo(id=mid, name=mid, kind="cnc"), tags=specs), 1
    )
    now_ns = time.time_ns()
    aliases: list[int] = []
    numbers: list[object] = []
    stamps: list[int] = []
    qualities: list[int] = []
    for spec in specs:
        if spec.name not in values:
            continue
        given = values[spec.name]
        series = given if isinstance(given, list) else [given]
        for k, x in enumerate(series):
            if spec.type == "enum" and isinstance(x, str):
                x = (spec.labels or []).index(x)
            aliases.append(spec.alias)
            numbers.append(x)
            stamps.append(now_ns - int((len(series) - 1 - k) * step_s * 1e9))
            qualities.append(state_q if spec.name == "state" else quality)
    assert store.apply_data(mid, 1, pack_values(aliases, numbers, stamps, qualities))  # type: ignore[arg-type]
    return store


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
    store = _store(SPECS, values, quality)
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
    """What the tile shows in its alarm area (end of the state line), as RGB pixels."""
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
            "vibration_mm_s": 0.0001,
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
        ("spindle_temp_c", "warning", "▲ H"),
        ("vibration_mm_s", "fault", "▲▲ HH"),
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
    assert not _colourful(_alarm_pixels(fault))  # no alarms: nothing painted there
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
    assert not sensor.state_is_last_known(), "a failed sensor does not make the state old"
    assert offline.state_is_last_known() and not normal.state_is_last_known()

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


# -- the panel sizes operators have: 1280×800 and 1920×1080, in the real window ---------------

FAULTS = """
[[fault]]
machine = "conveyor-01"
fault = "jam"
onset_s = 1
severity = 0.9
"""


@pytest.fixture
def faulty_plant(plant: Plant, tmp_path: Path) -> Plant:
    """The default 12-machine plant with conveyor-01 jammed (it trips) a second in."""
    faults = tmp_path / "faults.toml"
    faults.write_text(FAULTS, encoding="utf-8")
    plant.hub()
    plant.sim("--machines", "12", "--rate", "5", "--seed", "4", "--faults", str(faults))
    return plant


def _plant_counts(ctx: StationContext) -> dict[str, list[str]]:
    """What the summary should say, computed from the store with the core's classifier."""
    store = ctx.store
    out: dict[str, list[str]] = {"fault": [], "offline": [], "out_of_range": []}
    now = time.time()
    for snap in store.machines():
        mid = snap.info.id
        readings = {r.tag: r for r in store.readings(mid, now)}
        state = readings["state"].value if "state" in readings else None
        if not snap.online:
            out["offline"].append(mid)
            continue
        if state == "fault":
            out["fault"].append(mid)
        if not all(r.good for r in readings.values()):
            continue
        for r in readings.values():
            spec = r.spec
            if spec.type not in ("float", "int") or (spec.normal is None and spec.limits is None):
                continue
            recent = partial(store.window, mid, r.tag, now - 300)
            verdict = classify_latest(spec, r.value, state, lambda f=recent: f()[1])  # type: ignore[misc]
            if verdict.abnormal:
                out["out_of_range"].append(mid)
                break
    return out


def _tile_in_viewport(view: QtOverview, tile: QtMachineTile) -> bool:
    viewport = view.scroll.viewport()
    rect = QRect(tile.mapTo(viewport, QPoint(0, 0)), tile.size())
    return viewport.rect().contains(rect)


@pytest.mark.slow
@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)], ids=["1280x800", "1920x1080"])
def test_whole_plant_fits_and_summary_opens_the_fault(  # type: ignore[no-untyped-def]
    faulty_plant, make_ctx, qtbot, size: tuple[int, int]
) -> None:
    from ui.app import MainWindow

    ctx = make_ctx()
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    assert (window.width(), window.height()) == size
    view = window.overview
    qtbot.waitUntil(
        lambda: len(view.tiles) == 12 and all(_has_values(t) for t in view.tiles.values()),
        timeout=20_000,
    )

    # Every tile whole on screen, nothing to scroll, one row per line, lines not mixed.
    for mid, tile in view.tiles.items():
        assert _tile_in_viewport(view, tile), (mid, tile.geometry(), view.viewport_rect())
    assert view.scroll.verticalScrollBar().maximum() == 0
    bands = view.bands()
    assert len(bands) == 2 and all(len(ids) == 6 for _t, ids in bands)
    for _title, ids in bands:
        assert len({view.tiles[m].y() for m in ids}) == 1, "a line is one row"
    _assert_bands_apart(view)
    # At 1080p every tile has room for 16-px names beside their values.
    if size[0] >= 1920:
        assert all(t.is_wide() for t in view.tiles.values())
    # Every key row stays a touch target at the smallest size.
    assert all(r.height() >= 48 for t in view.tiles.values() for _tag, r in t.row_rects())

    # The summary strip: always on screen, its counts those of the plant, each ≥ 48 px high.
    summary = view.summary
    assert summary.isVisible() and summary.geometry().top() == 0
    for kind in ("fault", "offline", "out_of_range"):
        assert summary.chip_rect(kind).height() >= 48
    qtbot.waitUntil(lambda: view.tiles["conveyor-01"].state_text() == "fault", timeout=20_000)

    def counts_match() -> bool:
        from copilot.alarms.board import current

        expected = {k: len(v) for k, v in _plant_counts(ctx).items()}
        alarms = [a for a in ctx.station.alarms.all().values() if current(a)]
        if alarms or "alarms" in summary.counts():  # the chip appears with the alarm system
            expected["alarms"] = len(alarms)
        return summary.counts() == expected

    qtbot.waitUntil(counts_match, timeout=10_000)
    assert summary.counts()["fault"] >= 1 and summary.counts()["offline"] == 0
    first_fault = next(m for m in view.ordered_ids() if view.tiles[m].state_text() == "fault")
    assert summary.first("fault") == first_fault
    save_screenshot(window, f"overview_{size[0]}x{size[1]}")

    # A tap on the fault count opens the first faulted machine.
    chip = summary.chips["fault"]
    with qtbot.waitSignal(ctx.open_machine, timeout=2_000) as opened:
        qtbot.mouseClick(chip, Qt.MouseButton.LeftButton, pos=chip.rect().center())
    assert opened.args == [first_fault]
    assert window.stack.currentWidget() is window.machine
    assert window.machine.current_machine == first_fault
    window.show_view("overview")

    # A chip that counts nothing opens nothing.
    empty = summary.chips["offline"]
    with qtbot.assertNotEmitted(ctx.open_machine, wait=100):
        qtbot.mouseClick(empty, Qt.MouseButton.LeftButton, pos=empty.rect().center())


@pytest.mark.slow
def test_tap_on_a_half_visible_tile_opens_it(live_plant, make_ctx, qtbot) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx()
    view = QtOverview(ctx)
    qtbot.addWidget(view)
    view.resize(1024, 480)  # too short for two bands: the second one is cut by the bottom edge
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: len(view.tiles) == 12, timeout=20_000)
    bar = view.scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    viewport = view.scroll.viewport()
    half = [
        t
        for t in view.tiles.values()
        if not _tile_in_viewport(view, t)
        and QRect(t.mapTo(viewport, QPoint(0, 0)), t.size()).intersects(viewport.rect())
    ]
    assert half, "the viewport must cut some tiles"
    tile = half[0]
    top_in_viewport = tile.mapTo(viewport, QPoint(0, 0)).y()
    visible_h = viewport.height() - top_in_viewport
    assert 0 < visible_h < tile.height()
    before = bar.value()
    pos = QPoint(tile.width() // 2, min(20, visible_h // 2))  # on its name, inside the viewport
    with qtbot.waitSignal(ctx.open_machine, timeout=2_000) as opened:
        qtbot.mouseClick(tile, Qt.MouseButton.LeftButton, pos=pos)
    assert opened.args == [tile.machine_id]
    assert bar.value() == before, "the tap did not scroll the tile from under the finger"
    # Keyboard focus (Tab) still brings a tile into view; a tap's focus does not.
    QApplication.sendEvent(tile, QFocusEvent(QEvent.Type.FocusIn, Qt.FocusReason.MouseFocusReason))
    assert bar.value() == before
    QApplication.sendEvent(tile, QFocusEvent(QEvent.Type.FocusIn, Qt.FocusReason.TabFocusReason))
    qtbot.waitUntil(lambda: _tile_in_viewport(view, tile))


# -- one meaning of "abnormal": tile, machine view and the core agree -------------------------


class _FakeStation:
    """What a trend asks a station for: older history (never answered here)."""

    def __init__(self) -> None:
        from copilot.station import StationAlarms

        self.requests = itertools.count(1)
        self.alarms = StationAlarms()  # none: this plant raises nothing

    def request_history(self, machine: str, tags: list[str], since: float) -> int:
        return next(self.requests)


class _FakeCtxFull(QObject):
    frame = Signal(float)
    event = Signal(object)
    theme_changed = Signal(object)
    open_machine = Signal(str)
    open_trend = Signal(str, str)
    open_overview = Signal()

    def __init__(self, store: StationStore, theme: Theme) -> None:
        super().__init__()
        self.store = store
        self.theme = theme
        self.station = _FakeStation()
        self.settings = load_settings()
        self.timer = QTimer(self)  # never started: frames are emitted by the test
        self.timer.setInterval(33)


ZONE = TagSpec(
    "zone_temp_c",
    1,
    unit="°C",
    description="Zone temperature",
    eng_range=Range(0, 300),
    normal=Range(120.06, 180.0),
    limits=Limits(lo=110.0, hi=190.0),
    deadband=0.68,
    key=True,
)
PRESSURE = TagSpec(
    "discharge_pressure_bar",
    2,
    unit="bar",
    description="Discharge pressure",
    eng_range=Range(0, 12),
    normal=Range(6.2, 8.0),
    limits=Limits(lolo=5.0, lo=6.0, hi=8.5, hihi=9.0),
    deadband=0.06,
    key=True,
)
CASES = [
    # (case, tag, history ending with the value shown, machine state, expected kind)
    ("unrounded", "zone_temp_c", [150.0, 120.4], "running", "normal"),
    (
        "deadband holds low",
        "zone_temp_c",
        [119.0, 120.5, 120.3, 120.7],
        "running",
        "out_of_normal_low",
    ),
    ("deadband holds normal", "zone_temp_c", [125.0, 120.2, 120.07], "running", "normal"),
    ("idle machine", "discharge_pressure_bar", [6.0, 5.9], "idle", "normal"),
    ("running machine", "discharge_pressure_bar", [6.0, 5.9], "running", "lo"),
    ("bottom after a trip", "discharge_pressure_bar", [3.0, 0.0], "fault", "bottom_of_range"),
]


@pytest.mark.parametrize(
    ("case", "tag", "history", "state", "kind"), CASES, ids=[c[0] for c in CASES]
)
def test_tile_machine_view_and_trend_give_the_same_verdict(  # type: ignore[no-untyped-def]
    qtbot,
    case: str,
    tag: str,
    history: list[float],
    state: str,
    kind: str,
) -> None:
    from ui.machine import QtMachineView
    from ui.trend import QtTrend

    specs = [TagSpec("state", 0, type="enum", labels=list(STATES)), ZONE, PRESSURE]
    values: dict[str, object] = {
        "state": state,
        "zone_temp_c": [150.0],
        "discharge_pressure_bar": [7.0],
    }
    values[tag] = history
    store = _store(specs, values, mid="m-01")
    ctx = _FakeCtxFull(store, LIGHT)
    (snapshot,) = store.machines()
    tile = QtMachineTile(ctx, snapshot)  # type: ignore[arg-type]
    qtbot.addWidget(tile)
    tile.resize(200, tile.minimumHeight())  # the 1280-px width
    tile.refresh(store, time.time())
    view = QtMachineView(ctx)  # type: ignore[arg-type]
    qtbot.addWidget(view)
    view.show_machine("m-01")
    trend = QtTrend(ctx)  # type: ignore[arg-type]
    qtbot.addWidget(trend)
    trend.show_signals("m-01", [tag])
    trend.set_window(120.0)  # pulls the store's samples now
    t, v = trend.plotted(f"m-01/{tag}")
    assert list(v) == history

    spec = ZONE if tag == "zone_temp_c" else PRESSURE
    core = classify_series(spec, history, state)[-1]  # the whole series, walked sample by sample
    on_tile = tile.verdict(tag)
    in_view = view.verdicts()[tag]
    in_trend = trend.verdict_at(f"m-01/{tag}", float(t[-1]))
    assert core.kind == kind, case
    assert on_tile == in_view == in_trend == core, (case, on_tile, in_view, in_trend, core)
    shown = {t: glyph for t, _colour, glyph in tile.deviations()}
    assert shown[tag] == core.glyph and bool(shown[tag]) == core.abnormal
    if case == "unrounded":  # the tile rounds 120.4 to "120 °C" but judges 120.4
        assert dict(tile.key_values())[tag] == "120 °C"
    texts = view.row_texts()[tag]
    assert texts["Name"] == spec.description
    # The trend's cursor read-out carries the same mark as the tile.
    trend.set_cursor(float(t[-1]))
    value = trend.cursor_values()[f"m-01/{tag}"]
    assert trend.cursor_labels() == [f"{core.glyph} {value}" if core.abnormal else value]


def test_stale_state_is_drawn_as_last_known(qtbot) -> None:  # type: ignore[no-untyped-def]
    tile = _fake_tile(
        qtbot,
        LIGHT,
        {"state": "fault", "spindle_speed_rpm": 0.0, "spindle_temp_c": 85.0, "vibration_mm_s": 1.0},
    )
    assert tile.state_text() == "fault" and not tile.is_stale()
    assert tile.last_known_state() == "fault"
    stale_q = int(Quality.UNCERTAIN_STALE)
    store = _store(SPECS, {"state": "fault", "spindle_speed_rpm": 0.0}, stale_q, stale_q)
    tile.refresh(store, time.time())  # type: ignore[arg-type]
    assert tile.is_stale() and tile.last_known_state() == "fault"
    assert tile.state_is_last_known()
    assert tile.attention() == 0, "a last known fault still comes first"
    px = _pixels(tile)
    assert _has_color(px, LIGHT.fault), "the last known fault keeps a (dashed) red border"
    # ...but not at full strength: far fewer red pixels than the live fault's solid border.
    live = _fake_tile(
        qtbot,
        LIGHT,
        {"state": "fault", "spindle_speed_rpm": 0.0, "spindle_temp_c": 85.0, "vibration_mm_s": 1.0},
    )

    def red(widget: QWidget) -> int:
        c = QColor(LIGHT.fault)
        target = np.array([c.red(), c.green(), c.blue()])
        return int((np.abs(_pixels(widget) - target).max(axis=2) <= 12).sum())

    assert red(tile) < red(live) / 2


def test_compact_trend_labels_its_limits_once_tall_enough(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A machine view's side trend: no labels when short (they piled up), marks when tall."""
    from ui.trend import LABELS_FROM_PX, QtTrend

    specs = [TagSpec("state", 0, type="enum", labels=list(STATES)), ZONE, PRESSURE]
    store = _store(specs, {"state": "running", "discharge_pressure_bar": [7.0, 7.1]}, mid="m-01")
    trend = QtTrend(_FakeCtxFull(store, LIGHT))  # type: ignore[arg-type]
    qtbot.addWidget(trend)
    trend.resize(440, LABELS_FROM_PX - 60)
    trend.show()
    qtbot.waitExposed(trend)
    trend.show_signals("m-01", ["discharge_pressure_bar"])
    assert trend.is_compact() and trend.limit_labels() == []
    trend.resize(440, LABELS_FROM_PX + 20)
    qtbot.waitUntil(lambda: len(trend.limit_labels()) == 4)
    assert sorted(trend.limit_labels()) == sorted(
        ["▼▼ LL 5 bar", "▼ L 6 bar", "▲ H 8.5 bar", "▲▲ HH 9 bar"]
    )
    save_screenshot(trend, "trend_compact_labels")


def test_overview_without_machines_says_so(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A station that has not reached its hub: words, not an empty grey screen."""
    ctx = _FakeCtxFull(StationStore(), LIGHT)
    view = QtOverview(ctx)  # type: ignore[arg-type]
    qtbot.addWidget(view)
    view.resize(1280, 700)
    view.show()
    qtbot.waitExposed(view)
    assert view.container.empty
    assert view.container.height() >= view.scroll.viewport().height()  # the words in the middle
    save_screenshot(view, "overview_no_machines")
    ctx.store.apply_birth(  # type: ignore[attr-defined]
        Birth(machine=MachineInfo(id="m-01", name="M 1", kind="oven"), tags=[ZONE]), 1
    )
    ctx.frame.emit(time.time())
    qtbot.waitUntil(lambda: not view.container.empty)


def test_a_value_change_repaints_its_row_and_the_screen_shows_the_whole_tile(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Only changed rows are repainted (over the cached chrome): what reaches the screen must
    still be the whole tile as a full paint draws it, new value included."""
    values = {"state": "running", "spindle_speed_rpm": 7420.4, "spindle_temp_c": 50.26}
    tile = _fake_tile(qtbot, LIGHT, {**values, "vibration_mm_s": 1.0})
    painted: list[QRect] = []

    class Watch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                painted.append(event.rect())  # type: ignore[attr-defined]
            return False

    watch = Watch()
    tile.installEventFilter(watch)
    tile.show()
    qtbot.waitExposed(tile)
    qtbot.waitUntil(lambda: tile.rect() in painted)  # the first, whole paint
    painted.clear()

    def on_screen() -> QImage:
        image = tile.screen().grabWindow(tile.winId()).toImage()
        return image.convertToFormat(QImage.Format.Format_RGB32)

    store = _store(SPECS, {**values, "vibration_mm_s": 9.0})  # hi: the row gains a mark
    assert tile.refresh(store, time.time())  # type: ignore[arg-type]
    qtbot.waitUntil(lambda: bool(painted))
    row = dict(tile.row_rects())["vibration_mm_s"]
    assert painted == [row.toAlignedRect()], "one row repainted, not the tile"
    assert dict(tile.key_values())["vibration_mm_s"] == "9.00 mm/s"
    full = tile.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    qtbot.waitUntil(lambda: on_screen() == full)


@pytest.mark.slow
def test_tile_values_follow_the_scan_rate_not_the_sample_rate(  # type: ignore[no-untyped-def]
    live_plant, make_ctx, qtbot
) -> None:
    """At 5 samples a second a tile's numbers change about once a second (the SCADA scan
    rate an operator reads at), not five times; they do keep changing."""
    ctx = make_ctx()
    view = _build(qtbot, ctx)
    tile = next(t for t in view.tiles.values() if t.state_text() == "running")
    shown: list[list[tuple[str, str]]] = [tile.key_values()]

    def note() -> None:
        if tile.key_values() != shown[-1]:
            shown.append(tile.key_values())

    seconds = sample_while_running(qtbot, note, 20, 6000)
    changes = len(shown) - 1
    assert changes >= 2, "the tile's values stopped following the data"
    assert changes <= seconds + 2, f"{changes} changes in {seconds:.1f} s at 5 samples/s"


def test_a_state_change_is_shown_without_waiting_for_the_values(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Values are re-read once a second; a machine going to fault is not made to wait."""
    values = {"state": "running", "spindle_speed_rpm": 7420.0, "spindle_temp_c": 50.0}
    tile = _fake_tile(qtbot, LIGHT, values)
    assert not tile.state_moved(_store(SPECS, values))  # type: ignore[arg-type]
    faulted = _store(SPECS, {**values, "state": "fault"})
    assert tile.state_moved(faulted)  # type: ignore[arg-type]
    assert tile.refresh(faulted, time.time())  # type: ignore[arg-type]
    assert tile.state_text() == "fault"
    assert not tile.state_moved(faulted)  # type: ignore[arg-type]
    stale_q = int(Quality.UNCERTAIN_STALE)
    stale = _store(SPECS, {**values, "state": "fault"}, stale_q, stale_q)
    assert tile.state_moved(stale), "a state gone stale is shown at once too"  # type: ignore[arg-type]
