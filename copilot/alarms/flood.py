"""Alarm floods (ISA-18.2): when they start and end, after the fact and live.

Owns the flood rule and its two readers: :func:`flood_intervals`, the exact flood periods of a
list of raise times (the KPI report), and :class:`FloodMeter`, the incremental meter a station
or the hub keeps while alarms arrive. Both are pure: every time is passed in (ns UTC ints),
nothing reads a clock or a file.

The trailing window is half-open: at time ``t`` it holds the raises in ``(t - window, t]``, so a
raise counts from its own instant until exactly one window later, and two raises one window
apart are never in the same window. The count changes only at those instants; all changes at
the same instant are applied together before the rule is checked. A flood starts at the first
instant the count is above ``start_above`` and ends at the first later instant it is below
``end_below`` (hysteresis: between the two, the state stays what it was).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class FloodRule:
    """When a run of alarms is a flood.

    A flood starts when MORE than ``start_above`` alarms were raised in the trailing
    ``window_s`` seconds and ends when FEWER than ``end_below`` were (ISA-18.2 / EEMUA 191:
    more than 10 in 10 minutes, fewer than 5).
    """

    window_s: float = 600.0
    start_above: int = 10
    end_below: int = 5

    def __post_init__(self) -> None:
        """Refuse rules that cannot work (raises :class:`ValueError` saying why)."""
        if not self.window_s > 0:
            raise ValueError(f"The flood window must be positive, not {self.window_s} s.")
        if self.start_above < 0:
            raise ValueError(f"start_above must be 0 or more, not {self.start_above}.")
        if not 1 <= self.end_below <= self.start_above + 1:
            raise ValueError(
                f"end_below must be between 1 and start_above + 1 ({self.start_above + 1}), "
                f"not {self.end_below}: a flood must be able to end, and its start must not "
                "already be its end."
            )

    @property
    def window_ns(self) -> int:
        """The window in ns."""
        return round(self.window_s * NS_PER_S)

    def window_text(self) -> str:
        """The window in plain words: ``10 min``, ``90 s``."""
        seconds = self.window_s
        if seconds % 60 == 0:
            return f"{seconds / 60:g} min"
        return f"{seconds:g} s"


def window_counts(raised_at: Sequence[int] | np.ndarray, window_ns: int) -> np.ndarray:
    """For each raise (sorted ascending), how many raises the window ending at it holds.

    The count at raise ``r`` is the number of raises in ``(r - window_ns, r]``; its maximum is
    the peak of any sliding window, since a window's count only grows at a raise.
    """
    times = np.asarray(raised_at, dtype=np.int64)
    if times.size == 0:
        return np.zeros(0, dtype=np.int64)
    right = np.searchsorted(times, times, side="right")
    left = np.searchsorted(times, times - window_ns, side="right")
    return (right - left).astype(np.int64)


def flood_intervals(
    raised_at: Sequence[int] | np.ndarray, rule: FloodRule, until: int | None = None
) -> list[tuple[int, int]]:
    """The flood periods ``[(start, end), ...]`` (ns) of alarms raised at ``raised_at``.

    Exact: the trailing count is evaluated at every instant it changes (each raise and each
    raise leaving the window). ``raised_at`` need not be sorted. With ``until``, periods are cut
    there (a flood still open at ``until`` ends at ``until``; none starts at or after it);
    without, an open flood ends where the count falls below ``end_below`` once the last raises
    have left the window.
    """
    times = np.sort(np.asarray(raised_at, dtype=np.int64))
    if times.size == 0:
        return []
    # Every instant the count changes: +1 at a raise, -1 one window later; summed per instant.
    at = np.concatenate([times, times + rule.window_ns])
    delta = np.concatenate([np.ones(times.size, np.int64), -np.ones(times.size, np.int64)])
    order = np.argsort(at, kind="stable")
    at, delta = at[order], delta[order]
    instants, first = np.unique(at, return_index=True)
    counts = np.cumsum(np.add.reduceat(delta, first))
    above = np.flatnonzero(counts > rule.start_above)
    below = np.flatnonzero(counts < rule.end_below)
    out: list[tuple[int, int]] = []
    i = 0  # the first instant not yet inside a flood period found so far
    while True:
        k = int(np.searchsorted(above, i))
        if k == len(above):
            break
        start = int(above[k])
        # The count is 0 once every raise has left the window, so a flood always ends.
        end = int(below[np.searchsorted(below, start, side="right")])
        out.append((int(instants[start]), int(instants[end])))
        i = end + 1
    if until is None:
        return out
    return [(s, min(e, until)) for s, e in out if s < until]


class FloodMeter:
    """The live flood meter: alarms arrive one by one, the meter says whether this is a flood.

    Keep one per operator scope (a station, a line, the hub). :meth:`add` each raise with its
    area; ask :meth:`rate`, :meth:`by_area`, :meth:`in_flood` and :meth:`summary` at any time.
    Memory holds only the raises of the trailing window.

    Fed raises in time order and asked at times not before the last raise, it agrees exactly
    with :func:`flood_intervals` (same instants, same hysteresis). A raise that arrives late
    (older than the last moment the meter has settled) still counts in the window while it
    lasts, but may start a flood only from that moment on; one older than a whole window is
    ignored.
    """

    def __init__(self, rule: FloodRule | None = None) -> None:
        self.rule = rule or FloodRule()
        self._window = self.rule.window_ns
        self._times: list[int] = []  # sorted raise times in or after the settled window
        self._areas: list[str] = []  # the area of each entry of _times
        self._settled: int | None = None  # every instant up to here has been checked
        self._in_flood = False
        self._since: int | None = None

    @property
    def since(self) -> int | None:
        """When the current flood began (ns), as of the last add or query; None: no flood."""
        return self._since if self._in_flood else None

    def add(self, raised_at: int, area: str = "") -> None:
        """Count one alarm raised at ``raised_at`` (ns) in ``area``."""
        if self._settled is not None and raised_at <= self._settled:
            if raised_at <= self._settled - self._window:
                return  # left the window before the meter could see it
            self._insert(raised_at, area)
            self._check(self._settled, self._count(self._settled))
            return
        self._settle(raised_at, inclusive=False)  # instants before it are final now
        self._insert(raised_at, area)
        self._prune()

    def rate(self, now: int) -> int:
        """How many alarms were raised in the trailing window at ``now``."""
        self._settle(now, inclusive=True)
        self._prune()
        return self._count(now)

    def by_area(self, now: int) -> dict[str, int]:
        """The alarms of the trailing window at ``now``, per area (largest first)."""
        self._settle(now, inclusive=True)
        self._prune()
        lo, hi = self._bounds(now)
        counted = Counter(self._areas[lo:hi])
        return dict(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))

    def in_flood(self, now: int) -> bool:
        """Whether the alarms are in flood at ``now`` (with the rule's hysteresis)."""
        self._settle(now, inclusive=True)
        self._prune()
        return self._in_flood

    def summary(self, now: int) -> str:
        """One line for a banner: ``12 alarms in 10 min, 9 from Line 2``."""
        areas = self.by_area(now)
        total = sum(areas.values())
        text = f"{total} alarm{'' if total == 1 else 's'} in {self.rule.window_text()}"
        named = [(area, n) for area, n in areas.items() if area]
        if named:
            area, n = named[0]  # by_area is largest first, ties by name
            text += f", {'all' if n == total else n} from {area}"
        return text

    # -- internals ------------------------------------------------------------------------

    def _insert(self, raised_at: int, area: str) -> None:
        i = bisect_right(self._times, raised_at)
        self._times.insert(i, raised_at)
        self._areas.insert(i, area)

    def _bounds(self, t: int) -> tuple[int, int]:
        """Indexes of the raises in ``(t - window, t]``."""
        return bisect_right(self._times, t - self._window), bisect_right(self._times, t)

    def _count(self, t: int) -> int:
        lo, hi = self._bounds(t)
        return hi - lo

    def _check(self, t: int, count: int) -> None:
        if not self._in_flood and count > self.rule.start_above:
            self._in_flood, self._since = True, t
        elif self._in_flood and count < self.rule.end_below:
            self._in_flood, self._since = False, None

    def _settle(self, upto: int, inclusive: bool) -> None:
        """Apply the rule at every instant after the settled one up to ``upto``."""
        times, window = self._times, self._window
        while True:
            if self._settled is None:
                nxt = times[0] if times else None  # nothing leaves before the first raise
            else:
                i = bisect_right(times, self._settled)
                j = bisect_right(times, self._settled - window)
                candidates = [times[i]] if i < len(times) else []
                if j < len(times):
                    candidates.append(times[j] + window)
                nxt = min(candidates) if candidates else None
            if nxt is None or nxt > upto or (nxt == upto and not inclusive):
                return
            self._check(nxt, self._count(nxt))
            self._settled = nxt

    def _prune(self) -> None:
        """Drop the raises whose leaving the window has been settled."""
        if self._settled is None:
            return
        k = bisect_right(self._times, self._settled - self._window)
        if k:
            del self._times[:k]
            del self._areas[:k]
