"""The one text-to-speech worker: a priority queue of utterances and the thread that says them.

A :class:`Speaker` owns one thread (a :class:`~copilot.station.worker.Worker`) and a bounded
priority queue. :meth:`Speaker.say`, :meth:`Speaker.cancel` and :meth:`Speaker.stop` only take a
short lock, so the GUI thread may call them; the backend (pyttsx3, espeak-ng, a WAV sink) is
built and used on the speaker's thread alone.

What it promises:

- Order: ``critical`` before ``high`` before everything else (``medium``, ``low``, any other
  word), oldest first within a priority.
- A newer ``critical`` interrupts a lower-priority utterance in progress; the interrupted one
  goes back in the queue to be said again, whole, after it (``replay_interrupted``).
- The same text already queued is merged into the queued utterance (which takes the higher
  priority and both keys), never said twice.
- :meth:`Speaker.cancel` (``key``: usually an alarm id) drops the queued utterances of that key
  and cuts it short if it is being said: an alarm acknowledged before it was spoken is not
  spoken.
- Bounded: a full queue drops its lowest-priority newest utterance for a more urgent one, or
  refuses the new one; every drop is counted by reason in :attr:`Speaker.stats`.
- Errors are events: a backend that raises reaches ``on_event`` as a
  :class:`~copilot.station.events.WorkerFailed` (from the worker's thread), never an exception
  on the caller's thread. If no backend can start, one :class:`SpeechUnavailable` says so in
  one sentence, once, and the speaker stays silent (``say`` then drops as ``no_engine``).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from copilot.speech.backends import (
    Backend,
    BackendFactory,
    SpeechUnavailableError,
    default_backends,
)
from copilot.speech.player import PlaybackError
from copilot.station.events import WorkerFailed
from copilot.station.worker import Worker

log = logging.getLogger(__name__)

URGENCY: dict[str, int] = {"critical": 0, "high": 1}
"""Queue rank of a priority; every other priority shares the last rank, ``len(URGENCY)``."""

DropReason = Literal["queue_full", "displaced", "cancelled", "no_engine", "stopped", "empty"]
"""Why an utterance was not said: the queue was full (the new one refused), a more urgent one
took its place, its key was cancelled, there is no speech engine, the speaker stopped, or the
text was empty."""


def urgency(priority: str) -> int:
    """0 for critical, 1 for high, 2 for anything else (lower is said first)."""
    return URGENCY.get(priority, len(URGENCY))


@dataclass(frozen=True)
class SpeechUnavailable:
    """No speech engine could start on this machine: the speaker stays silent."""

    reason: str


SpeechEvent = WorkerFailed | SpeechUnavailable
"""What a speaker tells ``on_event`` (on the speaker's thread)."""


@dataclass
class SpeakerStats:
    """What a speaker did (a copy, read from any thread)."""

    queued: int = 0  # say() calls that added an utterance
    merged: int = 0  # say() calls folded into the same text already queued
    spoken: int = 0  # utterances said to the end
    interrupted: int = 0  # cut short by a more urgent one (replayed unless disabled)
    failed: int = 0  # the backend raised
    dropped: dict[str, int] = field(default_factory=dict)  # by DropReason


@dataclass
class _Utterance:
    text: str
    priority: str
    keys: set[str]
    seq: int
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def rank(self) -> tuple[int, int]:
        return (urgency(self.priority), self.seq)


_Ticket = Literal["open", "next"]


class Speaker:
    """One TTS worker thread with a bounded priority queue; see the module docstring."""

    def __init__(
        self,
        backends: Sequence[BackendFactory] | None = None,
        *,
        maxsize: int = 16,
        on_event: Callable[[SpeechEvent], None] | None = None,
        replay_interrupted: bool = True,
        name: str = "speaker",
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"speaker {name}: maxsize must be at least 1, not {maxsize}")
        self.name = name
        self._factories = tuple(backends) if backends is not None else default_backends()
        self._maxsize = maxsize
        self._on_event = on_event
        self._replay = replay_interrupted
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue: list[_Utterance] = []  # sorted by rank: the next to say first
        self._current: _Utterance | None = None
        self._seq = itertools.count()
        self._stats = SpeakerStats()
        self._drops: Counter[str] = Counter()
        self._stopping = False
        self._backend: Backend | None = None
        self._unavailable: str | None = None
        self._opened = False
        self._last_text = ""  # what the thread was saying when the backend last raised
        # One ticket per queued utterance (or more, after cancels): the worker's inbox never
        # holds fewer tickets than the queue holds utterances, so none is left unsaid.
        self._worker: Worker[_Ticket] = Worker(
            name,
            self._on_ticket,
            maxsize=max(4 * maxsize, 64),
            on_error=self._failed,
            describe=self._describe,
            expected=(PlaybackError, SpeechUnavailableError),  # e.g. no audio device
        )

    # -- any thread -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; it sets up the backend at once (so a missing engine shows early)."""
        self._worker.start()
        self._worker.submit("open")

    def say(self, text: str, priority: str = "medium", key: str = "") -> bool:
        """Queue ``text``; ``False`` if it was dropped. Never blocks, never raises."""
        text = " ".join(text.split())
        with self._lock:
            if not text:
                return self._drop("empty")
            if self._stopping:
                return self._drop("stopped")
            if self._unavailable is not None:
                return self._drop("no_engine")
            for queued in self._queue:
                if queued.text == text:
                    return self._merge(queued, priority, key)
            new = _Utterance(text, priority, {key} if key else set(), next(self._seq))
            if len(self._queue) >= self._maxsize:
                last = self._queue[-1]
                if urgency(last.priority) <= urgency(priority):
                    return self._drop("queue_full")
                self._queue.pop()
                self._drop("displaced")
            self._insert(new)
            self._stats.queued += 1
            current = self._current
            if current is not None and urgency(priority) == 0 < urgency(current.priority):
                self._interrupt(current)
        self._worker.submit("next")
        return True

    def cancel(self, key: str) -> int:
        """Forget what ``key`` asked to say (and cut it short if it is being said).

        Returns how many utterances were dropped or stopped. An utterance merged from several
        keys stays queued until every one of them is cancelled.
        """
        if not key:
            return 0
        count = 0
        with self._lock:
            kept: list[_Utterance] = []
            for u in self._queue:
                if key in u.keys:
                    u.keys.discard(key)
                    if not u.keys:
                        count += 1
                        self._drop("cancelled")
                        continue
                kept.append(u)
            self._queue = kept
            current = self._current
            if current is not None and key in current.keys:
                current.keys.discard(key)
                if not current.keys:
                    count += 1
                    self._drop("cancelled")
                    current.stop.set()
                    self._cut(current)
        return count

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop speaking, forget the queue (counted ``stopped``) and end the thread.

        Waits up to ``timeout`` seconds for the thread (the backend is interrupted first, so it
        ends within milliseconds); ``True`` if it ended.
        """
        with self._lock:
            self._stopping = True
            for _ in self._queue:
                self._drop("stopped")
            self._queue.clear()
            if self._current is not None:
                self._current.stop.set()
                self._cut(self._current)
            self._idle.notify_all()
        self._worker.stop()
        ended = self._worker.join(timeout)
        if ended and self._backend is not None:
            try:
                self._backend.close()
            except Exception:
                log.exception("speaker %s: closing its backend failed", self.name)
            self._backend = None
        return ended

    @property
    def stats(self) -> SpeakerStats:
        """A copy of the counters."""
        with self._lock:
            s = self._stats
            return SpeakerStats(
                s.queued, s.merged, s.spoken, s.interrupted, s.failed, dict(self._drops)
            )

    @property
    def pending(self) -> list[str]:
        """The queued texts, in the order they will be said."""
        with self._lock:
            return [u.text for u in self._queue]

    @property
    def speaking(self) -> str | None:
        """The text being said now, if any."""
        with self._lock:
            return self._current.text if self._current is not None else None

    @property
    def backend_name(self) -> str | None:
        """Which backend speaks (``None`` before it is set up, or when there is none)."""
        backend = self._backend
        return backend.name if backend is not None else None

    @property
    def unavailable(self) -> str | None:
        """The sentence saying why nothing can be spoken, or ``None``."""
        with self._lock:
            return self._unavailable

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the backend is set up and nothing is queued or being said.

        For shutdown paths and tests; never call it on the GUI thread.
        """
        with self._idle:
            return self._idle.wait_for(
                lambda: self._stopping or (self._opened and not self._queue and not self._current),
                timeout,
            )

    # -- under the lock -------------------------------------------------------------------------

    def _drop(self, reason: DropReason) -> bool:
        self._drops[reason] += 1
        return False

    def _merge(self, queued: _Utterance, priority: str, key: str) -> bool:
        self._stats.merged += 1
        if key:
            queued.keys.add(key)
        if urgency(priority) < urgency(queued.priority):
            self._queue.remove(queued)
            queued.priority = priority
            self._insert(queued)
        return True

    def _insert(self, u: _Utterance) -> None:
        at = next((i for i, q in enumerate(self._queue) if q.rank > u.rank), len(self._queue))
        self._queue.insert(at, u)

    def _interrupt(self, current: _Utterance) -> None:
        self._stats.interrupted += 1
        current.stop.set()
        if self._replay and not self._stopping:
            again = _Utterance(current.text, current.priority, set(current.keys), current.seq)
            if len(self._queue) < self._maxsize:
                self._insert(again)
                self._worker.submit("next")
            else:
                self._drop("queue_full")
        self._cut(current)

    def _cut(self, current: _Utterance) -> None:
        backend = self._backend
        if backend is not None:
            try:
                backend.interrupt()
            except Exception:  # an interrupt that fails must not reach the caller
                log.exception("speaker %s: interrupting %s failed", self.name, backend.name)

    # -- the speaker's thread -------------------------------------------------------------------

    def _on_ticket(self, ticket: _Ticket) -> None:
        if not self._opened:
            self._open()
        if ticket == "open":
            return
        with self._lock:
            if not self._queue or self._stopping:
                return
            if self._backend is None:
                for _ in self._queue:
                    self._drop("no_engine")
                self._queue.clear()
                self._idle.notify_all()
                return
            u = self._current = self._queue.pop(0)
            self._last_text = u.text
            backend = self._backend
        try:
            done = backend.speak(u.text, u.priority, u.stop)
        except Exception:
            with self._lock:
                self._stats.failed += 1
            raise
        else:
            if done and not u.stop.is_set():
                with self._lock:
                    self._stats.spoken += 1
        finally:
            with self._lock:
                self._current = None
                self._idle.notify_all()

    def _open(self) -> None:
        reasons: list[str] = []
        backend: Backend | None = None
        for factory in self._factories:
            try:
                backend = factory()
                break
            except SpeechUnavailableError as exc:
                reasons.append(str(exc))
            except Exception as exc:  # a factory's bug is a reason too, not a dead thread
                log.exception("speaker %s: a speech backend failed to start", self.name)
                reasons.append(f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._backend = backend
            if backend is None:
                why = "; ".join(reasons) or "no backend was configured"
                self._unavailable = f"No speech engine ({why}): alarms will not be spoken."
        if self._unavailable is not None:
            log.warning("speaker %s: %s", self.name, self._unavailable)
            self._emit(SpeechUnavailable(self._unavailable))
        elif backend is not None:
            log.info("speaker %s: speaking through %s", self.name, backend.name)
        with self._lock:  # only now is the speaker "idle": the news above has been told
            self._opened = True
            self._idle.notify_all()

    def _describe(self, ticket: _Ticket) -> str:
        return f"saying {self._last_text[:80]!r}" if ticket == "next" else "setting up speech"

    def _failed(self, event: WorkerFailed) -> None:
        self._emit(event)

    def _emit(self, event: SpeechEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("speaker %s: on_event failed on %s", self.name, event)
