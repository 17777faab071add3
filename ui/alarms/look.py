"""How an alarm priority looks: a colour from the theme AND a shape (colour-blind operators).

One vocabulary for every alarm view (banner, table, tiles, KPI bars): critical is a red octagon,
high a red triangle, medium an amber diamond, low a square in the uncertain yellow, diagnostic a
grey circle. Each shape carries the priority's number (1 most urgent) so two priorities never
differ by hue alone; :func:`priority_word` is the word beside it.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF

from ui.theme import Theme

PRIORITY_COLOR = {
    "critical": "fault",
    "high": "fault",
    "medium": "warning",
    "low": "uncertain",
    "diagnostic": "stale",
}
PRIORITY_NUMBER = {"critical": "1", "high": "2", "medium": "3", "low": "4", "diagnostic": "D"}


def priority_word(priority: str) -> str:
    """The priority as a word: ``Critical``, ``High``."""
    return priority.capitalize()


def priority_color(theme: Theme, priority: str) -> QColor:
    """The theme colour of a priority (grey for an unknown one)."""
    return theme.color(PRIORITY_COLOR.get(priority, "stale"))


def priority_text_color(theme: Theme, priority: str) -> QColor:
    """Ink drawn on a filled priority shape (≥ 4.5:1)."""
    if priority == "medium":
        return theme.color("warning_text")
    if priority == "low" and theme.name != "light":
        return theme.color("background")  # the dark theme's light yellow needs dark ink
    return theme.color("banner_text")


def priority_path(priority: str, center: QPointF, size: float) -> QPainterPath:
    """The priority's shape, about ``size`` px across, centred on ``center``."""
    x, y, r = center.x(), center.y(), size / 2
    path = QPainterPath()
    if priority == "critical":
        pts = [
            QPointF(
                x + r * math.cos(math.radians(22.5 + 45 * i)),
                y + r * math.sin(math.radians(22.5 + 45 * i)),
            )
            for i in range(8)
        ]
        path.addPolygon(QPolygonF(pts))
    elif priority == "high":
        path.addPolygon(
            QPolygonF(
                [
                    QPointF(x, y - r),
                    QPointF(x + r * 1.1, y + r * 0.9),
                    QPointF(x - r * 1.1, y + r * 0.9),
                ]
            )
        )
    elif priority == "medium":
        path.addPolygon(
            QPolygonF(
                [
                    QPointF(x, y - r * 1.1),
                    QPointF(x + r * 1.1, y),
                    QPointF(x, y + r * 1.1),
                    QPointF(x - r * 1.1, y),
                ]
            )
        )
    elif priority == "low":
        path.addRect(QRectF(x - r * 0.85, y - r * 0.85, r * 1.7, r * 1.7))
    else:
        path.addEllipse(center, r * 0.9, r * 0.9)
    path.closeSubpath()
    return path


def paint_priority(
    p: QPainter,
    theme: Theme,
    priority: str,
    center: QPointF,
    size: float,
    *,
    number: bool = True,
    hollow: bool = False,
) -> None:
    """Draw the priority's shape (filled; ``hollow``: outlined, for acknowledged alarms)."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = priority_color(theme, priority)
    path = priority_path(priority, center, size)
    if hollow:
        p.setPen(QPen(color, max(2.0, size / 10)))
        p.setBrush(theme.color("panel"))
    else:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
    p.drawPath(path)
    if number:
        font = QFont("DejaVu Sans")
        font.setPixelSize(max(9, int(size * 0.5)))
        font.setBold(True)
        p.setFont(font)
        p.setPen(color if hollow else priority_text_color(theme, priority))
        box = QRectF(center.x() - size / 2, center.y() - size / 2, size, size)
        if priority == "high":
            box.translate(0, size * 0.12)  # the triangle's centre of mass sits low
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, PRIORITY_NUMBER.get(priority, "?"))
    p.restore()
