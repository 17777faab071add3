"""The anomaly widgets' look: the gate's style plus cards; grey, words and glyphs carry meaning."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from ui.gate.look import gate_qss
from ui.theme import Theme, style_sheet

ANOMALY_QSS = """
QFrame#anomalyCard { background: @panel@; border: 3px solid @text@; border-radius: 8px; }
QFrame#anomalyCard[active="false"] { border: 3px dashed @border@; }
QFrame#anomalyCard QLabel { background: transparent; border: none; }
QLabel#anomalyHeading { font-size: 20px; font-weight: bold; }
QLabel#anomalyFacts { font-size: 16px; color: @text_dim@; }
QLabel#anomalySentence { font-size: 17px; }
QLabel#anomalyWhy { font-size: 17px; font-style: italic; }
QLabel#anomalyVerdict { font-size: 16px; font-weight: bold; }
QPushButton#anomalySuggest { min-height: 56px; font-size: 17px; font-weight: bold;
                             background: @text@; color: @panel@; padding: 0 16px;
                             text-align: left; }
QPushButton#anomalyVerdictButton { min-height: 48px; font-size: 16px; padding: 0 12px; }
QPushButton#anomalyVerdictButton:checked { border: 3px solid @text@; background: @panel_alt@; }
QFrame#detectorPanel { background: @panel@; border: 1px solid @border@; border-radius: 8px; }
QFrame#detectorPanel QLabel { background: transparent; border: none; }
QLabel#detectorLine { font-size: 18px; }
QTableWidget#detectorTable { background: @panel@; font-size: 16px; border: none; }
QTableWidget#detectorTable::item { padding: 2px 6px; }
"""


def apply_style(widget: QWidget, theme: Theme, standalone: bool) -> None:
    """The gate's and the cards' style (plus the station's in widget tests, ``standalone``)."""
    qss = gate_qss(theme) + ANOMALY_QSS
    for name in ("text", "text_dim", "panel", "panel_alt", "border"):
        qss = qss.replace(f"@{name}@", str(getattr(theme, name)))
    widget.setStyleSheet((style_sheet(theme) if standalone else "") + qss)
