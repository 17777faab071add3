"""How a :class:`copilot.limits.Verdict` is drawn: its colour and its shape, the same in every view.

Colour means only "abnormal" and every abnormal kind also has its own shape, so the kinds read
without colour: outside the normal band a hollow triangle, beyond a hi/lo limit a filled one,
beyond hi-hi/lo-lo two, pinned at the end of the instrument range a diamond on a bar.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF

from copilot.limits import Verdict
from ui.theme import Theme

__all__ = ["paint_mark", "verdict_color", "warning_ink"]

# The theme's amber on the light theme is 2.45:1 against a panel; this one is 4.15:1 and still
# reads as amber beside the red (the shapes tell them apart anyway).
_LIGHT_WARNING_INK = "#a85a00"


def warning_ink(theme: Theme) -> QColor:
    """Amber for text and marks, at least 3:1 against the theme's panels."""
    return QColor(_LIGHT_WARNING_INK if theme.name == "light" else theme.warning)


def verdict_color(theme: Theme, verdict: Verdict) -> QColor:
    """Red for critical, amber for a warning, the text colour when normal."""
    if verdict.severity >= 2:
        return theme.color("fault")
    if verdict.severity == 1:
        return warning_ink(theme)
    return theme.color("text")


def _triangle(at: QPointF, size: float, up: bool) -> QPolygonF:
    h = size * 0.9
    x, y = at.x(), at.y()
    if up:
        points = [
            QPointF(x, y - h / 2),
            QPointF(x + size / 2, y + h / 2),
            QPointF(x - size / 2, y + h / 2),
        ]
    else:
        points = [
            QPointF(x - size / 2, y - h / 2),
            QPointF(x + size / 2, y - h / 2),
            QPointF(x, y + h / 2),
        ]
    return QPolygonF(points)


def paint_mark(p: QPainter, verdict: Verdict, at: QPointF, size: float, color: QColor) -> None:
    """The verdict's shape centred on ``at``, about ``size`` px tall (nothing when normal)."""
    if not verdict.abnormal:
        return
    up = verdict.direction > 0
    rank = verdict.rank
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    if rank == 1:  # outside the normal band: a hollow triangle
        p.setPen(QPen(color, 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPolygon(_triangle(at, size * 0.9, up))
    elif rank == 2:  # beyond hi / lo: a filled triangle
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        p.drawPolygon(_triangle(at, size, up))
    elif rank == 3:  # beyond hi-hi / lo-lo: two
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        small = size * 0.62
        step = small * 0.95
        for dy in (-step / 2, step / 2):
            p.drawPolygon(_triangle(QPointF(at.x(), at.y() + dy), small, up))
    else:  # pinned at the end of the instrument range: a diamond on a bar at that end
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        r = size * 0.38
        cy = at.y() + (r * 0.35 if up else -r * 0.35)
        p.drawPolygon(
            QPolygonF(
                [
                    QPointF(at.x(), cy - r),
                    QPointF(at.x() + r, cy),
                    QPointF(at.x(), cy + r),
                    QPointF(at.x() - r, cy),
                ]
            )
        )
        bar_y = at.y() - size / 2 if up else at.y() + size / 2 - 3
        p.drawRect(int(at.x() - size / 2), int(bar_y), int(size), 3)
    p.restore()
