"""Level 2 machine view against a real hub and simulated plant."""

from __future__ import annotations

import itertools
import sys
import time
import types

import pytest
from PySide6.QtCore import QObject, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from copilot.gate.panel import ButtonState
from copilot.protocol import Limits, MachineInfo, Quality, Range, TagSpec
from copilot.station import MachineSnapshot, Reading
from tests.ui.conftest import save_screenshot
from ui.machine import (
    COL_QUALITY,
    COL_RANGE,
    DASH,
    SHORT_VIEW_H,
    TREND_MIN_H,
    QtMachineView,
    fit_value,
    row_state,
)
from ui.theme import DARK, LIGHT

MACHINE = "cnc-01"


@pytest.fixture(autouse=True)
def no_trend(monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded trend (ui/trend.py) is another view's work: these tests never import it."""
    monkeypatch.setitem(sys.modules, "ui.trend", None)  # import → ImportError → placeholder


def _seconds_ago(hms: str) -> float:
    """How long ago a local HH:MM:SS was (robust across midnight)."""
    h, m, s = (int(x) for x in hms.split(":"))
    now = time.localtime()
    return ((now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec) - (h * 3600 + m * 60 + s)) % 86400


def _view(ctx: object, qtbot: object) -> QtMachineView:
    view = QtMachineView(ctx)  # type: ignore[arg-type]
    qtbot.addWidget(view)  # type: ignore[attr-defined]
    view.resize(1600, 960)
    view.show()
    view.show_machine(MACHINE)
    return view


def _live(view: QtMachineView) -> bool:
    rows = view.row_texts()
    return bool(rows) and all(
        r["Quality"] == "Good" and not r["Value"].startswith(DASH) for r in rows.values()
    )


def test_live_rows_click_and_stale(live_plant, make_ctx, qtbot) -> None:
    ctx = make_ctx()
    view = _view(ctx, qtbot)
    assert view.current_machine == MACHINE
    snap = next(m for m in ctx.store.machines() if m.info.id == MACHINE)
    specs = {t.name: t for t in snap.tags}

    qtbot.waitUntil(lambda: _live(view), timeout=10_000)
    rows = view.row_texts()
    assert set(rows) == set(specs), "every BIRTH tag has a row"
    for name, spec in specs.items():
        text = rows[name]
        if spec.type == "bool":
            assert text["Value"] in ("on", "off")
        elif spec.type == "enum":
            assert text["Value"] in (spec.labels or [])
        elif spec.unit:
            assert text["Value"].endswith(f" {spec.unit}"), (name, text)
            float(text["Value"].removesuffix(f" {spec.unit}"))
        assert text["Quality"] == "Good"
        assert _seconds_ago(text["Last update"]) <= 10, text
        # The row's name is the BIRTH description; the id is secondary text beneath it.
        assert text["Name"] == (spec.description or text["Name"]) and text["Tag"] == name
    assert view.table.item(0, 0).text() == specs["state"].description

    # Header: identity, state with its icon, online.
    assert view.name_label.text() == "CNC 1"
    assert view.name_label.font().pixelSize() >= 24 or "30px" in view.styleSheet()
    assert view.where_label.text() == "cnc · line-1 · Machining"
    state = rows["state"]["Value"].upper()
    assert view.header_state_text() == f"{state} · Online"
    assert not view.state_icon.pixmap().isNull()
    # One way back: the window's navigation, not a second button in the view.
    assert not [b for b in view.findChildren(QPushButton) if "Overview" in b.text()]
    assert all(view.table.rowHeight(r) >= 48 for r in range(view.table.rowCount()))

    # No trend module: a labelled placeholder instead.
    assert view.trend_placeholder.isVisible()
    assert "not available" in view.trend_placeholder.text()

    # The command panel without a gate: every command listed, locked until someone logs in.
    buttons = view.commands_panel.states
    assert {"start", "set_mode"} <= set(buttons)
    assert not buttons["start"].enabled and buttons["start"].cause == "not_authenticated"
    assert "Commands" in [w.text() for w in view.commands_panel.findChildren(type(view.name_label))]
    # Every command button is whole on screen: the panel is never scrolled.
    panel = view.commands_panel
    for b in panel.buttons.values():
        top_left = b.mapTo(panel, b.rect().topLeft())
        assert panel.rect().contains(top_left) and b.height() >= 64

    save_screenshot(view, "machine_view")

    # Tap a row → open_trend(machine, tag); Enter on a row does the same.
    tags = list(specs)
    row = tags.index("spindle_temp_c")
    rect = view.table.visualRect(view.table.model().index(row, 1))
    with qtbot.waitSignal(ctx.open_trend, timeout=2000) as blocker:
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [MACHINE, "spindle_temp_c"]
    view.table.setCurrentCell(tags.index("vibration_mm_s"), 0)
    with qtbot.waitSignal(ctx.open_trend, timeout=2000) as blocker:
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert blocker.args == [MACHINE, "vibration_mm_s"]

    # The simulator dies: header goes offline, every value turns Bad (stale) and dims.
    live_plant.procs[-1].kill()

    def stale() -> bool:
        rows = view.row_texts()
        return "Offline since" in view.header_state_text() and all(
            r["Quality"] == "Bad (stale)" for r in rows.values()
        )

    qtbot.waitUntil(stale, timeout=20_000)
    assert view.header_state_text().startswith("OFFLINE · Offline since ")
    assert view.header.offline
    for name, text in view.row_texts().items():
        assert text["Value"].startswith(f"{DASH} ("), (name, text)
        assert text["Value"].endswith(")")
        assert "stale since" in text["Last update"]
    assert view.row_texts()["spindle_speed_rpm"]["Value"].endswith(" rpm)")
    save_screenshot(view, "machine_stale")


def test_updates_throttled_and_only_when_visible(live_plant, make_ctx, qtbot) -> None:
    ctx = make_ctx()
    view = _view(ctx, qtbot)
    qtbot.waitUntil(lambda: _live(view), timeout=10_000)
    refreshes: list[float] = []
    frames: list[float] = []
    original = view._refresh

    def counting(now: float) -> None:
        refreshes.append(now)
        original(now)

    view._refresh = counting  # type: ignore[method-assign]
    ctx.frame.connect(frames.append)
    qtbot.waitUntil(lambda: len(frames) >= 45, timeout=5000)
    assert 2 <= len(refreshes) <= len(frames) / 5, (len(refreshes), len(frames))

    view.hide()
    refreshes.clear()
    frames.clear()
    qtbot.waitUntil(lambda: len(frames) >= 20, timeout=5000)
    assert refreshes == []


def test_unknown_machine_is_empty_not_an_error(live_plant, make_ctx, qtbot) -> None:
    ctx = make_ctx()
    view = QtMachineView(ctx)
    qtbot.addWidget(view)
    view.show()
    view.show_machine("no-such-machine")
    assert view.row_texts() == {}
    assert view.where_label.text() == "Unknown machine"
    view.show_machine(MACHINE)
    qtbot.waitUntil(lambda: _live(view), timeout=10_000)


class _StubTrend(QWidget):
    made: list[_StubTrend] = []  # noqa: RUF012

    def __init__(self, ctx: object) -> None:
        super().__init__()
        self.calls: list[tuple[str, object]] = []
        _StubTrend.made.append(self)

    def show_signals(self, machine: str, tags: list[str]) -> None:
        self.calls.append(("show_signals", (machine, tags)))

    def set_window(self, seconds: float) -> None:
        self.calls.append(("set_window", seconds))


def test_embeds_trend_of_key_tags_when_available(
    live_plant, make_ctx, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType("ui.trend")
    module.QtTrend = _StubTrend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ui.trend", module)
    _StubTrend.made.clear()
    ctx = make_ctx()
    view = _view(ctx, qtbot)
    assert len(_StubTrend.made) == 1
    trend = _StubTrend.made[0]
    keys = ["spindle_speed_rpm", "spindle_temp_c", "vibration_mm_s"]
    # One larger trend of one key tag at a time, a picker for the others.
    assert trend.calls == [("show_signals", (MACHINE, keys[:1])), ("set_window", 600.0)]
    assert list(view.signal_buttons) == keys
    assert trend.parent() is view.trend_panel
    assert not view.trend_placeholder.isVisible()
    qtbot.mouseClick(view.signal_buttons[keys[2]], Qt.MouseButton.LeftButton)
    assert view.trend_tag() == keys[2]
    assert trend.calls[-2:] == [("show_signals", (MACHINE, keys[2:3])), ("set_window", 600.0)]
    qtbot.mouseClick(view.range_buttons[3600.0], Qt.MouseButton.LeftButton)
    assert trend.calls[-1] == ("set_window", 3600.0)
    assert [b.isChecked() for b in view.range_buttons.values()] == [False, True, False]
    view.show_machine("press-01")
    assert trend.calls[-2][1] == ("press-01", ["barrel_temp_c"])
    assert list(view.signal_buttons) == ["barrel_temp_c", "injection_pressure_bar", "cycle_time_s"]
    assert len(_StubTrend.made) == 1, "one trend, re-pointed"
    assert isinstance(view.trend_placeholder, QLabel)


SPEC = TagSpec(
    name="temp",
    alias=1,
    unit="°C",
    eng_range=Range(0, 120),
    normal=Range(20, 65),
    limits=Limits(hi=72, hihi=82, lo=10),
)


def _reading(spec: TagSpec, value: object, quality: int = 0, stale: float | None = None) -> Reading:
    return Reading("m", spec.name, value, quality, 1_700_000_000.0, spec, stale)  # type: ignore[arg-type]


def test_row_state_forms() -> None:
    good = row_state(_reading(SPEC, 45.27))
    assert (good.value, good.quality, good.stale) == ("45.3 °C", "Good", "")
    assert good.quality_look is None
    bad = row_state(_reading(SPEC, 45.27, int(Quality.BAD_STALE), 1_700_000_005.0))
    assert bad.value == f"{DASH} (45.3 °C)"
    assert bad.quality == "Bad (stale)"
    assert bad.stale.startswith("stale since ")
    assert bad.texts()["Last update"].endswith(bad.stale)
    assert not row_state(_reading(SPEC, 95.0, int(Quality.BAD_STALE))).verdict.abnormal
    assert bad.verdict.severity == 0, "no abnormal colour for a value that cannot be trusted"
    never = row_state(_reading(SPEC, None, int(Quality.BAD_NOT_CONNECTED)))
    assert never.value == DASH
    unsure = row_state(_reading(SPEC, 70.0, int(Quality.UNCERTAIN_STALE)))
    assert unsure.value == "70.0 °C"
    assert unsure.quality == "Uncertain (stale)"
    flag = TagSpec(name="door", alias=2, type="bool")
    assert row_state(_reading(flag, True)).value == "on"
    assert row_state(_reading(flag, False)).value == "off"
    mode = TagSpec(name="state", alias=0, type="enum", labels=["running", "idle"])
    assert row_state(_reading(mode, "idle")).value == "idle"
    count = TagSpec(name="n", alias=3, type="int", unit="parts")
    assert row_state(_reading(count, 12)).value == "12 parts"


@pytest.mark.parametrize(
    ("value", "severity", "glyph"),
    [
        (45.0, 0, ""),
        (66.0, 1, "▲"),
        (19.0, 1, "▼"),
        (73.0, 1, "▲ H"),
        (9.0, 1, "▼ L"),
        (90.0, 2, "▲▲ HH"),
        (120.0, 2, "◆ MAX"),
    ],
)
def test_every_colour_has_a_shape(value: float, severity: int, glyph: str) -> None:
    verdict = row_state(_reading(SPEC, value)).verdict
    assert (verdict.severity, verdict.glyph) == (severity, glyph)


def test_idle_machine_rows_are_not_abnormal_below_their_range() -> None:
    assert row_state(_reading(SPEC, 5.0), "running").verdict.kind == "lo"
    assert not row_state(_reading(SPEC, 5.0), "idle").verdict.abnormal
    assert row_state(_reading(SPEC, 0.0), "fault").verdict.kind == "bottom_of_range"


class _Ctx(QObject):
    frame = Signal(float)
    event = Signal(object)
    open_machine = Signal(str)
    open_trend = Signal(str, str)
    open_overview = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.theme = LIGHT
        self.store = types.SimpleNamespace(machines=list, readings=lambda *a: [])
        # The view asks the hub what the machine's anomaly detectors know (no hub here).
        self.station = types.SimpleNamespace(query_anomaly_status=lambda machine: 0)


def test_stale_state_drawn_as_last_known(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = QtMachineView(_Ctx())  # type: ignore[arg-type]
    qtbot.addWidget(view)
    spec = TagSpec(name="state", alias=0, type="enum", labels=["running", "fault"])
    snap = MachineSnapshot(
        info=MachineInfo(id="m", name="M", kind="cnc"),
        tags=[spec],
        commands=[],
        online=True,
        since=0.0,
        epoch=1,
        last_update=0.0,
    )
    live = Reading("m", "state", "fault", 0, 1.0, spec)
    view._refresh_header(snap, live)
    assert view.state_label.text() == "FAULT" and view.state_label.property("fault") == "true"
    stale = Reading("m", "state", "fault", int(Quality.UNCERTAIN_STALE), 1.0, spec, 1.0)
    view._refresh_header(snap, stale)
    assert view.state_label.text() == "FAULT?", "last known, not current"
    assert view.state_label.property("fault") == "false", "not at full strength"
    assert view.state_label.property("stale") == "true"
    assert view.online_label.text().startswith("Data stale since ")


@pytest.mark.parametrize("size", [(1280, 710), (1024, 560), (1920, 990), (1280, 900)])
def test_machine_view_fits_every_window(qtbot, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """Range and signal buttons readable and apart; the quality column never cuts its text."""
    view = QtMachineView(_Ctx())  # type: ignore[arg-type]
    qtbot.addWidget(view)
    view._build_signal_picker(
        [
            TagSpec(name=n, alias=i, key=True, description=d)
            for i, (n, d) in enumerate(
                [
                    ("barrel_temp_c", "Barrel (melt) temperature"),
                    ("injection_pressure_bar", "Peak injection pressure of the last shot"),
                    ("x", ""),
                ]
            )
        ]
    )
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    view._elide_signal_buttons()
    short = size[1] < SHORT_VIEW_H  # a short view leaves the signal picker out (the buttons fit)
    assert all(b.isHidden() == short for b in view.signal_buttons.values())
    for group in (view.range_buttons, {} if short else view.signal_buttons):
        buttons = list(group.values())
        rects = [b.geometry() for b in buttons]
        for a, b in itertools.pairwise(rects):
            assert not a.intersects(b), (size, a, b)
        for button in buttons:
            assert button.height() >= 48
            bold = QFont(button.font())  # a checked button is bold: it must fit that way too
            bold.setBold(True)
            text_w = QFontMetrics(bold).horizontalAdvance(button.text())
            assert text_w <= button.width() - 12, (size, button.text(), button.width())  # padding
    assert [b.text() for b in view.range_buttons.values()] == ["10 min", "1 h", "8 h"]
    # The two lines of the quality column fit its width (delegate margins 12 px each side;
    # the first line starts after its 18-px swatch).
    room = view.table.columnWidth(COL_QUALITY) - 24
    bold = QFont("DejaVu Sans")
    bold.setPixelSize(16)
    bold.setBold(True)
    small = QFont("DejaVu Sans")
    small.setPixelSize(16)
    assert QFontMetrics(bold).horizontalAdvance("? Uncertain") <= room - 26
    assert QFontMetrics(small).horizontalAdvance("comm lost since 23:59:59") <= room
    tag_w = view.table.horizontalHeader().sectionSize(0)
    assert tag_w >= (160 if size[0] < 1200 else 290), ("room for the tag names", tag_w)
    if size[0] >= 1200:  # a long human name is whole at the panel sizes, in its full size
        name = QFont("DejaVu Sans")
        name.setPixelSize(17)
        name.setBold(True)
        assert QFontMetrics(name).horizontalAdvance("Barrel (melt) temperature") <= tag_w - 24
        name.setPixelSize(16)  # a longer one steps down to the secondary text's size
        assert QFontMetrics(name).horizontalAdvance("Hydraulic pump motor current") <= tag_w - 24
        # The range bar keeps a readable track beside its 64-px mark.
        assert view.table.columnWidth(COL_RANGE) - 24 - 64 >= 80


def test_follows_a_theme_switch(qtbot) -> None:  # type: ignore[no-untyped-def]
    ctx = _Ctx()
    view = QtMachineView(ctx)  # type: ignore[arg-type]
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    assert LIGHT.panel in view.styleSheet()
    ctx.theme = DARK
    view.show_machine("m")
    ctx.frame.emit(time.time())
    assert view.theme is DARK and view.header.theme is DARK
    assert DARK.panel in view.styleSheet() and LIGHT.panel not in view.styleSheet()


@pytest.mark.parametrize("height", [480, 560, 690, 900])
def test_command_buttons_stay_whole_and_apart_however_short_the_view(qtbot, height: int) -> None:  # type: ignore[no-untyped-def]
    """A bar above the views (the voice read-back) takes height: the trend gives way first."""
    view = QtMachineView(_Ctx())  # type: ignore[arg-type]
    qtbot.addWidget(view)
    panel = view.commands_panel
    names = ["start", "stop", "reset_fault", "set_speed", "set_mode"]
    panel.set_buttons(
        [
            ButtonState(n, n.replace("_", " ").title(), 2, i % 2 == 0, "why", caption="confirm")
            for i, n in enumerate(names)
        ]
    )
    view.resize(1280, height)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: not panel.buttons["set_mode"].geometry().isEmpty())
    rects = [
        QRect(b.mapTo(view, QPoint(0, 0)), b.size()) for b in (panel.buttons[n] for n in names)
    ]
    for i, a in enumerate(rects):
        assert a.height() >= 64, (height, a)
        assert view.rect().contains(a), (height, a, view.rect())  # whole, not cut at the bottom
        for b in rects[i + 1 :]:
            assert not a.intersects(b), (height, a, b)
    trend_h = view.trend_panel.height() if view.trend_panel.isVisible() else 0
    assert trend_h == 0 or trend_h >= TREND_MIN_H, "a trend too small to read is left out"
    if height >= 900:
        assert view.trend_panel.isVisible(), "a tall view keeps its trend"


def test_a_value_too_wide_for_its_cell_steps_down_a_size_and_is_never_cut(qtbot) -> None:  # type: ignore[no-untyped-def]
    """An energy meter's "50552" drawn in a 24-px font past the cell's edge read ")0552"."""
    from PySide6.QtGui import QFont, QFontMetrics

    fonts = []
    for px in (24, 20, 16):
        f = QFont()
        f.setPixelSize(px)
        f.setBold(True)
        fonts.append(f)
    text = "50552"
    wide = QFontMetrics(fonts[0]).horizontalAdvance(text)
    small = QFontMetrics(fonts[2]).horizontalAdvance(text)
    assert fit_value(fonts, text, "kWh", 40, wide + 40) == (fonts[0], "kWh", wide)
    font, side, room = fit_value(fonts, text, "kWh", 40, wide + 39)  # a pixel short: a size down
    assert font is not fonts[0] and side == "kWh"
    assert QFontMetrics(font).horizontalAdvance(text) <= room
    font, side, room = fit_value(fonts, text, "kWh", 40, small + 10)  # no room for the unit
    assert (font, side, room) == (fonts[2], "", small + 10)
    assert QFontMetrics(font).horizontalAdvance(text) <= room
