"""The gate's widgets driven directly: PIN pad, login screen, command panel, sheets, queue, audit.

These build each widget alone (no station) and assert on what it shows and what it emits; the
flow against a real hub and station is tests/ui/test_gate_flow.py.
"""

from __future__ import annotations

import os
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

from copilot.gate.panel import (
    DEMO_HINT,
    NS,
    ButtonState,
    PendingLine,
    approval_facts,
    authority_facts,
)
from copilot.protocol import Approval, ArgSpec, AuditRecord, Authority, Range
from tests.ui.conftest import save_screenshot
from ui.gate import (
    QtApprovalQueue,
    QtArgSheet,
    QtAuditView,
    QtCommandPanel,
    QtConfirmSheet,
    QtLoginScreen,
    QtPinPad,
    QtSignSheet,
    QtTwoPersonSheet,
)
from ui.gate.look import KEY, apply_style
from ui.theme import LIGHT

SPEED = ArgSpec(
    name="speed_rpm", unit="rpm", range=Range(1000.0, 10000.0), description="Spindle speed setpoint"
)


SIZE = tuple(int(v) for v in os.environ.get("GATE_SHOT_SIZE", "1280x800").split("x"))


@pytest.fixture
def host(qtbot) -> QWidget:  # type: ignore[no-untyped-def]
    w = QWidget()
    qtbot.addWidget(w)
    w.resize(*SIZE)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_pin_pad_keys_are_large_masked_and_take_the_keyboard(qtbot, host) -> None:  # type: ignore[no-untyped-def]
    pad = QtPinPad(host)
    apply_style(pad, LIGHT)  # inside the login screen or a sheet it has their style
    pad.show()
    pad.adjustSize()
    qtbot.waitUntil(lambda: all(k.width() >= 64 and k.height() >= 64 for k in pad.keys.values()))
    assert pad.field.echoMode() == QLineEdit.EchoMode.Password
    for digit in "12":
        qtbot.mouseClick(pad.keys[digit], Qt.MouseButton.LeftButton)
    pad.focus()
    qtbot.keyClicks(pad.field, "3x4")  # letters are not PIN digits
    assert pad.text() == "1234"
    qtbot.mouseClick(pad.keys["backspace"], Qt.MouseButton.LeftButton)
    assert pad.text() == "123"
    with qtbot.waitSignal(pad.entered) as got:
        qtbot.keyClick(pad.field, Qt.Key.Key_Return)
    assert got.args == ["123"]
    with qtbot.waitSignal(pad.entered):
        qtbot.mouseClick(pad.keys["enter"], Qt.MouseButton.LeftButton)


def test_login_screen_picks_a_user_and_shows_the_refusal(qtbot, host) -> None:  # type: ignore[no-untyped-def]
    screen = QtLoginScreen(host, LIGHT, demo_hint=DEMO_HINT)
    screen.set_users(["demo-operator", "demo-supervisor", "demo-engineer"])
    screen.open()
    assert screen.demo.isVisible() and "1111" in screen.demo.text()
    qtbot.mouseClick(screen.user_buttons["demo-operator"], Qt.MouseButton.LeftButton)
    qtbot.keyClicks(screen.pin.field, "1111")
    QApplication.processEvents()
    save_screenshot(host, "gate_login")  # the PIN pad, as a person sees it
    with qtbot.waitSignal(screen.login_requested) as got:
        qtbot.keyClick(screen.pin.field, Qt.Key.Key_Return)
    assert got.args == ["demo-operator", "1111"]
    screen.show_refusal("Locked out until 14:05:00; ask a SecurityAdmin to unlock.")
    assert screen.refusal_text().startswith("Locked out until 14:05")
    assert screen.pin.text() == ""  # the secret never stays on screen
    screen.set_in_flight(["Press 2 · Set barrel temperature — waiting for a supervisor"])
    assert screen.pending.isVisible()
    screen.use_password()
    qtbot.keyClicks(screen.password, "long password")
    with qtbot.waitSignal(screen.login_requested) as got:
        qtbot.keyClick(screen.password, Qt.Key.Key_Return)
    assert got.args == ["demo-operator", "long password"]


