"""The voice widgets: the push-to-talk button with its level meter, and the dialogue's bar.

:class:`QtTalkButton` is held to talk (press → listen, release → recognise) and shows the input
level under its label. :class:`QtVoiceBar` shows what :class:`~copilot.voice.dialogue.Dialogue`
is doing — listening, recognising, waiting for confirmation with the read-back and a countdown,
the outcome — with the transcript heard and the recent utterances, and the Confirm / Cancel
buttons (≥ 64 px, for gloves). Both only show a :class:`~copilot.voice.dialogue.DialogueView`;
:class:`~ui.voice.flow.QtVoice` feeds them and turns their signals into calls on the flow.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from copilot.voice.dialogue import DialogueView
from ui.theme import Theme

FLOOR_DB = -60.0  # the meter's empty end
BUTTON_PX = 64  # Confirm / Cancel: gloved fingers

STATE_WORDS: dict[str, str] = {
    "idle": "Voice",
    "listening": "● Listening…",
    "recognizing": "… Recognising",
    "confirming": "Say “yes confirm”",
    "answering": "Answer",
    "dispatched": "✓ Sent",
    "cancelled": "✕ Cancelled",
    "timed_out": "✕ Timed out",
    "handed_to_touch": "✎ Sign on the panel",
    "not_understood": "? Not understood",
    "refused": "✕ Not allowed",
}
"""The state chip's words (a shape or symbol with every state, never colour alone)."""

VOICE_QSS = """
QFrame#voiceBar { background: @panel@; border-top: 1px solid @border@;
                  border-bottom: 3px solid @border@; }
QFrame#voiceBar[confirming="true"] { border-bottom: 3px solid @text@; background: @panel_alt@; }
QFrame#voiceBar QLabel { background: transparent; }
QLabel#voiceState { font-size: 20px; font-weight: bold; padding: 4px 10px;
                    border: 2px solid @text@; border-radius: 6px; }
QLabel#voiceReadback { font-size: 24px; font-weight: bold; }
QLabel#voiceHeard { font-size: 17px; }
QLabel#voiceRecent { font-size: 16px; color: @text_dim@; }
QPushButton#voiceButton { min-height: @button@px; min-width: 150px; font-size: 20px;
                          font-weight: bold; padding: 0 18px; }
QPushButton#voiceButton[primary="true"] { background: @text@; color: @panel@; }
QPushButton#voiceTalk { min-height: 44px; font-size: 17px; font-weight: bold; padding: 0 12px; }
QPushButton#voiceTalk:pressed, QPushButton#voiceTalk[held="true"] { background: @text@;
                                                                    color: @panel@; }
QProgressBar#voiceCountdown { min-height: 10px; max-height: 10px; border: none;
                              background: @border@; }
QProgressBar#voiceCountdown::chunk { background: @text@; }
"""


def voice_qss(theme: Theme) -> str:
    """:data:`VOICE_QSS` with the theme's colours."""
    qss = VOICE_QSS.replace("@button@", str(BUTTON_PX))
    for name in ("text", "text_dim", "panel", "panel_alt", "border"):
        qss = qss.replace(f"@{name}@", str(getattr(theme, name)))
    return qss


class QtLevelMeter(QWidget):
    """The microphone's level, −60 … 0 dBFS, as a bar (grey: it is not an alarm)."""

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self.db = FLOOR_DB
        self.setFixedHeight(6)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_level(self, db: float) -> None:
        """Show ``db`` (dBFS); repaints only when it moved visibly."""
        db = max(FLOOR_DB, min(0.0, db))
        if abs(db - self.db) >= 0.5:
            self.db = db
            self.update()

    @property
    def fraction(self) -> float:
        """How full the bar is, 0..1."""
        return (self.db - FLOOR_DB) / -FLOOR_DB

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        """A track and the level on it."""
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(self.theme.border))
        w = self.width() * self.fraction
        p.fillRect(QRectF(0, 0, w, self.height()), QColor(self.theme.text))
        p.end()


