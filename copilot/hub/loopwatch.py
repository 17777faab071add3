"""How long each kind of work held the hub's loop: slow slices counted, the worst kept, by name.

Everything the hub does runs on one thread, so any one piece of work that runs long delays
every sample behind it: a station sees the plant late by as much. The loop names each piece
(``router``: receiving and applying messages; ``tick:<service>``; ``gc``: the collector's
pauses, which land inside whatever was running) and :class:`LoopWatch` keeps, per name, how
many slices took longer than ``slow_ms`` and the longest one. ``copilot hub status`` shows them;
a slice over ``warn_ms`` is logged once per name and doubling of its worst.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger(__name__)

SLOW_MS = 50.0
"""A slice longer than this is counted as slow: a station at 10 Hz has missed half a frame."""

WARN_MS = 500.0
"""A slice longer than this is logged (once per name, and again each time its worst doubles)."""


class LoopWatch:
    """Slow slices by name, and the worst of each, for one thread's loop."""

    def __init__(
        self,
        slow_ms: float = SLOW_MS,
        warn_ms: float = WARN_MS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.slow_s = slow_ms / 1000
        self.warn_s = warn_ms / 1000
        self.clock = clock
        self.slow: Counter[str] = Counter()
        self.worst_s: dict[str, float] = {}
        self._warned: dict[str, float] = {}
        self._gc_started = 0.0

    def add(self, name: str, seconds: float) -> None:
        """Record that ``name`` held the loop for ``seconds``."""
        if seconds > self.worst_s.get(name, 0.0):
            self.worst_s[name] = seconds
        if seconds < self.slow_s:
            return
        self.slow[name] += 1
        if seconds >= self.warn_s and seconds >= 2 * self._warned.get(name, 0.0):
            self._warned[name] = seconds
            log.warning(
                "hub: %s held the loop for %.0f ms; every sample behind it was that late.",
                name,
                seconds * 1000,
            )

    def since(self, name: str, started: float) -> None:
        """Record ``name`` from ``started`` (a reading of :attr:`clock`) until now."""
        self.add(name, self.clock() - started)

    # -- the garbage collector's pauses (they land inside whatever was running) ---------------

    def watch_gc(self) -> None:
        """Count the collector's pauses on this process under ``gc`` (until :meth:`unwatch_gc`)."""
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def unwatch_gc(self) -> None:
        """Stop counting the collector's pauses."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = self.clock()
        elif self._gc_started:
            self.add(f"gc{info.get('generation', '')}", self.clock() - self._gc_started)
            self._gc_started = 0.0

    # -- what status shows --------------------------------------------------------------------

    def status(self) -> tuple[dict[str, int], dict[str, float]]:
        """Slow slices by name, and the worst slice of each in ms (rounded to 0.1 ms)."""
        worst = {name: round(s * 1000, 1) for name, s in sorted(self.worst_s.items())}
        return dict(sorted(self.slow.items())), worst
