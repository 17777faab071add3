"""Colours, fonts and sizes of the station, ISA-101 style: grey when normal, colour when not.

Colour means only "abnormal". Every abnormal meaning also has a shape or a pattern (for
colour-blind operators): :func:`quality_look` and :func:`state_look` return both, and
:func:`paint_mark` draws a limit verdict in the one mark vocabulary every view uses (the core's
:attr:`copilot.limits.Verdict.glyph` as shapes), so amber and red differ in shape as well as hue.
Every colour that carries meaning keeps at least 3:1 contrast (WCAG 2 relative luminance, see
:func:`contrast`) against the backgrounds it is drawn on. The style sheet lives in
``assets/styles/station.qss`` with ``@name@`` placeholders filled from a :class:`Theme`.

The window owns the current theme through :class:`ui.context.StationContext`
(``ctx.theme`` and its ``theme_changed`` signal): views read ``ctx.theme`` when they paint and
connect ``theme_changed`` for what they cache.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QApplication

from copilot.limits import Verdict
from copilot.protocol import severity_of

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# Touch targets: at least 48 px (WCAG / Material), generous spacing for gloves.
TOUCH = 48
SPACING = 12


@dataclass(frozen=True)
class Theme:
    """One palette. Greys for everything normal; saturated colours only for abnormal states."""

    name: str
    background: str
    panel: str
    panel_alt: str
    border: str
    text: str
    text_dim: str
    normal_band: str
    bar: str
    focus: str
    fault: str  # machine in fault, value beyond a hi-hi/lo-lo limit
    warning: str  # value outside its normal range / beyond a hi/lo limit
    uncertain: str  # data Uncertain
    stale: str  # data Bad / machine offline
    banner_text: str
    warning_text: str = "#000000"  # text on a warning (amber) background, ≥ 4.5:1

    def color(self, name: str) -> QColor:
        """A palette entry as a QColor."""
        return QColor(getattr(self, name))


LIGHT = Theme(
    name="light",
    background="#d9d9d9",
    panel="#e8e8e8",
    panel_alt="#dedede",
    border="#a6a6a6",
    text="#1a1a1a",
    text_dim="#555555",
    normal_band="#c4c4c4",
    bar="#6b6b6b",
    focus="#2f5f8a",
    fault="#c8102e",
    warning="#a65800",  # 3.7:1 on background, 4.3:1 on panel (#e07b00 was 2.45:1)
    uncertain="#8a6d00",
    stale="#7a7a7a",
    banner_text="#ffffff",
    warning_text="#ffffff",  # 5.2:1 on the darker amber (black is 4.0:1)
)

DARK = Theme(
    name="dark",
    background="#202020",
    panel="#2c2c2c",
    panel_alt="#333333",
    border="#4d4d4d",
    text="#e6e6e6",
    text_dim="#a3a3a3",
    normal_band="#474747",
    bar="#9e9e9e",
    focus="#7fa7cc",
    fault="#ff4d5e",
    warning="#ff9f1a",
    uncertain="#d9b84a",
    stale="#8c8c8c",
    banner_text="#ffffff",
)

THEMES = {"light": LIGHT, "dark": DARK}


def style_sheet(theme: Theme) -> str:
    """The application style sheet with the theme's values filled in."""
    text = (ASSETS / "styles" / "station.qss").read_text(encoding="utf-8")
    for field in fields(theme):
        text = text.replace(f"@{field.name}@", str(getattr(theme, field.name)))
    return text.replace("@touch@", str(TOUCH))


def apply(app: QApplication, theme: Theme) -> None:
    """Give the whole application the theme's fonts and style sheet."""
    font = QFont("DejaVu Sans")
    font.setPixelSize(16)
    app.setFont(font)
    app.setStyleSheet(style_sheet(theme))


def value_font(px: int = 22, bold: bool = True) -> QFont:
    """A font for values read at arm's length."""
    font = QFont("DejaVu Sans")
    font.setPixelSize(px)
    font.setBold(bold)
    return font


@dataclass(frozen=True)
class Look:
    """How to draw something: colour name in the theme, a brush pattern, a short label."""

    color: str
    pattern: Qt.BrushStyle
    label: str
    abnormal: bool


def quality_look(quality: int, reason: str = "") -> Look:
    """Good is plain; Uncertain is amber and dotted; Bad is grey and hatched."""
    severity = severity_of(quality)
    if severity == 0:
        return Look("text", Qt.BrushStyle.SolidPattern, "", False)
    if severity == 1:
        return Look("uncertain", Qt.BrushStyle.Dense6Pattern, f"? {reason}".strip(), True)
    return Look("stale", Qt.BrushStyle.BDiagPattern, f"✕ {reason}".strip(), True)


