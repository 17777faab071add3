"""Explained anomaly alerts with suggested actions and feedback, against a real hub and plant.

A real hub (the gate with the example policy, the demo's people, fast detectors) and a real
simulated plant whose CNC 1 loses its spindle temperature sensor a few seconds in (a dropout,
which needs no learned baseline). The window is the real :class:`ui.app.MainWindow`. The
machine view shows the hub's explained alert; a test playbook suggests a lower spindle speed
for it, so the suggestion's path is the one an operator takes: tap → the command's sheet
pre-filled (nothing sent) → Next → Confirm → the gate runs it with origin ``suggestion``. The
verdict buttons reach the hub, which stores the verdict: ``copilot alarms report`` counts it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from copilot.anomaly.playbooks import load_playbooks
from copilot.gate.people import KdfParams, PeopleStore, ensure_demo, people_path
from tests.helpers import Plant, hub_limits, run_cli
from tests.ui.conftest import save_screenshot
from ui.app import MainWindow
from ui.gate import QtArgSheet, QtConfirmSheet

POLICY = Path(__file__).resolve().parents[2] / "copilot" / "gate" / "policy.example.toml"
CNC = "cnc-01"
ALARM = f"{CNC}/spindle_temp_c/anomaly:dropout:spindle_temp_c"
SIZE = tuple(int(v) for v in os.environ.get("ANOMALY_SHOT_SIZE", "1280x800").split("x"))

FAULTS = """
[[fault]]
machine = "cnc-01"
fault = "dropout"
tag = "spindle_temp_c"
onset_s = 4
"""
PLAYBOOK = """
[[playbook]]
id = "test-dropout-slow-down"
machine = "cnc"
detector = ["dropout"]
tag = "spindle_temp_c"
explanation = "Without its temperature {machine} runs blind: a lower speed keeps it safe."
command = "set_speed"
args = { speed_rpm = "-20%" }
"""


@pytest.fixture
def fault_plant(plant: Plant, tmp_path: Path) -> Plant:
    with PeopleStore(people_path(plant.data_dir), kdf=KdfParams(n=1024)) as people:
        ensure_demo(people)
    faults = tmp_path / "faults.toml"
    faults.write_text(FAULTS)
    plant.hub(env=hub_limits(scrypt_n=1024, policy_file=POLICY, alarm_settle_s=0))
    plant.sim("--machines", "6", "--rate", "5", "--seed", "4", "--faults", str(faults))
    return plant


def _tap(qtbot, widget) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def _login(qtbot, w: MainWindow, user: str, pin: str) -> None:  # type: ignore[no-untyped-def]
    w.lock()
    screen = w.gate.login
    screen.user.setText(user)
    qtbot.keyClicks(screen.pin.field, pin)
    qtbot.keyClick(screen.pin.field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.gate.session is not None, timeout=10000)
    qtbot.waitUntil(lambda: not screen.isVisible(), timeout=5000)


def _sheet(w: MainWindow, kind: type) -> object:
    found = [s for s, *_ in w.gate.sheets if isinstance(s, kind) and s.isVisible()]
    return found[-1] if found else None


def test_a_suggestion_prefills_the_command_and_feedback_reaches_the_report(
    fault_plant: Plant, make_ctx, qtbot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    book = tmp_path / "playbooks"
    book.mkdir()
    (book / "test.toml").write_text(PLAYBOOK)
    ctx = make_ctx(wait_machines=6)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.resize(*SIZE)
    w.show()
    qtbot.waitExposed(w)
    _login(qtbot, w, "demo-operator", "1111")
    view = w.machine
    view.playbooks = load_playbooks([book])
    w.show_view(f"machine:{CNC}")
    # A fresh hub is still learning normal (the default 40-min warm-up): the header says so.
    qtbot.waitUntil(lambda: view.learning_text().endswith(" min left"), timeout=15000)
    assert view.learning_text().startswith("◔ Learning normal: ")
    save_screenshot(w, f"anomaly-learning-{SIZE[0]}x{SIZE[1]}")
    sent: list[tuple[str, str, dict[str, object], str]] = []
    real_request = ctx.station.request_command

    def spy(machine, name, args=None, **kw):  # type: ignore[no-untyped-def]
        sent.append((machine, name, dict(args or {}), kw.get("origin", "touch")))
        return real_request(machine, name, args, **kw)

    ctx.station.request_command = spy  # a pass-through record of what the station sends
    qtbot.waitUntil(lambda: ALARM in view.alerts.cards, timeout=30000)
    card = view.alerts.cards[ALARM]
    qtbot.waitUntil(lambda: card.suggest.isVisible(), timeout=5000)
    assert card.heading.text().startswith("▲ Anomaly: Dropout · spindle")
    assert "confidence 99 %" in card.facts.text() and card.facts.text().startswith("since ")
    assert "Without its temperature CNC 1 runs blind" in card.why.text()
    setpoint = ctx.store.reading(CNC, "speed_setpoint_rpm")
    assert setpoint is not None
    expected = round(float(setpoint.value) * 0.8)
    assert card.suggest.text() == f"▶ Suggested: Set spindle speed {expected} rpm"
    for b in [card.suggest, *card.verdict_buttons.values()]:
        assert b.height() >= 48, b.text()

    # One tap pre-fills the command's sheet; nothing is sent until the person confirms.
    _tap(qtbot, card.suggest)
    sheet = _sheet(w, QtArgSheet)
    assert isinstance(sheet, QtArgSheet) and sheet.pad is not None
    assert sheet.pad.value_text() == f"{expected}"
    assert sheet.title.text() == "Set spindle speed · CNC 1 · suggested"
    assert sheet.change["speed_rpm"].text().endswith(f"→ {expected} rpm")
    save_screenshot(w, f"anomaly-suggestion-sheet-{SIZE[0]}x{SIZE[1]}")
    assert sent == []
    _tap(qtbot, sheet.next_button)
    confirm = _sheet(w, QtConfirmSheet)
    assert isinstance(confirm, QtConfirmSheet)
    assert sent == []
    _tap(qtbot, confirm.confirm_button)
    assert sent == [(CNC, "set_speed", {"speed_rpm": float(expected)}, "suggestion")]
    qtbot.waitUntil(
        lambda: any(
            s.name == "set_speed" and s.state == "COMPLETED" for s in ctx.store.commands.values()
        ),
        timeout=15000,
    )
    qtbot.waitUntil(
        lambda: (
            (r := ctx.store.reading(CNC, "speed_setpoint_rpm")) is not None
            and abs(float(r.value) - expected) < 1
        ),
        timeout=10000,
    )

    # The verdict reaches the hub, is answered, stored, and counted in the alarm report.
    _tap(qtbot, card.verdict_buttons["false_alarm"])
    qtbot.waitUntil(lambda: "Thank you" in card.answer.text(), timeout=10000)
    assert card.verdict_buttons["false_alarm"].isChecked()
    report = run_cli(fault_plant, "alarms", "report", "--json")
    assert report.returncode == 0, report.stderr
    feedback = json.loads(report.stdout)["anomaly_feedback"]
    assert feedback == [
        {
            "machine": CNC,
            "tag": "spindle_temp_c",
            "detector": "dropout",
            "useful": 0,
            "not_useful": 0,
            "false_alarm": 1,
        }
    ]
    text = run_cli(fault_plant, "alarms", "report")
    assert "ANOMALY FEEDBACK" in text.stdout and "cnc-01/spindle_temp_c" in text.stdout


def test_without_a_login_the_suggestion_asks_for_one_and_sends_nothing(
    fault_plant: Plant, make_ctx, qtbot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    book = tmp_path / "playbooks"
    book.mkdir()
    (book / "test.toml").write_text(PLAYBOOK)
    ctx = make_ctx(wait_machines=6)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.resize(*SIZE)
    w.show()
    qtbot.waitExposed(w)
    view = w.machine
    view.playbooks = load_playbooks([book])
    w.show_view(f"machine:{CNC}")
    qtbot.waitUntil(lambda: ALARM in view.alerts.cards, timeout=30000)
    card = view.alerts.cards[ALARM]
    qtbot.waitUntil(lambda: card.suggest.isVisible(), timeout=5000)
    before = dict(ctx.store.commands)
    _tap(qtbot, card.suggest)
    assert w.gate.login.isVisible()
    assert _sheet(w, QtArgSheet) is None and dict(ctx.store.commands) == before
    w.gate.login.hide()
    _tap(qtbot, card.verdict_buttons["useful"])
    qtbot.waitUntil(lambda: "Log in first" in card.answer.text(), timeout=5000)
    assert not card.verdict_buttons["useful"].isChecked()
