"""Level 2 machine view against a real hub and simulated plant."""

from __future__ import annotations

import sys
import time
import types

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from copilot.protocol import Limits, Quality, Range, TagSpec
from copilot.station import Reading
from tests.ui.conftest import save_screenshot
from ui.machine import DASH, QtMachineView, deviation, row_state

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

    # Header: identity, state with its icon, online.
    assert view.name_label.text() == "CNC 1"
    assert view.name_label.font().pixelSize() >= 24 or "30px" in view.styleSheet()
    assert view.where_label.text() == "cnc · line-1 · Machining"
    state = rows["state"]["Value"].upper()
    assert view.header_state_text() == f"{state} · Online"
    assert not view.state_icon.pixmap().isNull()
    assert view.back_button.height() >= 48
    assert all(view.table.rowHeight(r) >= 48 for r in range(view.table.rowCount()))

    # No trend module: a labelled placeholder instead.
    assert view.trend_placeholder.isVisible()
    assert "not available" in view.trend_placeholder.text()

    # Reserved panels.
    commands = view.commands_label.text()
    assert "start — confirm · blocked by: guard door open, fault active" in commands
    assert "set_mode — sign" in commands
    assert "Commands" in [w.text() for w in view.commands_panel.findChildren(type(view.name_label))]
    alarm_texts = [w.text() for w in view.alarms_panel.findChildren(type(view.name_label))]
    assert "No alarm system yet" in alarm_texts

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
    with qtbot.waitSignal(ctx.open_overview, timeout=2000):
        qtbot.mouseClick(view.back_button, Qt.MouseButton.LeftButton)

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
    assert trend.calls == [("show_signals", (MACHINE, keys)), ("set_window", 600.0)]
    assert trend.parent() is view.trend_panel
    assert not view.trend_placeholder.isVisible()
    view.show_machine("press-01")
    assert trend.calls[-2][1] == (
        "press-01",
        ["barrel_temp_c", "injection_pressure_bar", "cycle_time_s"],
    )
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
    assert bad.dev.level == 0, "no abnormal colour for a value that cannot be trusted"
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
    ("value", "level", "glyph"),
    [
        (45.0, 0, ""),
        (66.0, 1, "▲"),
        (19.0, 1, "▼"),
        (73.0, 1, "▲ H"),
        (9.0, 1, "▼ L"),
        (90.0, 2, "▲▲ HH"),
    ],
)
def test_deviation_has_a_shape_for_every_colour(value: float, level: int, glyph: str) -> None:
    dev = deviation(SPEC, value)
    assert (dev.level, dev.glyph) == (level, glyph)
