"""Per-item periodic work spread over the hub's ticks: each item once a period, a few a tick.

Doing a plant's worth of per-machine work in one tick (folding every machine's history,
snapshotting every machine's detectors) held the hub's loop for a second or more at 200
machines. :class:`Spread` turns elapsed time into a number of items due now, so that a service
doing that many items each tick (in turn) does every item once per ``period_s`` with no long
slice.
"""

from __future__ import annotations

import math


class Spread:
    """How many of ``items`` are due at each tick so that each comes round every ``period_s``.

    ``max_gap_s`` caps the time one tick may account for (a hub that stalled does not then do
    everything at once); ``first_gap_s`` is what the first tick accounts for (``period_s``:
    everything known then at once; 0: nothing until time has passed).
    """

    def __init__(self, period_s: float, max_gap_s: float, first_gap_s: float = 0.0) -> None:
        self.period_s = period_s
        self.max_gap_s = max_gap_s
        self.first_gap_s = first_gap_s
        self._last: float | None = None
        self._credit = 0.0

    def due(self, now: float, items: int) -> int:
        """Items to do on this tick at ``now`` (monotonic seconds), ``items`` in all."""
        gap = self.first_gap_s if self._last is None else now - self._last
        self._last = now
        self._credit += items * min(max(gap, 0.0), self.max_gap_s) / self.period_s
        count = math.floor(self._credit)
        self._credit -= count
        return count


__all__ = ["Spread"]
