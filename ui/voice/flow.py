"""Voice in the window: the push-to-talk key and button, the bar, the hand-over to touch signing.

:class:`QtVoice` is where the voice widgets meet :class:`~copilot.station.voice.VoiceFlow`:
holding the Talk button or the ``station.voice_key`` key (F8 by default; auto-repeat ignored)
calls ``press``/``release``; Confirm and Cancel on the bar call ``touch_confirm``/``cancel``
(Esc cancels too while voice is active). A timer (10 Hz while the dialogue is active) lets the
flow count the confirmation down and repaints the bar; the bar hides a while after the
dialogue came to rest. A tier 3–4 command heard by voice arrives here (queued to the GUI
thread) and opens the gate's touch flow for it — :meth:`ui.gate.flow.QtGate.press`, the sheet
that asks for the PIN and a reason; voice never sends it.

:func:`make_flow` builds the flow from the settings: the listener from
:func:`copilot.voice.listener.make_listener` (built on the flow's worker) and the microphone
from :mod:`copilot.voice.audio`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication

from copilot.station.voice import AudioSource, Talker, VoiceFlow
from copilot.voice.dialogue import RESTING, Proposal
from copilot.voice.types import Listener, VoiceSetupError
from ui.context import StationContext
from ui.voice.panel import QtTalkButton, QtVoiceBar

log = logging.getLogger(__name__)

TICK_MS = 100  # the countdown and the bar while the dialogue is active
LINGER_S = 12.0  # the bar stays this long after the dialogue came to rest


def make_flow(ctx: StationContext, speaker: Talker | None, source: AudioSource | None) -> VoiceFlow:
    """A flow for this station from ``settings.station.voice_*``."""
    st = ctx.settings.station

    def listener() -> Listener:
        try:
            from copilot.voice.listener import make_listener
        except ImportError as exc:  # the voice extra is not installed
            raise VoiceSetupError(
                "speech recognition is not installed (pip install 'operator-copilot[voice]')"
            ) from exc
        from pathlib import Path

        model = Path(st.voice_model_dir) if st.voice_model_dir else None
        return make_listener(st.voice_engine, st.voice_locale, model)

    return VoiceFlow(ctx.station, listener, source, speaker, locale=st.voice_locale)


def microphone() -> tuple[AudioSource | None, str | None]:
    """The default microphone, or ``None`` and the sentence that says why there is none."""
    try:
        from copilot.voice.audio import SounddeviceSource
    except ImportError:
        return None, "speech capture is not installed (the voice extra)"
    try:
        source: Any = SounddeviceSource()
    except Exception as exc:  # MicrophoneUnavailable: its own sentence
        log.info("voice: no microphone: %s", exc)
        return None, str(exc) or "no microphone found"
    return source, None


class QtVoice(QObject):
    """The voice widgets of one window, driving one :class:`VoiceFlow`."""

    handed = Signal(object)  # a Proposal for the touch signing flow (queued to the GUI thread)

    def __init__(
        self,
        ctx: StationContext,
        flow: VoiceFlow,
        gate: Any = None,
        on_screen: Callable[[], str | None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.flow = flow
        self.gate = gate
        self._on_screen = on_screen or (lambda: None)
        self.key = QKeySequence(ctx.settings.station.voice_key)
        self.talk = QtTalkButton(ctx.theme, self.key.toString())
        self.bar = QtVoiceBar(ctx.theme)
        self.bar.setVisible(False)
        self.talk.pressed.connect(self.press)
        self.talk.released.connect(self.release)
        self.bar.confirm.connect(self.confirm)
        self.bar.cancel.connect(self.cancel)
        self.handed.connect(self._on_handed, Qt.ConnectionType.QueuedConnection)
        flow.hand_to_touch = self.handed.emit
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.refresh)
        self._rested_at: float | None = None
        self._key_held = False
        self._shown_unavailable: str | None = None
        ctx.frame.connect(self._on_frame)  # a listener that failed to build: say so on the button
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.destroyed.connect(lambda: flow.stop(0.5))  # the window went: so does its worker

    # -- input ------------------------------------------------------------------------------------

    def press(self) -> None:
        """Start listening (the button or the key went down)."""
        self.flow.on_screen = self._on_screen()
        self.flow.press()
        self._active()

    def release(self) -> None:
        """Stop listening; recognise."""
        self.flow.release()
        self._active()

    def confirm(self) -> None:
        """A touch on Confirm."""
        self.flow.touch_confirm()
        self._active()

    def cancel(self) -> None:
        """A touch on Cancel (or Esc)."""
        self.flow.cancel()
        self._active()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        """The push-to-talk key anywhere in the window (held: listen; auto-repeat ignored)."""
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            # Our keys first: Esc is also "Back", but while voice is busy it cancels voice.
            escape = event.key() == Qt.Key.Key_Escape and self._busy()
            if escape or self._matches(event):
                event.accept()
                return True
            return False
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        assert isinstance(event, QKeyEvent)
        if event.isAutoRepeat():
            return self._matches(event)
        if self._matches(event):
            if kind == QEvent.Type.KeyPress and not self._key_held:
                self._key_held = True
                self.talk.set_held(True)
                self.press()
            elif kind == QEvent.Type.KeyRelease and self._key_held:
                self._key_held = False
                self.talk.set_held(False)
                self.release()
            return False  # the gate's inactivity clock hears the key too
        escape = kind == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape
        if escape and self._busy():
            self.cancel()
            return True
        return False

    def _busy(self) -> bool:
        view = self.flow.view()
        return view.phase not in RESTING or view.proposal is not None

    def _matches(self, event: QKeyEvent) -> bool:
        return (
            self.key.count() > 0 and event.keyCombination().toCombined() == self.key[0].toCombined()
        )

    # -- output -----------------------------------------------------------------------------------

    def _active(self) -> None:
        self._rested_at = None
        self.refresh()
        if not self.timer.isActive():
            self.timer.start()

    def refresh(self) -> None:
        """Let the flow count down, then show it (the timer calls this)."""
        self.flow.tick()
        view = self.flow.view()
        now = time.monotonic()
        self.talk.meter.set_level(self.flow.level)
        self.bar.show_view(view, self.flow.dialogue.confirm_s, self._note())
        if view.phase in RESTING and view.proposal is None:
            if self._rested_at is None:
                self._rested_at = now
            elif now - self._rested_at > LINGER_S:
                self.bar.setVisible(False)
                self.timer.stop()
                return
        # Handed to touch: the signing sheet says it all and needs the room.
        shown = view.phase not in ("idle", "handed_to_touch") or view.proposal is not None
        self.bar.setVisible(shown or (view.phase == "idle" and bool(self._note())))

    def _on_frame(self, _now: float) -> None:
        why = self.flow.unavailable
        if why != self._shown_unavailable:
            self._shown_unavailable = why
            self.talk.set_unavailable(why)

    def _note(self) -> str:
        why = self.flow.unavailable
        return f"Voice is off: {why}" if why else ""

    def _on_handed(self, proposal: Proposal) -> None:
        """A tier 3–4 command heard by voice: open the touch flow that signs it."""
        self.bar.setVisible(False)
        if self.gate is None:
            return
        snap = self.flow.words.snapshot(proposal.machine)
        spec = (
            next((c for c in snap.commands if c.name == proposal.command), None) if snap else None
        )
        if snap is None or spec is None:
            return
        self.gate.press(snap, spec)

    def close(self) -> None:
        """Stop the timer, the key filter and the flow."""
        self.timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.flow.stop()
