"""The login / lock screen: user picker, touch PIN pad or password, the refusal in one sentence.

Covers the views while nobody is logged in (the link banner and the alarm row above them stay
live: a locked station still annunciates); "View only" uncovers the plant with every command
disabled. It lists what is still in flight or awaiting approval
(a pending command is never dropped silently) and the notices of what the lock cancelled.
``login_requested(user, secret)``; the gate flow asks the hub and calls :meth:`show_refusal`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.gate.keypad import QtPinPad
from ui.gate.look import apply_style
from ui.gate.sheets import big_button, label
from ui.theme import Theme


class QtLoginScreen(QWidget):
    """Log in (or unlock / switch user) without closing the application."""

    login_requested = Signal(str, str)
    view_only = Signal()

    def __init__(self, host: QWidget, theme: Theme, demo_hint: str = "") -> None:
        super().__init__(host)
        self.host = host
        self.theme = theme
        apply_style(self, theme)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(40, 30, 40, 30)
        outer.setSpacing(40)
        outer.addStretch(1)

        left_box = QFrame(self)
        left_box.setObjectName("gateBox")
        left_box.setFixedWidth(560)
        left = QVBoxLayout(left_box)
        left.setContentsMargins(24, 20, 24, 20)
        left.setSpacing(12)
        self.title = label("Log in to command machines", "gateTitle", left_box)
        left.addWidget(self.title)
        self.subtitle = label(
            "Choose who you are, then enter your PIN on the pad or your password.",
            "gateBody",
            left_box,
        )
        left.addWidget(self.subtitle)
        self.demo = label(demo_hint, "gateNotice", left_box)
        self.demo.setVisible(bool(demo_hint))
        left.addWidget(self.demo)
        left.addWidget(label("User", "gateDim", left_box))
        self.user_grid = QGridLayout()
        self.user_grid.setSpacing(8)
        left.addLayout(self.user_grid)
        self.user_group = QButtonGroup(self)
        self.user_buttons: dict[str, QPushButton] = {}
        self.user = QLineEdit(left_box)
        self.user.setObjectName("gateText")
        self.user.setPlaceholderText("…or type your user id")
        self.user.textEdited.connect(self._typed_user)
        self.user.returnPressed.connect(lambda: self.pin.focus())
        left.addWidget(self.user)
        self.refusal = label("", "gateRefusal", left_box)
        self.refusal.hide()
        left.addWidget(self.refusal)
        self.pending_title = label("Still in progress", "gateBody", left_box)
        self.pending_title.hide()
        left.addWidget(self.pending_title)
        self.pending = label("", "gateDim", left_box)
        self.pending.hide()
        left.addWidget(self.pending)
        self.notices = label("", "gateNotice", left_box)
        self.notices.hide()
        left.addWidget(self.notices)
        left.addStretch(1)
        outer.addWidget(left_box, 0, Qt.AlignmentFlag.AlignVCenter)

        right_box = QFrame(self)
        right_box.setObjectName("gateBox")
        right = QVBoxLayout(right_box)
        right.setContentsMargins(24, 20, 24, 20)
        right.setSpacing(12)
        right.addWidget(label("PIN", "gateDim", right_box))
        self.pin = QtPinPad(right_box)
        self.pin.setFixedWidth(330)
        self.pin.entered.connect(lambda _t: self.submit())
        right.addWidget(self.pin)
        self.password_toggle = big_button("Use a password instead", right_box)
        self.password_toggle.clicked.connect(self.use_password)
        right.addWidget(self.password_toggle)
        self.password = QLineEdit(right_box)
        self.password.setObjectName("gateText")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Password")
        self.password.returnPressed.connect(self.submit)
        self.password.hide()
        right.addWidget(self.password)
        self.login_button = big_button("Log in", right_box, primary=True)
        self.login_button.clicked.connect(self.submit)
        right.addWidget(self.login_button)
        self.view_button = big_button("View only (no commands)", right_box)
        self.view_button.clicked.connect(self.view_only)
        right.addWidget(self.view_button)
        outer.addWidget(right_box, 0, Qt.AlignmentFlag.AlignVCenter)
        outer.addStretch(1)
        self.busy = False
        host.installEventFilter(self)
        self.hide()  # until open(): a child of a shown host is shown too, under its pages

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        """Follow the host's size."""
        if watched is self.host and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.host.rect())
        return False

    # -- what it shows --------------------------------------------------------------------

    def set_users(self, users: Sequence[str]) -> None:
        """The picker's buttons (recent users, the demo's people)."""
        for b in self.user_buttons.values():
            self.user_group.removeButton(b)
            b.deleteLater()
        self.user_buttons = {}
        for i, user in enumerate(users):
            b = QPushButton(user, self)
            b.setObjectName("gateChoice")
            b.setCheckable(True)
            b.setMinimumHeight(64)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(lambda _=False, u=user: self.choose(u))
            self.user_group.addButton(b)
            self.user_buttons[user] = b
            self.user_grid.addWidget(b, i // 2, i % 2)
        if self.user.text() in self.user_buttons:
            self.user_buttons[self.user.text()].setChecked(True)

    def choose(self, user: str) -> None:
        """Pick ``user``; the PIN pad takes the keyboard."""
        self.user.setText(user)
        button = self.user_buttons.get(user)
        if button is not None:
            button.setChecked(True)
        self.refusal.hide()
        self.pin.focus()

    def _typed_user(self, text: str) -> None:
        checked = self.user_group.checkedButton()
        if checked is not None and checked.text() != text:
            self.user_group.setExclusive(False)
            checked.setChecked(False)
            self.user_group.setExclusive(True)

    def set_locked(self, locked_by: str, why: str) -> None:
        """Locked (by inactivity or by hand): say whose session ended and why."""
        self.title.setText(f"Station locked — {locked_by}" if locked_by else "Station locked")
        self.subtitle.setText(why)

    def set_login(self) -> None:
        """The first login (nobody was logged in)."""
        self.title.setText("Log in to command machines")
        self.subtitle.setText(
            "Choose who you are, then enter your PIN on the pad or your password."
        )

    def set_demo_hint(self, text: str) -> None:
        """The demo's people and PINs (empty: hidden)."""
        self.demo.setText(text)
        self.demo.setVisible(bool(text))

    def set_in_flight(self, lines: Sequence[str]) -> None:
        """Commands still in progress or awaiting approval (they go on while locked)."""
        self.pending.setText("\n".join(f"… {line}" for line in lines))
        self.pending.setVisible(bool(lines))
        self.pending_title.setVisible(bool(lines))

    def set_notices(self, lines: Sequence[str]) -> None:
        """What the lock cancelled ("… was not sent")."""
        self.notices.setText("\n".join(f"✕ {line}" for line in lines))
        self.notices.setVisible(bool(lines))

    def show_refusal(self, sentence: str) -> None:
        """The hub's one sentence (wrong PIN, locked out until HH:MM…); the secret is cleared."""
        self.busy = False
        self.refusal.setText(f"✕ {sentence}")
        self.refusal.show()
        self.pin.clear()
        self.password.clear()
        self.pin.focus()

    def use_password(self) -> None:
        """Show the password field (the pad stays for those who have a PIN)."""
        self.password.show()
        self.password_toggle.hide()
        self.password.setFocus(Qt.FocusReason.OtherFocusReason)

    def refusal_text(self) -> str:
        """The refusal shown (empty when none), for tests."""
        return self.refusal.text().removeprefix("✕ ") if self.refusal.isVisible() else ""

    # -- input ----------------------------------------------------------------------------

    def submit(self) -> None:
        """Ask to log in with the user and the PIN (or the password)."""
        user = self.user.text().strip()
        secret = self.pin.text() or self.password.text()
        if not user:
            self.show_refusal("Choose your user first.")
            return
        if not secret:
            self.show_refusal("Enter your PIN or your password.")
            return
        self.busy = True
        self.refusal.hide()
        self.login_requested.emit(user, secret)

    def reset(self) -> None:
        """Empty the secret fields (after a login, before showing the screen again)."""
        self.busy = False
        self.pin.clear()
        self.password.clear()
        self.refusal.hide()

    def open(self) -> None:
        """Cover the host and take the keyboard."""
        self.setGeometry(self.host.rect())
        self.show()
        self.raise_()
        if self.user.text():
            self.pin.focus()
        else:
            self.user.setFocus(Qt.FocusReason.OtherFocusReason)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        """Digits typed anywhere on the screen go to the PIN."""
        text = event.text()
        if text.isdigit() and not self.user.hasFocus() and not self.password.hasFocus():
            self.pin.field.insert(text)
            self.pin.focus()
            event.accept()
            return
        super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        """Opaque: nothing under it can be pressed."""
        p = QPainter(self)
        p.fillRect(self.rect(), self.theme.color("background"))
        p.end()
