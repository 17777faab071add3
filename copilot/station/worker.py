"""A thread with an inbox: the pattern for work that must not run where it is asked for.

A :class:`Worker` owns one thread and a bounded inbox. Anyone may :meth:`Worker.submit` an item;
the thread hands the items, one at a time and in order, to the worker's handler. An exception
in the handler never ends the thread: it is logged with context, counted and delivered as a
:class:`~copilot.station.events.WorkerFailed` to ``on_error``. A full inbox refuses the new item
(or, with ``overflow="drop_oldest"``, forgets the oldest) and counts the drop. The station
calls its listeners through one; audio capture, speech recognition and text-to-speech will be
workers too.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from copilot.station.events import WorkerFailed

log = logging.getLogger(__name__)

T = TypeVar("T")

Overflow = Literal["drop_newest", "drop_oldest"]


@dataclass
class WorkerStats:
    """What a worker did; read from any thread."""

    submitted: int = 0
    handled: int = 0
    failed: int = 0
    dropped: int = 0  # refused or forgotten because the inbox was full
    discarded: int = 0  # still in the inbox when the worker stopped


class Worker(Generic[T]):
    """A thread that hands every submitted item to ``handler``, in order."""

    def __init__(
        self,
        name: str,
        handler: Callable[[T], None],
        *,
        maxsize: int = 1000,
        overflow: Overflow = "drop_newest",
        on_error: Callable[[WorkerFailed], None] | None = None,
        describe: Callable[[T], str] | None = None,
        expected: tuple[type[Exception], ...] = (),
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"worker {name}: maxsize must be at least 1, not {maxsize}")
        self.name = name
        self.stats = WorkerStats()
        self._handler = handler
        self._maxsize = maxsize
        self._overflow = overflow
        self._on_error = on_error
        self._describe = describe or (lambda item: type(item).__name__)
        self._inbox: deque[T] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._drain_on_stop = False
        self._thread: threading.Thread | None = None
        self._logged: set[str] = set()
        # Failures the site may simply have (no audio device): one line per error type,
        # no traceback; anything else is a bug and is logged with its traceback.
        self._expected = expected

    # -- any thread -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError(f"worker {self.name} was already started")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> bool:
        """Queue ``item``; ``False`` if it was refused (inbox full or worker stopped)."""
        with self._cond:
            if self._stopping:
                self.stats.dropped += 1
                return False
            if len(self._inbox) >= self._maxsize:
                self.stats.dropped += 1
                if self._overflow == "drop_newest":
                    return False
                self._inbox.popleft()
            self._inbox.append(item)
            self.stats.submitted += 1
            self._cond.notify()
        return True

    @property
    def pending(self) -> int:
        """Items waiting in the inbox."""
        with self._cond:
            return len(self._inbox)

    @property
    def alive(self) -> bool:
        """Whether the thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def on_thread(self) -> bool:
        """Whether the caller is this worker's own thread."""
        return self._thread is threading.current_thread()

    def stop(self, drain: bool = False) -> None:
        """Ask the thread to end after the current item (after the whole inbox if ``drain``)."""
        with self._cond:
            self._stopping = True
            self._drain_on_stop = drain
            self._cond.notify()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; ``True`` if it did (or never started)."""
        if self._thread is None or self.on_thread():
            return self._thread is None
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("worker %s did not stop within %s s", self.name, timeout)
            return False
        return True

    # -- the worker's thread --------------------------------------------------------------------

    def _next(self) -> list[T]:
        """The next item (as a one-item list), or ``[]`` when it is time to end."""
        with self._cond:
            while not self._inbox and not self._stopping:
                self._cond.wait()
            if self._stopping and (not self._drain_on_stop or not self._inbox):
                self.stats.discarded += len(self._inbox)
                self._inbox.clear()
                return []
            return [self._inbox.popleft()]

    def _run(self) -> None:
        while batch := self._next():
            item = batch[0]
            try:
                self._handler(item)
            except Exception as exc:
                self._failed(item, exc)
            else:
                self.stats.handled += 1

    def _failed(self, item: T, exc: Exception) -> None:
        self.stats.failed += 1
        try:
            what = self._describe(item)[:200]
        except Exception:  # a describe that fails must not hide the first error
            what = type(item).__name__
        error = f"{type(exc).__name__}: {exc}"[:500]
        expected = isinstance(exc, self._expected)
        # An expected failure is logged once per error type whatever the item (every sound of
        # a station without an audio device fails alike); a bug once per item and error type.
        key = f"expected/{type(exc).__name__}" if expected else f"{what}/{type(exc).__name__}"
        if key not in self._logged and len(self._logged) < 100:
            self._logged.add(key)
            if expected:
                log.warning("worker %s: %s (said once; it goes on trying)", self.name, exc)
            else:
                log.exception("worker %s failed on %s", self.name, what)
        else:
            log.debug("worker %s failed on %s again: %s", self.name, what, error)
        if self._on_error is not None:
            try:
                self._on_error(WorkerFailed(self.name, what, error))
            except Exception:
                log.exception("worker %s: reporting a failure failed", self.name)
