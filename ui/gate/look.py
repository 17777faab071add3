"""The gate's look: big touch keys (≥ 64 px, for gloves), one style sheet, grey unless abnormal.

Every gate widget calls :func:`apply_style` with the station's theme; colour is used only for
what is abnormal (a refusal, a lock-out, an expired request) and always next to a shape or a
word (✕, ?, "Refused").
"""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QWidget

from ui.theme import Theme, style_sheet

KEY = 72  # a PIN pad key / command button: at least 64 px, so a gloved finger hits it
KEY_FONT = 28

GATE_QSS = """
QPushButton#gateKey { min-height: @key@px; min-width: @key@px; font-size: @keyfont@px;
                      font-weight: bold; }
QPushButton#gateKey[role="enter"] { background: @text@; color: @panel@; }
QPushButton#gateKey:disabled { color: @text_dim@; }
QPushButton#gateBig { min-height: @key@px; font-size: 20px; font-weight: bold; padding: 0 20px; }
QPushButton#gateBig[primary="true"] { background: @text@; color: @panel@; }
QPushButton#gateBig[primary="true"]:disabled { background: @panel_alt@; color: @text_dim@; }
QPushButton#gateChoice { min-height: 56px; font-size: 18px; padding: 0 16px; }
QPushButton#gateCommand { min-height: 64px; font-size: 18px; font-weight: bold;
                          text-align: left; padding: 4px 8px; }
QPushButton#gateCommand[blocked="true"] { color: @text_dim@; border: 2px dashed @border@;
                                          font-weight: normal; }
QLineEdit#gateSecret, QLineEdit#gateNumber { min-height: 56px; font-size: 28px;
    background: @panel@; border: 2px solid @border@; border-radius: 6px; padding: 0 12px; }
QLineEdit#gateText { min-height: 52px; font-size: 18px; background: @panel@;
    border: 2px solid @border@; border-radius: 6px; padding: 0 10px; }
QFrame#gateCard { background: @panel@; border: 2px solid @text@; border-radius: 10px; }
QFrame#gateCard QLabel { background: transparent; }
QFrame#gateBox { background: @panel@; border: 1px solid @border@; border-radius: 8px; }
QFrame#gateBox QLabel { background: transparent; }
QLabel#gateTitle { font-size: 26px; font-weight: bold; }
QLabel#gateLead { font-size: 20px; }
QLabel#gateBody { font-size: 18px; }
QLabel#gateDim { font-size: 16px; color: @text_dim@; }
QLabel#gateChange { font-size: 30px; font-weight: bold; }
QLabel#gateRefusal { font-size: 18px; font-weight: bold; color: @banner_text@;
                     background: @fault@; border-radius: 6px; padding: 8px 12px; }
QLabel#gateNotice { font-size: 18px; font-weight: bold; border: 3px solid @text@;
                    border-radius: 6px; padding: 8px 12px; background: @panel_alt@; }
QLabel#gateWarn { font-size: 20px; font-weight: bold; color: @warning_text@;
                  background: @warning@; padding: 10px 16px; }
QLabel#gateLine { font-size: 17px; padding: 4px 8px; border-left: 4px solid @border@; }
QLabel#gateLine[abnormal="true"] { border-left: 6px solid @fault@; font-weight: bold; }
QLabel#gateBadge { background: @fault@; color: @banner_text@; font-size: 16px;
                   font-weight: bold; border-radius: 12px; padding: 2px 9px; }
"""


def gate_qss(theme: Theme) -> str:
    """:data:`GATE_QSS` with the theme's values."""
    qss = GATE_QSS.replace("@key@", str(KEY)).replace("@keyfont@", str(KEY_FONT))
    for name in (
        "text",
        "text_dim",
        "panel",
        "panel_alt",
        "border",
        "fault",
        "warning",
        "warning_text",
        "banner_text",
    ):
        qss = qss.replace(f"@{name}@", str(getattr(theme, name)))
    return qss


def apply_style(widget: QWidget, theme: Theme) -> None:
    """Give ``widget`` the gate's style (plus the station's when none is set: widget tests)."""
    qss = gate_qss(theme)
    app = QApplication.instance()
    if isinstance(app, QApplication) and not app.styleSheet():
        qss = style_sheet(theme) + qss
    widget.setStyleSheet(qss)


def font(px: int, bold: bool = False) -> QFont:
    """DejaVu Sans at ``px`` pixels."""
    f = QFont("DejaVu Sans")
    f.setPixelSize(px)
    f.setBold(bold)
    return f


def repolish(widget: QWidget, name: str, value: str) -> None:
    """Set a style property and re-apply the style sheet (only when it changed)."""
    if widget.property(name) != value:
        widget.setProperty(name, value)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
