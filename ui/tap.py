"""A widget that acts on a tap (press and release without a drag), Enter or Space.

Touch panels with gloves: a press that moves more than half a touch target before it is
released is a drag, not a tap. Subclasses say what a tap does in :meth:`QtTappable.activate`.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QWidget

from ui.theme import TOUCH


class QtTappable(QWidget):
    """Calls :meth:`activate` on a tap, Enter or Space; the pointing-hand cursor over it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._press: QPointF | None = None
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def activate(self) -> None:
        """What a tap does (nothing here)."""

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: D102, N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.globalPosition()
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: D102, N802
        press, self._press = self._press, None
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        event.accept()
        if (event.globalPosition() - press).manhattanLength() <= TOUCH / 2:
            self.activate()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: D102, N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            event.accept()
            self.activate()
            return
        super().keyPressEvent(event)
