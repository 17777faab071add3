"""The views' frames come first: while one is being drawn, the I/O thread holds off.

A station runs its I/O thread and its views in one interpreter. Applying an update is short
Python work, but at plant rates there is nearly always one to apply, and a view drawing a
frame then waits for the interpreter lock at every call back from Qt into Python (up to the
switch interval, 5 ms, each time): a frame of 4 ms of work took 30–60 ms. The view says when a
frame begins and ends (:meth:`FrameGate.begin`, :meth:`FrameGate.end`); between messages the I/O
thread waits for the end (:meth:`FrameGate.hold_off`, the lock released), never longer than
``max_wait_s``, so a view that never ends its frame only slows updates, never stops them.
Updates wait in the socket meanwhile, which holds thousands.
"""

from __future__ import annotations

import threading
import time

MAX_WAIT_S = 0.02  # at most this long per wait: a stuck or slow view delays updates, no more


class FrameGate:
    """Whether a view is drawing; the I/O thread waits while it is (bounded)."""

    def __init__(self, max_wait_s: float = MAX_WAIT_S) -> None:
        self.max_wait_s = max_wait_s
        self._idle = threading.Event()
        self._idle.set()
        self.held_s = 0.0  # how long the I/O thread has held off, in all
        self.holds = 0  # how many times it waited

    @property
    def drawing(self) -> bool:
        """Whether a frame has begun and not ended."""
        return not self._idle.is_set()

    def begin(self) -> None:
        """A frame starts (GUI thread)."""
        self._idle.clear()

    def end(self) -> None:
        """The frame has been drawn (GUI thread)."""
        self._idle.set()

    def hold_off(self) -> None:
        """Wait until no frame is being drawn, at most ``max_wait_s`` (I/O thread)."""
        if self._idle.is_set():
            return
        self.holds += 1
        started = time.monotonic()
        self._idle.wait(self.max_wait_s)
        self.held_s += time.monotonic() - started


__all__ = ["MAX_WAIT_S", "FrameGate"]
