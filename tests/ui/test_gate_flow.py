"""The gate's station UI against a real hub and simulated plant (real processes).

The hub runs the gate with the example site policy (``set_mode`` on the presses takes two
people, ``reset_fault`` is signed); the demo's three people are in its people file. Each test
drives the real :class:`ui.app.MainWindow` by taps and keys and asserts on what it shows,
checked against the station's own state.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from copilot.gate.panel import DEMO_HINT
from copilot.gate.people import KdfParams, PeopleStore, ensure_demo, people_path
from tests.helpers import Plant, hub_limits
from tests.ui.conftest import save_screenshot
from ui.app import MainWindow
from ui.gate import QtArgSheet, QtConfirmSheet, QtSignSheet, QtTwoPersonSheet

POLICY = Path(__file__).resolve().parents[2] / "copilot" / "gate" / "policy.example.toml"
CNC, PRESS = "cnc-01", "press-01"
# docs/screenshots/gate.sh runs these tests at both panel sizes and keeps their screenshots.
SIZE = tuple(int(v) for v in os.environ.get("GATE_SHOT_SIZE", "1280x800").split("x"))


@pytest.fixture
def gate_plant(plant: Plant) -> Plant:
    with PeopleStore(people_path(plant.data_dir), kdf=KdfParams(n=1024)) as people:
        ensure_demo(people)
    plant.hub(env=hub_limits(scrypt_n=1024, policy_file=POLICY, alarm_settle_s=0))
    plant.sim("--machines", "6", "--rate", "5", "--seed", "4")
    return plant


def _window(make_ctx, qtbot, demo_hint: str = "") -> MainWindow:  # type: ignore[no-untyped-def]
    ctx = make_ctx(wait_machines=6)
    w = MainWindow(ctx, demo_hint=demo_hint)
    qtbot.addWidget(w)
    w.resize(*SIZE)
    w.show()
    qtbot.waitExposed(w)
    return w


def _tap(qtbot, widget) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def _login(qtbot, w: MainWindow, user: str, pin: str) -> None:  # type: ignore[no-untyped-def]
    w.lock()
    screen = w.gate.login
    assert screen.isVisible()
    screen.user.setText(user)
    qtbot.keyClicks(screen.pin.field, pin)
    qtbot.keyClick(screen.pin.field, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: w.gate.session is not None and w.gate.session.user == user, timeout=10000
    )
    qtbot.waitUntil(lambda: not screen.isVisible(), timeout=5000)  # the event reached Qt


def _sheet(w: MainWindow, kind: type) -> object:
    found = [s for s, *_ in w.gate.sheets if isinstance(s, kind) and s.isVisible()]
    return found[-1] if found else None


def test_login_refusal_then_commands_in_place_with_old_to_new(
    gate_plant: Plant, make_ctx, qtbot
) -> None:  # type: ignore[no-untyped-def]
    w = _window(make_ctx, qtbot, demo_hint=DEMO_HINT)
    w.show_view(f"machine:{CNC}")
    panel = w.machine.commands_panel
    qtbot.waitUntil(lambda: "stop" in panel.buttons, timeout=5000)
    # Nobody logged in: a tap says why and brings the login screen.
    _tap(qtbot, panel.buttons["stop"])
    assert panel.why_text() == "Log in to command this machine."
    screen = w.gate.login
    assert screen.isVisible() and "1111" in screen.demo.text()
    _tap(qtbot, screen.user_buttons["demo-operator"])
    qtbot.keyClicks(screen.pin.field, "9999")
    qtbot.keyClick(screen.pin.field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: screen.refusal_text() != "", timeout=10000)
    assert w.gate.session is None and screen.pin.text() == ""
    save_screenshot(w, "gate_login_refused")

    qtbot.keyClicks(screen.pin.field, "1111")
    _tap(qtbot, screen.pin.keys["enter"])
    qtbot.waitUntil(lambda: w.gate.session is not None, timeout=10000)
    qtbot.waitUntil(lambda: panel.states["stop"].enabled, timeout=5000)
    assert panel.states["stop"].caption == "one tap"

    # Tier 2 with an argument: the number pad, then the confirmation sheet, then the result.
    spec = next(c for c in w.ctx.store.machines() if c.info.id == CNC).commands
    set_cmd = next(c for c in spec if c.args)
    _tap(qtbot, panel.buttons[set_cmd.name])
    args = _sheet(w, QtArgSheet)
    assert isinstance(args, QtArgSheet) and args.pad is not None
    args.pad.set_text("12000")
    args.submit()
    assert "outside the allowed" in args.problem.text()
    args.pad.set_text("5000")
    qtbot.keyClick(args.pad.field, Qt.Key.Key_Return)
    confirm = _sheet(w, QtConfirmSheet)
    assert isinstance(confirm, QtConfirmSheet)
    assert confirm.changes[0].text().endswith("→ 5000 rpm")
    save_screenshot(w, "gate_confirm")
    _tap(qtbot, confirm.confirm_button)
    qtbot.waitUntil(
        lambda: any("— Done" in t for t in panel.pending_texts().values()), timeout=10000
    )
    done = next(t for t in panel.pending_texts().values() if "— Done" in t)
    assert done.startswith("✓ ")
    save_screenshot(w, "gate_command_panel")


def _stopped(qtbot, w: MainWindow, machine: str):  # type: ignore[no-untyped-def]
    """The machine's view with the machine stopped (set_mode is interlocked while running)."""
    w.show_view(f"machine:{machine}")
    panel = w.machine.commands_panel
    qtbot.waitUntil(lambda: panel.states.get("stop") and panel.states["stop"].enabled, timeout=5000)
    _tap(qtbot, panel.buttons["stop"])
    qtbot.waitUntil(
        lambda: "set_mode" in panel.states and panel.states["set_mode"].enabled, timeout=20000
    )
    return panel


