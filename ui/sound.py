"""The station's audible alarms: plays what :class:`copilot.alarms.Annunciator` decides.

:class:`AlarmSounder` takes the alarm list (``update(alarms, now)``), asks the annunciator what
should sound, plays that priority's tone from ``assets/sounds/`` and re-asks on a single-shot
timer when the tone is due to repeat or a silence ends. New critical and high alarms are handed
to a :class:`copilot.speech.Speaker` (if one is given) and cancelled there when acknowledged
before they were spoken.

How it plays: PySide6-Essentials, which the station depends on, has no QtMultimedia (the module
ships only in PySide6-Addons, a second large wheel), so ``QSoundEffect`` is not used. Tones go
through :class:`copilot.speech.WavPlayer` (``paplay``, ``pw-play``, ``aplay`` or SoX's ``play``
as a subprocess) on a worker thread of their own, so neither starting a process nor a stuck
audio device ever holds up the GUI thread, and a tone never waits behind speech. A new tone
cuts the one still playing. Player errors (no sound card...) are counted and reach
:attr:`AlarmSounder.failed` once per distinct error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from copilot.alarms.annunciator import Annunciator, Decision
from copilot.protocol import AlarmStatus
from copilot.speech import PlaybackError, Speaker, WavPlayer
from copilot.station import Worker, WorkerFailed
from ui.theme import ASSETS

log = logging.getLogger(__name__)

SOUNDS = ASSETS / "sounds"
"""One ``<priority>.wav`` per priority that sounds (``assets/sounds/make.py`` writes them)."""


class AlarmSounder(QObject):
    """Sounds the alarm list's decision; call :meth:`update` whenever the alarms change.

    ``now`` is seconds on ``clock`` (``time.monotonic`` by default); omit it to use the clock.
    Every method runs on the GUI thread and returns at once.
    """

    tone_started = Signal(str)
    """A tone was handed to the player (its priority)."""
    failed = Signal(str)
    """The player failed (one sentence); emitted once per distinct error."""

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        annunciator: Annunciator | None = None,
        speaker: Speaker | None = None,
        player: WavPlayer | None = None,
        sounds: Path = SOUNDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.annunciator = annunciator if annunciator is not None else Annunciator()
        self._speaker = speaker
        self._player = player if player is not None else WavPlayer()
        self._sounds = sounds
        self._clock = clock
        self._alarms: list[AlarmStatus] = []
        self._muted = False
        self._errors: set[str] = set()
        self.decision = Decision()
        self.played = 0  # tones handed to the player
        self._worker: Worker[Path] = Worker(
            "alarm-tones",
            self._play,
            maxsize=1,
            overflow="drop_oldest",
            on_error=self._failed,
            expected=(PlaybackError,),  # no audio device: one line, not a traceback per tone
        )
        self._worker.start()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_due)
        if not self._player.available:
            log.warning("no audio player (paplay, pw-play, aplay or play): alarm tones are silent")

    # -- the API --------------------------------------------------------------------------------

    def update(self, alarms: Iterable[AlarmStatus], now: float | None = None) -> Decision:
        """Decide and act for ``alarms`` as they are now; returns the annunciator's decision."""
        self._alarms = list(alarms)
        return self._decide(self._clock() if now is None else now)

    def silence(self, seconds: float) -> None:
        """Quiet the tone for ``seconds`` without acknowledging; a new alarm sounds again."""
        now = self._clock()
        self.annunciator.silence(now, seconds)
        self._player.interrupt()
        self._decide(now)

    def chime(self, tone: str = "low") -> bool:
        """Play one tone once, outside the alarm decision (a request waiting for approval).

        Returns whether it was handed to the player (never while muted or silenced).
        """
        until = self.annunciator.silenced_until
        if self._muted or (until is not None and self._clock() < until):
            return False
        self.played += 1
        self._worker.submit(self._sounds / f"{tone}.wav")
        self.tone_started.emit(tone)
        return True

    @property
    def muted(self) -> bool:
        """Whether this station plays nothing (tones and speech) — its decisions still run."""
        return self._muted

    @muted.setter
    def muted(self, value: bool) -> None:
        self._muted = bool(value)
        if self._muted:
            self._player.interrupt()

    @property
    def next_at(self) -> float | None:
        """When the sounder will decide again by itself (on ``clock``), or ``None``."""
        return self.decision.next_at if self._timer.isActive() else None

    def close(self) -> None:
        """Stop the timer and the tone thread (the speaker belongs to whoever made it)."""
        self._timer.stop()
        self._player.interrupt()
        self._worker.stop()
        self._worker.join(2.0)

    # -- GUI thread -----------------------------------------------------------------------------

    def _decide(self, now: float) -> Decision:
        d = self.annunciator.update(self._alarms, now)
        self.decision = d
        if d.play and d.tone is not None and not self._muted:
            self.played += 1
            self._player.interrupt()  # a new tone cuts the one still playing
            self._worker.submit(self._sounds / f"{d.tone}.wav")
            self.tone_started.emit(d.tone)
        if self._speaker is not None:
            for key in d.cancel:
                self._speaker.cancel(key)
            if not self._muted:
                for a in d.announce:
                    self._speaker.say(a.text, a.priority, key=a.key)
        if d.next_at is None:
            self._timer.stop()
        else:
            self._timer.start(max(0, round((d.next_at - now) * 1000)))
        return d

    def _on_due(self) -> None:
        self._decide(self._clock())

    # -- the tone thread ------------------------------------------------------------------------

    def _play(self, path: Path) -> None:
        self._player.play(path)

    def _failed(self, event: WorkerFailed) -> None:
        if event.error not in self._errors and len(self._errors) < 20:
            self._errors.add(event.error)
            self.failed.emit(event.error)