class QtTalkButton(QWidget):
    """Hold to talk: ``pressed`` when it goes down, ``released`` when it comes up."""

    pressed = Signal()
    released = Signal()

    def __init__(self, theme: Theme, key: str = "") -> None:
        super().__init__()
        self.button = QPushButton("● Hold to talk" + (f" ({key})" if key else ""))
        self.button.setObjectName("voiceTalk")
        self.button.setToolTip(
            "Hold while you speak a command or a question; it is read back before anything is sent."
        )
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.button.pressed.connect(self.pressed)
        self.button.released.connect(self.released)
        self.meter = QtLevelMeter(theme)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addWidget(self.button)
        layout.addWidget(self.meter)
        self.setStyleSheet(voice_qss(theme))

    def set_held(self, held: bool) -> None:
        """Show the button held (the key held down shows the same)."""
        if self.button.property("held") != ("true" if held else "false"):
            self.button.setProperty("held", "true" if held else "false")
            self.button.style().unpolish(self.button)
            self.button.style().polish(self.button)

    def set_unavailable(self, why: str | None) -> None:
        """Voice cannot work here: the button says so and cannot be held."""
        self.button.setEnabled(why is None)
        if why:
            self.button.setToolTip(f"Voice is off: {why}")


class QtVoiceBar(QFrame):
    """The dialogue's bar: state, read-back or outcome, countdown, heard, recent; buttons."""

    confirm = Signal()
    cancel = Signal()

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.setObjectName("voiceBar")
        self.state = QLabel()
        self.state.setObjectName("voiceState")
        self.readback = QLabel()
        self.readback.setObjectName("voiceReadback")
        self.readback.setWordWrap(True)
        self.heard = QLabel()
        self.heard.setObjectName("voiceHeard")
        self.recent = QLabel()
        self.recent.setObjectName("voiceRecent")
        self.recent.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.countdown = QProgressBar()
        self.countdown.setObjectName("voiceCountdown")
        self.countdown.setTextVisible(False)
        self.countdown.setRange(0, 1000)
        self.confirm_button = QPushButton("✓ Confirm")
        self.confirm_button.setObjectName("voiceButton")
        self.confirm_button.setProperty("primary", "true")
        self.confirm_button.clicked.connect(self.confirm)
        self.cancel_button = QPushButton("✕ Cancel")
        self.cancel_button.setObjectName("voiceButton")
        self.cancel_button.clicked.connect(self.cancel)
        for b in (self.confirm_button, self.cancel_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        text = QVBoxLayout()
        text.setSpacing(3)
        top = QHBoxLayout()
        top.addWidget(self.state, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.readback, 1)
        text.addLayout(top)
        text.addWidget(self.countdown)
        under = QHBoxLayout()  # what was heard, then the recent ones: one line, to stay short
        under.setSpacing(16)
        under.addWidget(self.heard, 0)
        under.addWidget(self.recent, 1)
        text.addLayout(under)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 12, 6)
        row.setSpacing(12)
        row.addLayout(text, 1)
        row.addWidget(self.confirm_button, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.setStyleSheet(voice_qss(theme))
        self.view: DialogueView | None = None

    def show_view(self, view: DialogueView, confirm_s: float, note: str = "") -> None:
        """Show ``view`` (``note``: a sentence of the flow's own, e.g. why voice is off)."""
        self.view = view
        phase = view.phase
        confirming = view.proposal is not None
        words = STATE_WORDS.get(phase, phase)
        if confirming and view.seconds_left is not None and phase == "confirming":
            words = f"Say “yes confirm” · {view.seconds_left:.0f} s"
        elif confirming:
            words = "● Listening… (confirm / cancel)" if phase == "listening" else words
        self.state.setText(words)
        if confirming and view.proposal is not None:
            # The target on the first line, old → new on the second: never split mid-number.
            self.readback.setText(view.proposal.readback.screen.replace(" · ", "\n", 1))
        else:
            self.readback.setText(note or view.message or "")
        self.countdown.setVisible(confirming)
        if confirming and view.seconds_left is not None:
            self.countdown.setValue(round(1000 * view.seconds_left / max(confirm_s, 0.1)))
        heard = view.transcript
        self.heard.setText(f"Heard: “{heard}”" if heard else "")
        self.heard.setVisible(bool(heard))
        lines = [f"{u.transcript or '—'} → {u.outcome}" for u in view.recent[1:4]]
        self.recent.setText("Recent: " + " · ".join(lines) if lines else "")
        self.recent.setVisible(bool(lines))
        self.confirm_button.setVisible(confirming)
        self.cancel_button.setVisible(confirming or phase in ("listening", "recognizing"))
        value = "true" if confirming else "false"
        if self.property("confirming") != value:
            self.setProperty("confirming", value)
            self.style().unpolish(self)
            self.style().polish(self)
