"""The machine view's explained anomaly alerts: what, how far, since when, how sure, what to do.

Shows :class:`copilot.anomaly.present.AlertCard` s (decided in the core): the heading (a ▲ and
the detector's words, never colour alone), the facts line, the detector's sentence, the top
contributors, the playbook's explanation, a "Suggested: …" button and the three verdict
buttons (all ≥ 48 px). A tap on the suggestion emits ``suggestion_pressed(alarm, suggestion)``
— the view pre-fills the command panel's sheets with it; nothing is sent from here. A verdict
emits ``verdict_given(alarm, verdict)``; :meth:`set_answer` shows the hub's answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from copilot.anomaly.present import VERDICT_WORDS, AlertCard
from ui.anomaly.look import apply_style
from ui.gate.look import repolish
from ui.theme import TOUCH, Theme

MAX_CARDS = 2  # more would push the machine's tags off a 1280×800 panel; newest first
VERDICTS = (
    ("useful", "✓ Useful"),
    ("not_useful", "– Not useful"),
    ("false_alarm", "✕ False alarm"),
)


def _label(text: str, name: str, parent: QWidget) -> QLabel:
    w = QLabel(text, parent)
    w.setObjectName(name)
    w.setWordWrap(True)
    return w


class _Card(QFrame):
    """One alert: texts, the suggestion button and the verdict buttons."""

    def __init__(self, owner: QtAnomalyAlerts, alarm: str) -> None:
        super().__init__(owner)
        self.setObjectName("anomalyCard")
        self.alarm = alarm
        self.card: AlertCard | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 8, 12, 10)
        layout.setSpacing(4)
        self.heading = _label("", "anomalyHeading", self)
        self.facts = _label("", "anomalyFacts", self)
        self.sentence = _label("", "anomalySentence", self)
        self.contributors = _label("", "anomalyFacts", self)
        self.why = _label("", "anomalyWhy", self)
        for w in (self.heading, self.facts, self.sentence, self.contributors, self.why):
            layout.addWidget(w)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.suggest = QPushButton("", self)
        self.suggest.setObjectName("anomalySuggest")
        self.suggest.setMinimumHeight(56)
        self.suggest.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.suggest.clicked.connect(self._suggested)
        row.addWidget(self.suggest, 1)
        self.no_suggestion = _label("", "anomalyFacts", self)
        row.addWidget(self.no_suggestion, 1)
        self.verdict_buttons: dict[str, QPushButton] = {}
        for verdict, text in VERDICTS:
            b = QPushButton(text, self)
            b.setObjectName("anomalyVerdictButton")
            b.setCheckable(True)
            b.setMinimumHeight(TOUCH)
            b.setToolTip(f"Tell the co-pilot this alert was {text[2:].lower()}")
            b.clicked.connect(lambda _=False, v=verdict: self._verdict(v))
            b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self.verdict_buttons[verdict] = b
            row.addWidget(b, 0)
        layout.addLayout(row)
        self.answer = _label("", "anomalyVerdict", self)
        self.answer.hide()
        layout.addWidget(self.answer)
        self.owner = owner

    def show_card(self, card: AlertCard) -> None:
        self.card = card
        mark = "▲" if card.active else "△"
        self.heading.setText(f"{mark} Anomaly: {card.heading}")
        self.facts.setText(card.facts)
        self.sentence.setText(card.sentence)
        self.contributors.setText(card.contributors)
        self.contributors.setVisible(bool(card.contributors))
        self.why.setText(f"Why: {card.explanation}" if card.explanation else "")
        self.why.setVisible(bool(card.explanation))
        if card.suggestion is not None:
            self.suggest.setText(f"▶ {card.suggestion.text}")
            self.suggest.setToolTip(
                "Opens the command with these values; nothing is sent until you confirm."
            )
        self.suggest.setVisible(card.suggestion is not None)
        self.no_suggestion.setText(card.no_suggestion)
        self.no_suggestion.setVisible(card.suggestion is None and bool(card.no_suggestion))
        for verdict, b in self.verdict_buttons.items():
            b.setChecked(verdict == card.verdict)
        if card.verdict and self.answer.isHidden():
            self.answer.setText(VERDICT_WORDS.get(card.verdict, card.verdict))
            self.answer.show()
        repolish(self, "active", "true" if card.active else "false")

    def _suggested(self) -> None:
        if self.card is not None and self.card.suggestion is not None:
            self.owner.suggestion_pressed.emit(self.alarm, self.card.suggestion)

    def _verdict(self, verdict: str) -> None:
        for v, b in self.verdict_buttons.items():
            b.setChecked(v == verdict)
        self.answer.setText("Sending your verdict…")
        self.answer.show()
        self.owner.verdict_given.emit(self.alarm, verdict)


class QtAnomalyAlerts(QFrame):
    """The explained alerts of one machine (newest first, at most :data:`MAX_CARDS`)."""

    suggestion_pressed = Signal(str, object)  # alarm id, copilot.anomaly.Suggestion
    verdict_given = Signal(str, str)  # alarm id, verdict

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        app = QApplication.instance()
        standalone = isinstance(app, QApplication) and not app.styleSheet()
        apply_style(self, theme, standalone)
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(8)
        self.cards: dict[str, _Card] = {}
        self.more = _label("", "anomalyFacts", self)
        self.more.hide()
        self.box.addWidget(self.more)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.hide()

    def set_theme(self, theme: Theme) -> None:
        """Follow the station's theme."""
        app = QApplication.instance()
        apply_style(self, theme, isinstance(app, QApplication) and not app.styleSheet())

    def set_cards(self, cards: Sequence[AlertCard]) -> None:
        """Show these alerts (the first :data:`MAX_CARDS`); hidden when there are none."""
        shown = list(cards)[:MAX_CARDS]
        keep = {c.alarm for c in shown}
        for alarm in list(self.cards):
            if alarm not in keep:
                self.cards.pop(alarm).deleteLater()
        for index, card in enumerate(shown):
            w = self.cards.get(card.alarm)
            if w is None:
                w = _Card(self, card.alarm)
                self.cards[card.alarm] = w
            self.box.insertWidget(index, w)
            w.show_card(card)
        hidden = len(cards) - len(shown)
        self.more.setText(
            f"{hidden} more anomaly alert{'s' if hidden != 1 else ''}: see the alarm list (F2)."
        )
        self.more.setVisible(hidden > 0)
        self.setVisible(bool(shown))

    def set_answer(self, alarm: str, ok: bool, text: str) -> None:
        """The hub's answer to a verdict, under its card."""
        w = self.cards.get(alarm)
        if w is None:
            return
        w.answer.setText(("✓ " if ok else "✕ ") + text)
        w.answer.show()
        if not ok:
            for b in w.verdict_buttons.values():
                b.setChecked(False)
