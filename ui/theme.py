"""Colours, fonts and sizes of the station, ISA-101 style: grey when normal, colour when not.

Colour means only "abnormal". Every abnormal meaning also has a shape or a pattern (for
colour-blind operators): :func:`quality_look` and :func:`state_look` return both. The style sheet
lives in ``assets/styles/station.qss`` with ``@name@`` placeholders filled from a :class:`Theme`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
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
    warning="#e07b00",
    uncertain="#8a6d00",
    stale="#7a7a7a",
    banner_text="#ffffff",
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