def _choose_mode(qtbot, w: MainWindow, panel, mode: str) -> None:  # type: ignore[no-untyped-def]
    _tap(qtbot, panel.buttons["set_mode"])
    args = _sheet(w, QtArgSheet)
    assert isinstance(args, QtArgSheet)
    _tap(qtbot, args.choice_buttons["mode"][mode])
    _tap(qtbot, args.next_button)


def test_signed_command_and_the_audit_viewer(gate_plant: Plant, make_ctx, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = _window(make_ctx, qtbot)
    _login(qtbot, w, "demo-engineer", "3333")
    panel = _stopped(qtbot, w, CNC)  # set_mode is signed off the presses (policy)
    assert panel.states["set_mode"].tier == 3  # the example policy: signed off the presses
    assert panel.states["set_mode"].caption == "sign"
    _choose_mode(qtbot, w, panel, "setup")
    sign = _sheet(w, QtSignSheet)
    assert isinstance(sign, QtSignSheet)
    assert sign.signature.text().startswith("Signature: Demo Engineer · ")
    assert sign.signature.text().endswith(" · performed")
    _tap(qtbot, sign.reasons.buttons["Planned changeover"])
    qtbot.keyClicks(sign.pin.field, "3333")
    save_screenshot(w, "gate_sign")
    qtbot.keyClick(sign.pin.field, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: any("Set mode — Done" in t for t in panel.pending_texts().values()), timeout=15000
    )
    w.show_audit()
    qtbot.waitUntil(lambda: any(c[-1] for c in w.audit.cell_texts()), timeout=10000)
    signatures = [cells[-1] for cells in w.audit.cell_texts() if cells[-1]]
    assert any(s.startswith("Demo Engineer · ") and s.endswith(" · performed") for s in signatures)
    save_screenshot(w, "gate_audit")


def test_two_person_request_approved_from_a_second_station(
    gate_plant: Plant, make_ctx, qtbot
) -> None:  # type: ignore[no-untyped-def]
    first = _window(make_ctx, qtbot)
    second = _window(make_ctx, qtbot)
    _login(qtbot, first, "demo-engineer", "3333")
    _login(qtbot, second, "demo-supervisor", "2222")
    panel = _stopped(qtbot, first, PRESS)
    assert panel.states["set_mode"].tier == 4  # the example policy: two-person on the presses
    _choose_mode(qtbot, first, panel, "setup")
    two = _sheet(first, QtTwoPersonSheet)
    assert isinstance(two, QtTwoPersonSheet)
    _tap(qtbot, two.reasons.buttons["Planned changeover"])
    qtbot.keyClicks(two.pin.field, "3333")
    save_screenshot(first, "gate_two_person")
    _tap(qtbot, two.ask_button)
    qtbot.waitUntil(
        lambda: "expires in" in two.status.text() or "✕" in two.status.text(), timeout=10000
    )
    assert "expires in" in two.status.text(), two.status.text()

    # The supervisor's station: badge, queue card with the context, approve with the PIN.
    qtbot.waitUntil(lambda: second.gate.badge.isVisible(), timeout=10000)
    assert second.gate.badge.text() == "1 to approve"
    assert not first.gate.badge.isVisible()  # an engineer approves nothing
    second.show_approvals()
    card = next(iter(second.approvals.cards.values()))
    assert "Demo Engineer" in card.requester.text() and "→ setup" in card.args.text()
    assert card.approve_button.isEnabled()
    (curve,) = card.curves.values()  # the trend snippet has the recent samples of its tag
    qtbot.waitUntil(lambda: (x := curve.getData()[0]) is not None and len(x) > 2, timeout=5000)
    save_screenshot(second, "gate_approval_queue")
    _tap(qtbot, card.approve_button)
    sign = _sheet(second, QtSignSheet)
    assert isinstance(sign, QtSignSheet) and sign.signature.text().endswith(" · approved")
    qtbot.keyClicks(sign.pin.field, "2222")
    qtbot.keyClick(sign.pin.field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Approved" in two.status.text(), timeout=10000)
    qtbot.waitUntil(
        lambda: any("— Done" in t for t in panel.pending_texts().values()), timeout=15000
    )


def test_lock_cancels_an_open_confirmation_with_a_visible_notice(
    gate_plant: Plant, make_ctx, qtbot
) -> None:  # type: ignore[no-untyped-def]
    w = _window(make_ctx, qtbot)
    _login(qtbot, w, "demo-operator", "1111")
    w.show_view(f"machine:{CNC}")
    panel = w.machine.commands_panel
    spec = next(c for c in w.ctx.store.machines() if c.info.id == CNC).commands
    set_cmd = next(c for c in spec if c.args)
    qtbot.waitUntil(lambda: panel.states.get(set_cmd.name) is not None, timeout=5000)
    _tap(qtbot, panel.buttons[set_cmd.name])
    args = _sheet(w, QtArgSheet)
    assert isinstance(args, QtArgSheet)
    args.submit()
    assert isinstance(_sheet(w, QtConfirmSheet), QtConfirmSheet)
    before = dict(w.ctx.store.commands)
    w.gate.lock("idle")
    qtbot.waitUntil(lambda: w.gate.session is None, timeout=5000)
    assert w.gate.login.isVisible()
    assert "was not sent" in w.gate.login.notices.text()
    assert dict(w.ctx.store.commands) == before  # nothing was sent
    assert _sheet(w, QtConfirmSheet) is None