def test_command_texts_too_long_for_their_buttons_end_in_an_ellipsis_not_a_clipped_letter(  # type: ignore[no-untyped-def]
    qtbot, host
) -> None:
    """At 1280×800 the side panel's buttons are ~170 px wide: "no fault is latched" was cut
    to "no fault is latche" with nothing to say that more was there."""
    panel = QtCommandPanel(LIGHT, host)
    panel.resize(380, 400)
    panel.show()
    long = "Set spindle speed of the main spindle"
    panel.set_buttons(
        [
            ButtonState(
                "reset",
                "Reset fault",
                2,
                False,
                "No fault is latched.",
                "interlock",
                "no fault is latched",
                "Alt+1",
            ),
            ButtonState("speed", long, 2, True, caption="confirm", key="Alt+2"),
        ]
    )
    qtbot.waitUntil(lambda: panel.buttons["speed"].width() > 100)
    for name in ("reset", "speed"):
        b = panel.buttons[name]
        room = b.width() - 22
        for line in b.text().split("\n"):
            assert b.fontMetrics().horizontalAdvance(line) <= room, (name, line)
    shown = panel.buttons["speed"].text().split("\n")
    assert shown[0].endswith("…") and long.startswith(shown[0][:-1])
    assert shown[1] == "confirm"  # a line that fits stays whole
    assert panel.button_lines("speed") == [long, "confirm"]
    assert long in panel.buttons["speed"].toolTip()
    panel.resize(900, 400)  # wider: the whole label again
    qtbot.waitUntil(lambda: panel.buttons["speed"].text().split("\n")[0] == long)


def test_command_panel_says_why_a_disabled_command_cannot_be_pressed(qtbot, host) -> None:  # type: ignore[no-untyped-def]
    panel = QtCommandPanel(LIGHT, host)
    panel.resize(420, 500)
    panel.show()
    panel.set_buttons(
        [
            ButtonState(
                "start",
                "Start",
                2,
                False,
                "Press 2 cannot start: guard door open.",
                "interlock",
                "guard door open",
                "Alt+1",
            ),
            ButtonState("stop", "Stop", 1, True, caption="one tap", key="Alt+2"),
        ]
    )
    assert panel.buttons["start"].height() >= 64
    assert panel.buttons["start"].text().startswith("✕ Start")
    with qtbot.assertNotEmitted(panel.command_pressed):
        qtbot.mouseClick(panel.buttons["start"], Qt.MouseButton.LeftButton)
    assert panel.why_text() == "Press 2 cannot start: guard door open."
    with qtbot.waitSignal(panel.command_pressed) as got:
        qtbot.mouseClick(panel.buttons["stop"], Qt.MouseButton.LeftButton)
    assert got.args == ["stop"]
    panel.set_pending(
        [
            PendingLine(
                "c1", "Stop", "COMPLETED", "Done", "Observed: state idle.", "done", True, False
            )
        ]
    )
    assert panel.pending_texts()["c1"] == "✓ Stop — Done\nObserved: state idle."
    facts = authority_facts(
        Authority(scope="machine:m", holder="st-2", holder_name="Station 2"), station="st-1"
    )
    panel.set_authority(facts)
    assert "Station 2" in panel.authority.text()
    with qtbot.waitSignal(panel.authority_act) as got:
        qtbot.mouseClick(panel.authority_buttons["request"], Qt.MouseButton.LeftButton)
    assert got.args == ["request"]


def test_arg_sheet_checks_range_and_shows_old_to_new(qtbot, host) -> None:  # type: ignore[no-untyped-def]
    sheet = QtArgSheet(host, LIGHT, "Set spindle speed", [SPEED], {"speed_rpm": 4000.0})
    sheet.open()
    assert sheet.pad is not None and sheet.pad.text() == "4000"
    sheet.pad.set_text("12000")
    with qtbot.assertNotEmitted(sheet.accepted):
        sheet.submit()
    assert "outside the allowed 1000 – 10000 rpm" in sheet.problem.text()
    sheet.pad.set_text("4500")
    assert sheet.change["speed_rpm"].text() == "4000 → 4500 rpm"
    with qtbot.waitSignal(sheet.accepted) as got:
        qtbot.keyClick(sheet.pad.field, Qt.Key.Key_Return)
    assert got.args == [{"speed_rpm": 4500.0}]


def test_enum_choices_are_big_buttons(qtbot, host) -> None:  # type: ignore[no-untyped-def]
    mode = ArgSpec(name="mode", type="enum", choices=["idle", "setup", "maintenance"])
    sheet = QtArgSheet(host, LIGHT, "Set mode", [mode], {"mode": "idle"})
    sheet.open()
    buttons = sheet.choice_buttons["mode"]
    assert buttons["idle"].text() == "idle (now)" and buttons["setup"].height() >= 56
    qtbot.mouseClick(buttons["setup"], Qt.MouseButton.LeftButton)
    assert sheet.change["mode"].text() == "idle → setup"
    with qtbot.waitSignal(sheet.accepted) as got:
        sheet.submit()
    assert got.args == [{"mode": "setup"}]


