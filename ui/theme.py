"""Colours, fonts and sizes of the station, ISA-101 style: grey when normal, colour when not.

Colour means only "abnormal". Every abnormal meaning also has a shape or a pattern (for
colour-blind operators): :func:`quality_look` and :func:`state_look` return both, and
:data:`MARKS` gives each severity (fault red, warning amber, uncertain, stale) a glyph, a
pyqtgraph symbol and a painter path of its own, so amber and red differ in shape as well as hue.
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
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPolygonF
from PySide6.QtWidgets import QApplication

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


# -- severity marks: shape as well as colour -----------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """A severity's colour (theme entry), text glyph and pyqtgraph symbol: shape + colour."""

    color: str
    glyph: str  # in DejaVu Sans, to put before a value or a label
    symbol: str  # pyqtgraph ScatterPlotItem symbol
    label: str


# Red is a diamond, amber a circle: told apart without colour, and neither is the ▲/▼ that
# points to the violated side. Uncertain and stale keep the "?" and "✕" of :func:`quality_look`.
MARKS = {
    "fault": Mark("fault", "◆", "d", "fault / beyond HH-LL"),
    "warning": Mark("warning", "●", "o", "outside normal / beyond H-L"),
    "uncertain": Mark("uncertain", "?", "t", "uncertain"),
    "stale": Mark("stale", "✕", "x", "stale / bad"),
}


def mark_path(severity: str, rect: QRectF) -> QPainterPath:
    """The severity's shape filling ``rect`` (draw with the mark's colour): for painted widgets."""
    path = QPainterPath()
    c = rect.center()
    if severity == "fault":
        path.addPolygon(
            QPolygonF(
                [
                    QPointF(c.x(), rect.top()),
                    QPointF(rect.right(), c.y()),
                    QPointF(c.x(), rect.bottom()),
                    QPointF(rect.left(), c.y()),
                ]
            )
        )
        path.closeSubpath()
    elif severity == "warning":
        path.addEllipse(rect)
    elif severity == "uncertain":
        path.addPolygon(
            QPolygonF(
                [
                    QPointF(rect.left(), rect.top()),
                    QPointF(rect.right(), rect.top()),
                    QPointF(c.x(), rect.bottom()),
                ]
            )
        )
        path.closeSubpath()
    else:
        path.moveTo(rect.topLeft())
        path.lineTo(rect.bottomRight())
        path.moveTo(rect.topRight())
        path.lineTo(rect.bottomLeft())
    return path
