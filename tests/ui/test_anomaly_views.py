"""The machine view's learning state, detector panel and explained alert, on a real plant.

A real hub (a 30-s warm-up) and a real simulated plant; the window is the real
:class:`ui.app.MainWindow`. While CNC 1's mode is being learned the header says so (the
hub's own words; the screenshot of it is test_anomaly_suggest's, at the default warm-up); once
learned, the detector panel shows the hub's baselines and thresholds.
The explained alert is a bearing-wear drift as the hub words one (a real one takes minutes of
ramp to appear), given to the view as the hub's ``ANOMALY_STATUS`` answer, so the card is
drawn from the shipped playbooks against the machine's real BIRTH and live setpoint.
docs/screenshots/anomaly.sh runs this at both panel sizes and keeps the pictures.
"""

from __future__ import annotations

import os
import time

import msgspec
import pytest

from copilot.protocol import AnomalyAlert
from copilot.station import AnomalyStatusArrived
from tests.helpers import Plant, hub_limits
from tests.ui.conftest import save_screenshot
from ui.app import MainWindow

CNC = "cnc-01"
SIZE = tuple(int(v) for v in os.environ.get("ANOMALY_SHOT_SIZE", "1280x800").split("x"))
SHOT = f"{SIZE[0]}x{SIZE[1]}"


@pytest.fixture
def learning_plant(plant: Plant) -> Plant:
    plant.hub(env=hub_limits(anomaly_warmup_s=30, anomaly_every_s=0.5, alarm_settle_s=0))
    plant.sim("--machines", "6", "--rate", "5", "--seed", "5")  # CNC 1 starts running
    return plant


def _window(make_ctx, qtbot) -> MainWindow:  # type: ignore[no-untyped-def]
    ctx = make_ctx(wait_machines=6)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.resize(*SIZE)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_learning_state_then_detector_panel_then_an_explained_alert(
    learning_plant: Plant, make_ctx, qtbot
) -> None:  # type: ignore[no-untyped-def]
    w = _window(make_ctx, qtbot)
    w.show_view(f"machine:{CNC}")
    view = w.machine
    qtbot.waitUntil(lambda: view.learning_text().startswith("◔ Learning normal: "), timeout=15000)
    assert view.learned is not None and view.learned.learning
    assert view.learning_label.height() >= 48

    # Learned: the header's badge goes; the detector panel shows what the hub learned.
    qtbot.waitUntil(lambda: view.learned is not None and not view.learned.learning, timeout=100000)
    qtbot.waitUntil(lambda: view.learning_text() == "", timeout=10000)
    view.show_detectors(True)
    assert view.detectors.isVisible() and not view.table.isVisible()
    qtbot.waitUntil(lambda: view.detectors.table.rowCount() > 3, timeout=10000)
    lines = view.detectors.line_texts()
    assert lines[0].startswith(f"Mode {view.learned.mode} · ")
    assert lines[1].startswith("Learned modes: ") and view.learned.mode in lines[1]
    assert lines[2].startswith("Alerts raised: ")
    names = {view.detectors.table.item(r, 0).text() for r in range(view.detectors.table.rowCount())}
    assert "Spindle vibration velocity (RMS)" in names
    save_screenshot(w, f"anomaly-detectors-{SHOT}")
    view.show_detectors(False)
    assert view.table.isVisible() and not view.detectors.isVisible()

    # An explained alert with the shipped playbook's suggestion.
    learned = view.learned
    now = time.time_ns()
    alert = msgspec.convert(
        {
            "alarm": f"{CNC}/vibration_mm_s/anomaly:drift:vibration_mm_s",
            "machine": CNC,
            "detector": "drift",
            "tag": "vibration_mm_s",
            "at": now - 20 * 10**9,
            "since": now - 12 * 60 * 10**9,
            "message": "CNC 1 spindle vibration velocity (RMS) has risen steadily for 12 min, "
            "4.1σ above its running baseline; spindle bearing temperature follows.",
            "mode": "running",
            "sigma": 4.1,
            "confidence": 0.86,
            "signals": ["vibration_mm_s", "spindle_temp_c"],
        },
        type=AnomalyAlert,
    )
    # As the answer to a request of its own: the hub's answers (in flight, or due in 5 s)
    # would replace it before the picture is taken.
    view._anomaly_due = time.monotonic() + 600
    view._anomaly_request = -7
    view.ctx.event.emit(AnomalyStatusArrived(-7, (learned,), (alert,)))
    qtbot.waitUntil(lambda: alert.alarm in view.alerts.cards, timeout=5000)
    card = view.alerts.cards[alert.alarm]
    assert card.heading.text() == (
        "▲ Anomaly: Drift · spindle vibration velocity (RMS) · 4.1σ above normal"
    )
    assert "confidence 86 % · mode running" in card.facts.text()
    assert card.contributors.text() == "Top contributors: spindle bearing temperature."
    assert card.why.text().startswith("Why: Rising spindle vibration while running")
    assert card.suggest.text().startswith("▶ Suggested: Set spindle speed ")
    assert card.suggest.isVisible() and card.suggest.height() >= 48
    for b in card.verdict_buttons.values():
        assert b.isVisible() and b.height() >= 48
    # The table still shows rows under the card at this size.
    assert view.table.height() >= 3 * 56, view.table.height()
    save_screenshot(w, f"anomaly-alert-{SHOT}")