def test_confirm_and_sign_sheets(qtbot, host) -> None:  # type: ignore[no-untyped-def]
    confirm = QtConfirmSheet(host, LIGHT, "CNC 1", "Set spindle speed", ["4000 → 4500 rpm"])
    confirm.open()
    with qtbot.waitSignal(confirm.confirmed):
        qtbot.mouseClick(confirm.confirm_button, Qt.MouseButton.LeftButton)
    sign = QtSignSheet(
        host, LIGHT, title="Sign: set mode", lines=["CNC 1 · idle → setup"], printed_name="Ann"
    )
    sign.open()
    assert sign.signature.text().startswith("Signature: Ann · ")
    assert sign.signature.text().endswith(" · performed")
    assert not sign.sign_button.isEnabled()
    qtbot.mouseClick(sign.reasons.buttons["Planned changeover"], Qt.MouseButton.LeftButton)
    qtbot.keyClicks(sign.pin.field, "1111")
    assert sign.sign_button.isEnabled()
    with qtbot.waitSignal(sign.signed) as got:
        qtbot.mouseClick(sign.sign_button, Qt.MouseButton.LeftButton)
    assert got.args == ["1111", "Planned changeover"]


def test_two_person_sheet_waits_counts_down_and_withdraws(qtbot, host) -> None:  # type: ignore[no-untyped-def]
    sheet = QtTwoPersonSheet(host, LIGHT, machine="CNC 1", command="Set speed", changes=["a → b"])
    sheet.open()
    sheet.ask()  # no reason yet
    assert "Enter a reason" in sheet.status.text()
    sheet.reasons.text.setText("Trial run")
    sheet.ask()  # no PIN yet
    assert "Enter your PIN" in sheet.status.text()
    qtbot.keyClicks(sheet.pin.field, "1111")
    with qtbot.waitSignal(sheet.requested) as got:
        qtbot.mouseClick(sheet.ask_button, Qt.MouseButton.LeftButton)
    assert got.args == ["1111", "Trial run"]
    sheet.set_waiting(time.time_ns() + 95 * NS)
    assert "Waiting for a supervisor — expires in 1:3" in sheet.status.text()
    with qtbot.waitSignal(sheet.withdrawn):
        qtbot.mouseClick(sheet.withdraw_button, Qt.MouseButton.LeftButton)
    assert "withdrawn" in sheet.status.text()


def test_approval_card_refuses_the_requester_with_why(qtbot, host) -> None:  # type: ignore[no-untyped-def]
    now = time.time_ns()
    a = Approval(
        cmd_id="c1", machine="cnc-1", name="set_speed", label="Set spindle speed",
        args={"speed_rpm": 9000.0}, requested_by="ann", requested_name="Ann", station="st-1",
        requested_at=now, expires_at=now + 120 * NS, reason="Trial", old={"speed_rpm": 4000.0},
    )  # fmt: skip
    queue = QtApprovalQueue(LIGHT, host)
    queue.resize(1200, 600)
    queue.show()
    facts = approval_facts(a, now, user="ann", roles=["Supervisor"], specs=[SPEED])
    queue.set_requests([(facts, "cnc-1", ["▲ HI Spindle temperature"], ["speed"], ["rpm"])], "")
    card = queue.cards["c1"]
    assert not card.approve_button.isEnabled()
    assert card.why.text() == "✕ You asked for this command; another supervisor must approve it."
    assert card.args.text() == "speed rpm: 4000 → 9000 rpm"
    other = approval_facts(a, now, user="bob", roles=["Supervisor"], specs=[SPEED])
    queue.set_requests([(other, "cnc-1", [], ["speed"], ["rpm"])], "")
    assert card.approve_button.isEnabled() and card.why.isHidden()
    with qtbot.waitSignal(queue.approve_requested) as got:
        qtbot.mouseClick(card.approve_button, Qt.MouseButton.LeftButton)
    assert got.args == ["c1"]


def test_audit_view_filters_and_shows_signatures(qtbot, host) -> None:  # type: ignore[no-untyped-def]
    view = QtAuditView(LIGHT, host)
    view.resize(1200, 600)
    view.show()
    view.since.setText("tomorrow")
    with qtbot.assertNotEmitted(view.query_requested):
        view.search()
    assert view.note.text().startswith("✕ “tomorrow” is not a time")
    view.since.setText("2024-05-01 08:00")
    view.machine.setText("cnc-1")
    view.kind.setCurrentText("signature")
    with qtbot.waitSignal(view.query_requested) as got:
        qtbot.mouseClick(view.search_button, Qt.MouseButton.LeftButton)
    flt = got.args[0]
    assert flt.machine == "cnc-1" and flt.kind == "signature" and flt.since > 0
    row = AuditRecord(
        seq=7,
        at=time.time_ns(),
        kind="signature",
        user="ann",
        name="Ann",
        machine="cnc-1",
        command="set_mode",
        meaning="performed",
        outcome="ok",
    )
    view.set_rows([row], more=True)
    cells = view.cell_texts()[0]
    assert cells[2] == "Ann (ann)" and cells[-1].startswith("Ann · ")
    assert cells[-1].endswith(" · performed")
    assert "more match" in view.note.text()
    assert KEY >= 64
