"""Sheets over the window: arguments, confirm (tier 2), sign (tier 3), two-person (tier 4), deny.

A :class:`QtSheet` covers its host widget with a dimmed scrim and a card in the middle; it is
not a modal dialog (no nested event loop), so the station keeps updating under it and the
inactivity lock can cancel it. Esc or Cancel emits :attr:`QtSheet.cancelled`; every sheet says
what will be sent before anything is. Nothing here talks to the station: the gate flow
(:mod:`ui.gate.flow`) reads the signals and asks the hub.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from copilot.gate.panel import (
    NS,
    SIGN_REASONS,
    change_text,
    countdown,
    decimals_of,
    parse_arg,
    range_text,
    signature_line,
)
from copilot.protocol import ArgSpec, Scalar, Value
from ui.gate.keypad import QtNumberPad, QtPinPad
from ui.gate.look import apply_style
from ui.theme import Theme


def label(text: str, name: str, parent: QWidget, wrap: bool = True) -> QLabel:
    """A label with a gate style name."""
    w = QLabel(text, parent)
    w.setObjectName(name)
    w.setWordWrap(wrap)
    return w


def big_button(text: str, parent: QWidget, primary: bool = False) -> QPushButton:
    """A ≥ 64 px button for a sheet's decision."""
    b = QPushButton(text, parent)
    b.setObjectName("gateBig")
    b.setProperty("primary", "true" if primary else "false")
    return b


class QtSheet(QWidget):
    """A card over a dimmed ``host``; call :meth:`open`, close with :meth:`dismiss`."""

    cancelled = Signal()

    def __init__(self, host: QWidget, theme: Theme, title: str, width: int = 640) -> None:
        super().__init__(host)
        self.host = host
        self.setObjectName("gateSheet")
        apply_style(self, theme)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, False)
        outer = QVBoxLayout(self)
        outer.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.card = QFrame(self)
        self.card.setObjectName("gateCard")
        self.card.setFixedWidth(width)
        outer.addWidget(self.card, 0, Qt.AlignmentFlag.AlignCenter)
        self.body = QVBoxLayout(self.card)
        self.body.setContentsMargins(24, 20, 24, 20)
        self.body.setSpacing(12)
        self.title = label(title, "gateTitle", self.card)
        self.body.addWidget(self.title)
        self.buttons = QHBoxLayout()
        self.buttons.setSpacing(12)
        self.cancel_button = big_button("Cancel", self.card)
        self.cancel_button.clicked.connect(self.cancel)
        host.installEventFilter(self)
        self.hide()

    def add_buttons(self, *buttons: QPushButton) -> None:
        """Cancel first (left), then the sheet's own decisions, the main one last."""
        self.buttons.addWidget(self.cancel_button, 1)
        for b in buttons:
            self.buttons.addWidget(b, 2)
        self.body.addLayout(self.buttons)

    def open(self) -> None:
        """Cover the host and show the card."""
        self.setGeometry(self.host.rect())
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def dismiss(self) -> None:
        """Close the sheet for good."""
        self.host.removeEventFilter(self)
        self.hide()
        self.deleteLater()

    def cancel(self) -> None:
        """Nothing is sent: tell the flow, then close."""
        self.cancelled.emit()
        self.dismiss()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        """Follow the host's size."""
        if watched is self.host and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.host.rect())
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        """Esc cancels."""
        if event.key() == Qt.Key.Key_Escape:
            event.accept()
            self.cancel()
            return
        super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        """The scrim: the view under the sheet stays visible, dimmed."""
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0, 110))
        p.end()