# Machine states: shape first (the icon file), colour only when abnormal.
STATE_ICONS = {
    "running": "state-running.svg",
    "idle": "state-idle.svg",
    "setup": "state-setup.svg",
    "fault": "state-fault.svg",
    "maintenance": "state-maintenance.svg",
    "offline": "state-offline.svg",
}


def state_look(state: str) -> Look:
    """Fault is red with a warning triangle; offline grey and hatched; the rest plain grey."""
    if state == "fault":
        return Look("fault", Qt.BrushStyle.SolidPattern, "FAULT", True)
    if state == "offline":
        return Look("stale", Qt.BrushStyle.BDiagPattern, "OFFLINE", True)
    return Look("text_dim", Qt.BrushStyle.SolidPattern, state.upper(), False)


def icon_path(state: str) -> Path:
    """The SVG drawn for a machine state."""
    return ASSETS / "icons" / STATE_ICONS.get(state, "state-offline.svg")


def hatch(theme: Theme, look: Look) -> QBrush:
    """A brush for a stale/uncertain background (pattern carries meaning without colour)."""
    brush = QBrush(theme.color(look.color), look.pattern)
    return brush


# -- contrast (WCAG 2) ---------------------------------------------------------------------------


def luminance(color: str | QColor) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0 black … 1 white)."""
    c = QColor(color)

    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())


def contrast(a: str | QColor, b: str | QColor) -> float:
    """WCAG 2 contrast ratio of two colours, 1 … 21 (3 is the minimum for graphics)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# -- abnormal marks: shape as well as colour -----------------------------------------------------
#
# One vocabulary for every view (tile, machine view, trend, summary strip), the same as the
# core's :attr:`copilot.limits.Verdict.glyph`: a triangle points to the violated side; hollow =
# outside the normal band, filled = beyond H/L, two = beyond HH/LL, a diamond on a bar = pinned at
# the end of the instrument range. Amber (severity 1) is always one triangle, red (severity 2)
# always two or a diamond: told apart without colour. Bad quality is "✕" and hatched, Uncertain
# "?" and dotted (:func:`quality_look`).

# The text a limit line carries in a trend: the glyph a value beyond it is marked with.
LIMIT_GLYPHS = {"lo": "▼ L", "hi": "▲ H", "lolo": "▼▼ LL", "hihi": "▲▲ HH"}


def verdict_color(theme: Theme, verdict: Verdict) -> QColor:
    """Red for critical, amber for a warning, the text colour when normal."""
    if verdict.severity >= 2:
        return theme.color("fault")
    if verdict.severity == 1:
        return theme.color("warning")
    return theme.color("text")


def verdict_text_color(theme: Theme, verdict: Verdict) -> QColor:
    """Text drawn on a badge of :func:`verdict_color` (≥ 4.5:1 on amber, white on red)."""
    return theme.color("warning_text" if verdict.severity == 1 else "banner_text")


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


def mark_path(verdict: Verdict, at: QPointF, size: float) -> QPainterPath:
    """The verdict's filled shape centred on ``at``, about ``size`` px tall (empty when normal).

    The hollow triangle of rank 1 is returned as its outline (stroke it); every other rank fills.
    """
    path = QPainterPath()
    if not verdict.abnormal:
        return path
    up = verdict.direction > 0
    rank = verdict.rank
    if rank in (1, 2):  # outside the normal band (hollow) / beyond hi-lo (filled): one triangle
        path.addPolygon(_triangle(at, size * (0.9 if rank == 1 else 1.0), up))
        path.closeSubpath()
    elif rank == 3:  # beyond hi-hi / lo-lo: two
        small = size * 0.62
        step = small * 0.95
        for dy in (-step / 2, step / 2):
            path.addPolygon(_triangle(QPointF(at.x(), at.y() + dy), small, up))
            path.closeSubpath()
    else:  # pinned at the end of the instrument range: a diamond on a bar at that end
        r = size * 0.38
        cy = at.y() + (r * 0.35 if up else -r * 0.35)
        path.addPolygon(
            QPolygonF(
                [
                    QPointF(at.x(), cy - r),
                    QPointF(at.x() + r, cy),
                    QPointF(at.x(), cy + r),
                    QPointF(at.x() - r, cy),
                ]
            )
        )
        path.closeSubpath()
        bar_y = at.y() - size / 2 if up else at.y() + size / 2 - 3
        path.addRect(QRectF(int(at.x() - size / 2), int(bar_y), int(size), 3))
    return path


def paint_mark(p: QPainter, verdict: Verdict, at: QPointF, size: float, color: QColor) -> None:
    """Draw :func:`mark_path` in ``color`` (nothing when normal)."""
    if not verdict.abnormal:
        return
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    if verdict.rank == 1:
        p.setPen(QPen(color, 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
    else:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
    p.drawPath(mark_path(verdict, at, size))
    p.restore()
