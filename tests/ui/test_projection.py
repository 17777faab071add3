"""Projections on the overview and on trends, against a real hub and a ramping agent.

A real ``copilot hub`` and a small simulated plant run as processes; an in-process agent
("Dryer 1") ramps its air temperature toward the HI limit (80 °C) at 0.5 °C/s with a little
noise, then turns. The window is the real :class:`ui.app.MainWindow`: the overview tile says
"↗ … HI in ~… (…–…)" in its normal text colour, the trend and the machine view's trend draw the
continuation with its label, and both withdraw it when the ramp turns. Nothing of it is an
alarm. docs/screenshots/projection.sh runs this at both panel sizes and keeps the pictures.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from copilot.bus import Bus
from tests.helpers import Plant
from tests.ui.conftest import save_screenshot
from ui.app import MainWindow
from ui.trend import QtTrend

MACHINE = "dryer-1"
TAG = "air_temp_c"
KEY = f"{MACHINE}/{TAG}"
RATE = 0.5  # °C/s: from 50 °C the HI limit (80) is a minute away
SIZE = tuple(int(v) for v in os.environ.get("PROJECTION_SHOT_SIZE", "1280x800").split("x"))


class RampAgent:
    """One machine whose air temperature ramps up at RATE until :meth:`turn`, then falls."""

    def __init__(self, plant: Plant) -> None:
        from copilot.agent import AgentRunner, AgentSession
        from copilot.protocol import Limits, MachineInfo, Range, TagSpec
        from copilot.sim.models import RUNNING, STATE_LABELS

        self.bus = Bus(plant.security("agent"))
        specs = [
            TagSpec(name="state", alias=0, type="enum", labels=list(STATE_LABELS)),
            TagSpec(
                name=TAG,
                alias=1,
                unit="°C",
                description="Dryer air temperature",
                eng_range=Range(lo=0.0, hi=120.0),
                normal=Range(lo=40.0, hi=70.0),
                limits=Limits(hi=80.0, hihi=90.0),
                deadband=1.0,
                key=True,
            ),
            TagSpec(
                name="fan_speed_rpm",
                alias=2,
                unit="rpm",
                description="Fan speed",
                eng_range=Range(lo=0.0, hi=3000.0),
                normal=Range(lo=1200.0, hi=1800.0),
                limits=Limits(lo=800.0, hi=2200.0),
                key=True,
            ),
        ]
        self._lock = threading.Lock()
        self._t0 = time.time()
        self._turned_at: float | None = None
        self._peak = 50.0
        self._rng = np.random.default_rng(11)
        self.session = AgentSession(
            self.bus,
            plant.address,
            MachineInfo(id=MACHINE, name="Dryer 1", kind="dryer", area="Drying", line="line-2"),
            specs,
        )

        def tick(now: float) -> None:
            with self._lock:
                noise = float(self._rng.normal(0.0, 0.3))
                fan = 1500.0 + float(self._rng.normal(0.0, 5.0))
                value = self.value_at(now) + noise
            self.session.publish({"state": RUNNING, TAG: value, "fan_speed_rpm": fan})

        self.runner = AgentRunner([self.session], tick, 0.05)
        self.runner.start()

    def value_at(self, now: float) -> float:
        if self._turned_at is None:
            return 50.0 + RATE * (now - self._t0)
        return self._peak - 2 * RATE * (now - self._turned_at)

    def turn(self) -> None:
        """From now on the temperature falls (twice as fast as it rose)."""
        with self._lock:
            now = time.time()
            self._peak = self.value_at(now)
            self._turned_at = now

    def close(self) -> None:
        self.runner.request_stop()
        self.runner.join(3)
        self.bus.close()


@pytest.fixture
def agent(plant: Plant) -> Iterator[RampAgent]:
    plant.hub()
    plant.sim("--machines", "10", "--rate", "5", "--seed", "4")  # the rest of the plant
    a = RampAgent(plant)
    yield a
    a.close()


@pytest.fixture
def window(agent: RampAgent, make_ctx, qtbot) -> MainWindow:  # type: ignore[no-untyped-def]
    ctx = make_ctx(wait_machines=11)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.resize(*SIZE)
    w.show()
    qtbot.waitExposed(w)
    assert not w.gate.login.isVisible()  # the station opens on the views, not under a lock
    return w


def _shot(widget: object, name: str) -> None:
    save_screenshot(widget, f"{name}-{SIZE[0]}x{SIZE[1]}")


def test_a_ramp_is_projected_on_the_overview_and_trends_and_withdrawn_when_it_turns(
    window: MainWindow, agent: RampAgent, qtbot
) -> None:  # type: ignore[no-untyped-def]
    ctx = window.ctx
    overview = window.overview
    qtbot.waitUntil(lambda: MACHINE in overview.tiles, timeout=10_000)
    tile = overview.tiles[MACHINE]

    # The overview: the tile says when HI is reached, with an arrow; the fan (flat) says nothing.
    qtbot.waitUntil(lambda: "HI in ~" in tile.projection_text(), timeout=15_000)
    qtbot.waitUntil(lambda: agent.value_at(time.time()) > 58.0, timeout=30_000)  # a firmer band
    qtbot.waitUntil(lambda: "HI in ~" in tile.projection_text(), timeout=3000)
    advice = tile.projection()
    assert advice is not None and advice.tag == TAG and advice.projection.limit_name == "hi"
    text = tile.projection_text()
    assert text.startswith("↗ ") and text.endswith(advice.words())
    assert 0 < advice.projection.lo_s <= advice.projection.eta_s <= advice.projection.hi_s
    assert tile.headings() == {TAG: "↗", "fan_speed_rpm": ""}
    # Advice only: no alarm for it (the value is below HI), the tile is not "abnormal" for it.
    assert not [a for a in ctx.station.alarms.all().values() if a.machine == MACHINE]
    _shot(window, "projection-overview")

    # The trend: the dashed continuation to the limit, its band and its label; a future margin.
    ctx.open_trend.emit(MACHINE, TAG)
    trend = window.trend
    assert window.stack.currentWidget() is trend
    qtbot.waitUntil(lambda: "HI in ~" in trend.projections().get(KEY, ""), timeout=10_000)
    item = trend.continuation_items()[KEY]
    (t0, v0), (t1, v1) = item.line()
    assert v1 == 80.0 and v0 < 80.0 and t1 > t0
    x0, x1 = trend.x_range()
    assert x1 - x0 == pytest.approx(trend.window_seconds(), abs=0.5)  # the span is the window's
    assert x1 > time.time() + 0.1 * trend.window_seconds()  # ...part of it is the future
    assert trend.projections()[KEY].startswith("↗ HI in ~")
    # For the picture: the crossing (~18 s away) inside the future margin (24 s of 2 min).
    qtbot.waitUntil(lambda: agent.value_at(time.time()) > 71.0, timeout=40_000)
    qtbot.waitUntil(lambda: KEY in trend.projections(), timeout=3000)
    _shot(window, "projection-trend")

    # The machine view's embedded trend shows it too.
    ctx.open_machine.emit(MACHINE)
    embedded = window.machine.embedded_trend()
    assert isinstance(embedded, QtTrend)
    qtbot.waitUntil(lambda: KEY in embedded.projections(), timeout=10_000)
    _shot(window, "projection-machine")

    # The ramp turns: the projection is withdrawn, in the machine view, the trend, the overview.
    agent.turn()
    qtbot.waitUntil(lambda: not embedded.projections(), timeout=15_000)
    assert not embedded.continuation_items()
    ctx.open_trend.emit(MACHINE, TAG)
    qtbot.waitUntil(lambda: not trend.projections(), timeout=10_000)
    qtbot.waitUntil(lambda: trend.x_range()[1] <= time.time() + 1.0, timeout=5000)  # no margin
    ctx.open_overview.emit()
    qtbot.waitUntil(lambda: tile.projection_text() == "", timeout=10_000)
    assert tile.projection() is None
