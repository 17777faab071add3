"""Fixtures for UI tests: real hub and simulated plant processes, a real station, offscreen Qt.

Every view is built around a :class:`ui.context.StationContext` whose station is connected to a
real hub fed by a real simulator, so tests assert on what an operator would see.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from copilot.bus import Bus
from copilot.settings import Settings, StationSettings, load, with_overrides
from copilot.station import LinkState, Station
from tests.helpers import Plant, wait_until

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


@pytest.fixture
def live_plant(plant: Plant) -> Plant:
    """A hub and a 12-machine simulated plant at 5 Hz, both real processes."""
    plant.hub()
    plant.sim("--machines", "12", "--rate", "5", "--seed", "4")
    return plant


@pytest.fixture
def make_ctx(plant: Plant, qtbot: object) -> Iterator[Callable[..., object]]:
    """Build a StationContext on a real station connected to ``plant``'s hub."""
    from ui.context import StationContext

    made: list[tuple[Station, Bus, StationContext]] = []

    def make(theme: str = "light", wait_machines: int = 12, **station: object) -> StationContext:
        settings: Settings = with_overrides(load(), {"station": {"theme": theme, **station}})
        bus = Bus(plant.security("station"))
        st = Station(bus, plant.address, settings.station)
        ctx = StationContext(st, settings, insecure=False)
        st.start()
        made.append((st, bus, ctx))
        wait_until(
            lambda: st.state == LinkState.LIVE and len(st.store.machine_ids()) >= wait_machines,
            20,
            "station live",
        )
        ctx.start()
        return ctx

    try:
        yield make
    finally:
        for st, bus, ctx in made:
            ctx.stop()
            st.stop()
            bus.close()


def save_screenshot(widget: object, name: str) -> Path:
    """Grab a widget to tests/ui/screenshots/NAME.png (tests that look at pixels keep one)."""
    from PySide6.QtWidgets import QApplication

    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    QApplication.processEvents()  # pending layouts first (a toolbar that just changed)
    widget.grab().save(str(path))  # type: ignore[attr-defined]
    return path


def sample_while_running(
    qtbot: object, sample: Callable[[], None], every_ms: int, ms: int
) -> float:
    """Call ``sample`` every ``every_ms`` on the GUI thread for ``ms`` of a running event loop
    (what an operator would have seen, glance by glance); the seconds that actually passed."""
    import time

    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(every_ms)
    started = time.monotonic()
    qtbot.wait(ms)  # type: ignore[attr-defined]
    timer.stop()
    return time.monotonic() - started


__all__ = [
    "SCREENSHOTS",
    "StationSettings",
    "sample_while_running",
    "save_screenshot",
    "wait_until",
]