class QtArgSheet(QtSheet):
    """The new values of a command's arguments, checked before anything is sent.

    A number pad (unit, allowed range, old → new) or big buttons for enum/bool choices;
    ``accepted(args)`` once every value is valid.
    """

    accepted = Signal(dict)

    def __init__(
        self,
        host: QWidget,
        theme: Theme,
        title: str,
        args: Sequence[ArgSpec],
        old: dict[str, Value],
        preset: dict[str, Scalar] | None = None,
        note: str = "",
    ) -> None:
        super().__init__(host, theme, title, width=620)
        self.specs = list(args)
        self.old = dict(old)
        self.preset = dict(preset or {})  # a co-pilot suggestion's values, pre-filled
        self.values: dict[str, Scalar] = {}
        if note:
            self.note = label(note, "gateNotice", self.card)
            self.body.addWidget(self.note)
        self.pad: QtNumberPad | None = None
        self.change: dict[str, QLabel] = {}
        self.choice_buttons: dict[str, dict[str, QPushButton]] = {}
        for arg in self.specs:
            name = (arg.description or arg.name.replace("_", " ")).capitalize()
            unit = f" ({arg.unit})" if arg.unit else ""
            self.body.addWidget(label(f"{name}{unit}", "gateLead", self.card))
            if arg.type in ("enum", "bool") or arg.choices:
                self._choices(arg)
            elif self.pad is None:  # one numeric argument per sheet has the pad
                self._number(arg)
        self.problem = label("", "gateRefusal", self.card)
        self.problem.hide()
        self.body.addWidget(self.problem)
        if self.pad is not None and self.number_arg.name in self.preset:
            self._edited("")  # old → the suggested value, shown before any key is pressed
        self.next_button = big_button("Next ▶", self.card, primary=True)
        self.next_button.clicked.connect(self.submit)
        self.add_buttons(self.next_button)

    def _choices(self, arg: ArgSpec) -> None:
        choices = arg.choices or ["on", "off"]
        grid = QGridLayout()
        grid.setSpacing(10)
        group = QButtonGroup(self)
        buttons: dict[str, QPushButton] = {}
        current = self.old.get(arg.name)
        for i, choice in enumerate(choices):
            b = QPushButton(choice, self.card)
            b.setObjectName("gateChoice")
            b.setCheckable(True)
            b.setMinimumHeight(64)
            if current is not None and str(current) == choice:
                b.setText(f"{choice} (now)")
            group.addButton(b)
            b.clicked.connect(lambda _=False, a=arg, c=choice: self._choose(a, c))
            buttons[choice] = b
            grid.addWidget(b, i // 3, i % 3)
        self.choice_buttons[arg.name] = buttons
        self.body.addLayout(grid)
        self.change[arg.name] = label(
            change_text(arg, current, None), "gateChange", self.card, wrap=False
        )
        self.body.addWidget(self.change[arg.name])
        pick = self.preset.get(arg.name)
        if pick is not None:
            text = ("on" if pick else "off") if isinstance(pick, bool) else str(pick)
            if text in buttons:
                buttons[text].setChecked(True)
                self._choose(arg, text)

    def _choose(self, arg: ArgSpec, choice: str) -> None:
        value: Scalar = choice if arg.type != "bool" else choice == "on"
        self.values[arg.name] = value
        self.change[arg.name].setText(change_text(arg, self.old.get(arg.name), value))
        self.problem.hide()

    def _number(self, arg: ArgSpec) -> None:
        self.number_arg = arg
        self.body.addWidget(label(range_text(arg), "gateDim", self.card))
        old = self.old.get(arg.name)
        self.change[arg.name] = label(change_text(arg, old, None), "gateChange", self.card)
        self.body.addWidget(self.change[arg.name])
        self.pad = QtNumberPad(self.card)
        start = self.preset.get(arg.name, old)
        if isinstance(start, int | float) and not isinstance(start, bool):
            self.pad.set_text(f"{start:.{decimals_of(arg)}f}")
        self.pad.edited.connect(self._edited)
        self.pad.entered.connect(lambda _text: self.submit())
        self.body.addWidget(self.pad)

    def _edited(self, _text: str) -> None:
        assert self.pad is not None
        arg = self.number_arg
        value, _why = parse_arg(arg, self.pad.value_text())
        shown: Value = value if value is not None else None
        self.change[arg.name].setText(change_text(arg, self.old.get(arg.name), shown))
        self.problem.hide()

    def open(self) -> None:
        """Show, with the keyboard in the number field."""
        super().open()
        if self.pad is not None:
            self.pad.focus()
            self.pad.field.selectAll()

    def submit(self) -> None:
        """Check every value; emit :attr:`accepted` or say what is wrong, in one sentence."""
        if self.pad is not None:
            value, why = parse_arg(self.number_arg, self.pad.value_text())
            if value is None:
                self._refuse(why)
                return
            self.values[self.number_arg.name] = value
        for arg in self.specs:
            if arg.name not in self.values:
                self._refuse(f"Choose the {(arg.description or arg.name).lower()}.")
                return
        self.accepted.emit(dict(self.values))
        self.dismiss()

    def _refuse(self, why: str) -> None:
        self.problem.setText(f"✕ {why}")
        self.problem.show()


class QtConfirmSheet(QtSheet):
    """Tier 2: the target machine, the command and old → new with its unit; Confirm / Cancel."""

    confirmed = Signal()

    def __init__(
        self,
        host: QWidget,
        theme: Theme,
        machine: str,
        command: str,
        changes: Sequence[str],
        note: str = "",
    ) -> None:
        super().__init__(host, theme, f"Confirm: {command}", width=600)
        if note:  # why the co-pilot suggests it
            self.note = label(note, "gateNotice", self.card)
            self.body.addWidget(self.note)
        self.body.addWidget(label(f"Machine: {machine}", "gateLead", self.card))
        self.changes = [label(c, "gateChange", self.card) for c in changes]
        for c in self.changes:
            self.body.addWidget(c)
        if not changes:
            self.body.addWidget(label("No values change.", "gateDim", self.card))
        self.body.addWidget(label("Check the machine and the values.", "gateDim", self.card))
        self.confirm_button = big_button(f"✓ Confirm {command.lower()}", self.card, primary=True)
        self.confirm_button.clicked.connect(self.confirm)
        self.add_buttons(self.confirm_button)

    def confirm(self) -> None:
        """The person saw the target and the values."""
        self.confirmed.emit()
        self.dismiss()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        """Enter confirms, Esc cancels."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            self.confirm()
            return
        super().keyPressEvent(event)


class _Reasons(QWidget):
    """A reason: pick-list buttons or free text."""

    changed = Signal(str)

    def __init__(self, parent: QWidget, reasons: Sequence[str], columns: int = 3) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(8)
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QPushButton] = {}
        for i, reason in enumerate(reasons):
            b = QPushButton(reason, self)
            b.setObjectName("gateChoice")
            b.setCheckable(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.group.addButton(b)
            b.clicked.connect(lambda _=False, r=reason: self._pick(r))
            self.buttons[reason] = b
            grid.addWidget(b, i // columns, i % columns)
        self.text = QLineEdit(self)
        self.text.setObjectName("gateText")
        self.text.setPlaceholderText("…or type a reason")
        self.text.textEdited.connect(self._typed)
        grid.addWidget(self.text, (len(reasons) + columns - 1) // columns, 0, 1, columns)

    def _pick(self, reason: str) -> None:
        self.text.setText(reason)
        self.changed.emit(reason)

    def _typed(self, text: str) -> None:
        checked = self.group.checkedButton()
        if checked is not None and checked.text() != text:
            self.group.setExclusive(False)
            checked.setChecked(False)
            self.group.setExclusive(True)
        self.changed.emit(text)

    def reason(self) -> str:
        """The reason as it stands."""
        return self.text.text().strip()


class QtSignSheet(QtSheet):
    """Tier 3 (or a supervisor approving): re-enter the PIN and give a reason.

    Shows what is signed and the signature as it will be recorded: printed name, date and
    time, meaning (``performed`` or ``approved``). ``signed(secret, reason)``.
    """

    signed = Signal(str, str)

    def __init__(
        self,
        host: QWidget,
        theme: Theme,
        *,
        title: str,
        lines: Sequence[str],
        printed_name: str,
        meaning: str = "performed",
        reasons: Sequence[str] = SIGN_REASONS,
        need_reason: bool = True,
        action: str = "Sign and send",
    ) -> None:
        super().__init__(host, theme, title, width=980)
        # Two columns so the sheet fits a 1280 × 800 panel: what is signed and why on the left,
        # the PIN pad (or a password) on the right.
        row = QHBoxLayout()
        row.setSpacing(20)
        left = QVBoxLayout()
        left.setSpacing(10)
        for line in lines:
            left.addWidget(label(line, "gateLead", self.card))
        self.printed_name = printed_name
        self.meaning = meaning
        self.signature = label("", "gateNotice", self.card)
        left.addWidget(self.signature)
        self.need_reason = need_reason
        self.reasons = _Reasons(self.card, reasons, columns=2)
        self.reasons.changed.connect(lambda _t: self._update())
        left.addWidget(label("Reason" if need_reason else "Note (optional)", "gateBody", self.card))
        left.addWidget(self.reasons)
        self.problem = label("", "gateRefusal", self.card)
        self.problem.hide()
        left.addWidget(self.problem)
        left.addStretch(1)
        row.addLayout(left, 1)
        side = QVBoxLayout()
        side.setSpacing(8)
        side.addWidget(label("Re-enter your PIN to sign", "gateBody", self.card))
        self.pin = QtPinPad(self.card)
        self.pin.setFixedWidth(344)  # three 72-px keys with the style's padding, never clipped
        self.pin.edited.connect(lambda _t: self._update())
        self.pin.entered.connect(lambda _t: self.sign())
        side.addWidget(self.pin)
        self.password = QLineEdit(self.card)
        self.password.setObjectName("gateText")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("…or your password")
        self.password.textEdited.connect(lambda _t: self._update())
        self.password.returnPressed.connect(self.sign)
        side.addWidget(self.password)
        row.addLayout(side, 0)
        self.body.addLayout(row)
        self.sign_button = big_button(action, self.card, primary=True)
        self.sign_button.clicked.connect(self.sign)
        self.add_buttons(self.sign_button)
        self._clock = QTimer(self)
        self._clock.timeout.connect(self._update)
        self._clock.start(1000)
        self._update()

    def secret(self) -> str:
        """The PIN typed, else the password."""
        return self.pin.text() or self.password.text()

    def _update(self) -> None:
        now = time.time_ns()
        self.signature.setText("Signature: " + signature_line(self.printed_name, now, self.meaning))
        ok = len(self.secret()) >= 4 and (bool(self.reasons.reason()) or not self.need_reason)
        self.sign_button.setEnabled(ok)

    def open(self) -> None:
        """Show with the keyboard in the PIN field."""
        super().open()
        self.pin.focus()

    def sign(self) -> None:
        """Emit :attr:`signed` if a secret and (when needed) a reason are there."""
        if len(self.secret()) < 4:
            self.show_problem("Enter your PIN (4 to 12 digits) or your password.")
            return
        if self.need_reason and not self.reasons.reason():
            self.show_problem("Pick a reason or type one.")
            return
        self._clock.stop()
        self.signed.emit(self.secret(), self.reasons.reason())
        self.dismiss()

    def show_problem(self, text: str) -> None:
        """One sentence in the sheet (the PIN is cleared)."""
        self.problem.setText(f"✕ {text}")
        self.problem.show()
        self.pin.clear()


class QtTwoPersonSheet(QtSheet):
    """Tier 4: a reason, then "waiting for a supervisor" with the expiry countdown; withdraw.

    ``requested(reason)`` asks; :meth:`set_waiting` counts down to the approval's expiry;
    ``withdrawn()`` while waiting; :meth:`set_outcome` ends it (approved, denied, expired).
    """

    requested = Signal(str, str)  # secret, reason
    withdrawn = Signal()

    def __init__(
        self,
        host: QWidget,
        theme: Theme,
        *,
        machine: str,
        command: str,
        changes: Sequence[str],
        reasons: Sequence[str] = SIGN_REASONS,
    ) -> None:
        super().__init__(host, theme, f"Two-person command: {command}", width=980)
        row = QHBoxLayout()
        row.setSpacing(20)
        left = QVBoxLayout()
        left.setSpacing(10)
        left.addWidget(label(f"Machine: {machine}", "gateLead", self.card))
        for c in changes:
            left.addWidget(label(c, "gateChange", self.card))
        self.lead = label(
            "You sign the request with your PIN and a reason; a supervisor other than you "
            "approves it from any station.",
            "gateBody",
            self.card,
        )
        left.addWidget(self.lead)
        self.reasons = _Reasons(self.card, reasons, columns=2)
        left.addWidget(self.reasons)
        self.status = label("", "gateNotice", self.card)
        self.status.hide()
        left.addWidget(self.status)
        left.addStretch(1)
        row.addLayout(left, 1)
        self.pin = QtPinPad(self.card)
        self.pin.setFixedWidth(344)  # three 72-px keys with the style's padding, never clipped
        self.pin.entered.connect(lambda _t: self.ask())
        row.addWidget(self.pin, 0)
        self.body.addLayout(row)
        self.ask_button = big_button("Ask a supervisor", self.card, primary=True)
        self.ask_button.clicked.connect(self.ask)
        self.withdraw_button = big_button("Withdraw request", self.card)
        self.withdraw_button.clicked.connect(self.withdraw)
        self.withdraw_button.hide()
        self.close_button = big_button("Close", self.card, primary=True)
        self.close_button.clicked.connect(self.dismiss)
        self.close_button.hide()
        self.add_buttons(self.withdraw_button, self.ask_button, self.close_button)
        self.expires_at = 0
        self.waiting = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)

    def open(self) -> None:
        """Show with the keyboard in the PIN field."""
        super().open()
        self.pin.focus()

    def ask(self) -> None:
        """Send the request, signed with the PIN and a reason (both required)."""
        reason = self.reasons.reason()
        if not reason or len(self.pin.text()) < 4:
            what = "a reason (the supervisor reads it)" if not reason else "your PIN"
            self.status.setText(f"✕ Enter {what} first.")
            self.status.show()
            return
        self.requested.emit(self.pin.text(), reason)
        self.pin.clear()
        self.set_waiting(0)

    def set_waiting(self, expires_at: int) -> None:
        """Waiting for a supervisor until ``expires_at`` (ns; 0 = not said yet)."""
        self.waiting = True
        self.expires_at = expires_at or self.expires_at
        self.reasons.hide()
        self.pin.hide()
        self.ask_button.hide()
        self.cancel_button.hide()
        self.withdraw_button.show()
        self.status.show()
        self._timer.start(1000)
        self._tick()

    def _tick(self) -> None:
        if not self.waiting:
            return
        if self.expires_at:
            left = countdown((self.expires_at - time.time_ns()) / NS)
            self.status.setText(f"… Waiting for a supervisor — expires in {left}")
        else:
            self.status.setText("… Sending the request to the supervisors")

    def withdraw(self) -> None:
        """Take the request back (the gate answers CANCELLED)."""
        self.withdrawn.emit()
        self.set_outcome("Request withdrawn; nothing was sent to the machine.", ok=True)

    def set_outcome(self, text: str, ok: bool) -> None:
        """The end: approved (the command goes on), denied, expired or withdrawn."""
        self.waiting = False
        self._timer.stop()
        self.status.setText(("✓ " if ok else "✕ ") + text)
        self.status.setObjectName("gateNotice" if ok else "gateRefusal")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        self.status.show()
        self.withdraw_button.hide()
        self.cancel_button.hide()
        self.ask_button.hide()
        self.close_button.show()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        """Esc while waiting closes the sheet but keeps the request (it stays on the panel)."""
        if event.key() == Qt.Key.Key_Escape and (self.waiting or self.close_button.isVisible()):
            event.accept()
            self.dismiss()
            return
        super().keyPressEvent(event)


class QtDenySheet(QtSheet):
    """A supervisor denies a request, with a note the requester reads: ``denied(note)``."""

    denied = Signal(str)

    def __init__(self, host: QWidget, theme: Theme, title: str, lines: Sequence[str]) -> None:
        super().__init__(host, theme, title, width=640)
        for line in lines:
            self.body.addWidget(label(line, "gateLead", self.card))
        self.body.addWidget(label("Note for the requester", "gateBody", self.card))
        self.note = QLineEdit(self.card)
        self.note.setObjectName("gateText")
        self.note.setPlaceholderText("Why it is denied")
        self.note.returnPressed.connect(self.deny)
        self.body.addWidget(self.note)
        self.deny_button = big_button("✕ Deny", self.card, primary=True)
        self.deny_button.clicked.connect(self.deny)
        self.add_buttons(self.deny_button)

    def open(self) -> None:
        """Show with the keyboard in the note."""
        super().open()
        self.note.setFocus(Qt.FocusReason.OtherFocusReason)

    def deny(self) -> None:
        """Emit :attr:`denied` with the note."""
        self.denied.emit(self.note.text().strip())
        self.dismiss()


__all__ = [
    "QtArgSheet",
    "QtConfirmSheet",
    "QtDenySheet",
    "QtSheet",
    "QtSignSheet",
    "QtTwoPersonSheet",
]
