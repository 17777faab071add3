"""Touch keypads: a PIN pad (digits masked) and a number pad (arguments), keys ≥ 64 px.

Both sit on a :class:`~PySide6.QtWidgets.QLineEdit` that keeps the keyboard focus, so a
physical keyboard types into the same field; the on-screen keys never take focus. Enter (the
key or the ✓ button) emits :attr:`QtKeypad.entered` with the text; ⌫ deletes one character.
"""

from __future__ import annotations

from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import QGridLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ui.gate.look import KEY

BACKSPACE = "⌫"
ENTER = "✓"


class QtKeypad(QWidget):
    """A field over a grid of keys (``rows``); ``entered(text)`` on Enter or ✓."""

    entered = Signal(str)
    edited = Signal(str)

    def __init__(
        self,
        rows: tuple[tuple[str, ...], ...],
        pattern: str,
        *,
        masked: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.field = QLineEdit(self)
        self.field.setObjectName("gateSecret" if masked else "gateNumber")
        self.field.setValidator(QRegularExpressionValidator(QRegularExpression(pattern), self))
        self.field.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if masked:
            self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.returnPressed.connect(self._enter)
        self.field.textChanged.connect(self.edited)
        layout.addWidget(self.field)
        grid = QGridLayout()
        grid.setSpacing(6)  # 6 px apart: four 72-px rows fit a sheet on a 800-px-high panel
        self.keys: dict[str, QPushButton] = {}
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                key = QPushButton(text, self)
                key.setObjectName("gateKey")
                key.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the field keeps the keyboard
                key.setMinimumSize(KEY, KEY)
                if text == ENTER:
                    key.setProperty("role", "enter")
                    key.clicked.connect(self._enter)
                    key.setAccessibleName("Enter")
                    self.keys["enter"] = key
                elif text == BACKSPACE:
                    key.setAutoRepeat(True)
                    key.clicked.connect(self.field.backspace)
                    key.setAccessibleName("Delete")
                    self.keys["backspace"] = key
                else:
                    key.clicked.connect(lambda _=False, t=text: self._type(t))
                    self.keys[text] = key
                grid.addWidget(key, r, c)
        layout.addLayout(grid)

    def _type(self, text: str) -> None:
        self.field.insert(text)

    def text(self) -> str:
        """What was typed."""
        return self.field.text()

    def set_text(self, text: str) -> None:
        """Replace what was typed."""
        self.field.setText(text)

    def clear(self) -> None:
        """Empty the field (after a refusal, a lock, a login)."""
        self.field.clear()

    def focus(self) -> None:
        """Give the field the keyboard."""
        self.field.setFocus(Qt.FocusReason.OtherFocusReason)

    def _enter(self) -> None:
        self.entered.emit(self.field.text())


PIN_ROWS = (("1", "2", "3"), ("4", "5", "6"), ("7", "8", "9"), (BACKSPACE, "0", ENTER))
NUMBER_ROWS = (
    ("7", "8", "9", BACKSPACE),
    ("4", "5", "6", "−"),
    ("1", "2", "3", ENTER),
    ("0", ".", "", ""),
)


class QtPinPad(QtKeypad):
    """Digits 0–9, masked; 4–12 digits is a PIN."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(PIN_ROWS, r"[0-9]{0,12}", masked=True, parent=parent)


class QtNumberPad(QtKeypad):
    """Digits, a decimal point and a minus sign, shown in clear (an argument's new value)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        rows = tuple(tuple(k for k in row if k) for row in NUMBER_ROWS)
        super().__init__(rows, r"-?[0-9]{0,9}([.,][0-9]{0,6})?", masked=False, parent=parent)

    def _type(self, text: str) -> None:
        if text == "−":
            current = self.field.text()
            self.field.setText(current[1:] if current.startswith("-") else f"-{current}")
            return
        self.field.insert(text)

    def value_text(self) -> str:
        """The text as a number parser reads it (a comma is a decimal point)."""
        return self.field.text().replace(",", ".")
