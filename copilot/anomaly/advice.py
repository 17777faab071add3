"""Which tags get a projection, how often it is worked out, and the words an operator reads.

A projection (:func:`copilot.anomaly.projection.project`) is advice: it is drawn on trends and
written on the overview ("↗ HI in ~7 min (5–10)"), never raised as an alarm. This module owns
the decisions the views share, free of Qt:

* **Which tags**: analog tags (``float`` or ``int``) with at least one alarm limit
  (:func:`projectable`), whose latest reading is Good and whose recent samples are mostly
  Good (at least :data:`MIN_GOOD_FRACTION` of the window's samples are finite: the station's
  rings mark gaps and Bad values with NaN).
* **How often**: :class:`Projector` works a tag's projection out at most once per
  ``every_s`` (1 s) while it has one (so that a turn withdraws it promptly), and once per
  ``quiet_s`` (3 s) while it has none (most tags, most of the time: a new projection may come
  two seconds later, the work is a third); in between it answers from its cache, so a view may
  ask on every frame. Views ask only for what is on screen (the overview's visible tiles, a
  visible live trend).
* **Withdrawn when the trend turns**: besides the projection's own rules (no trend the data
  vouch for, already past the limit, beyond the horizon), a projection is withdrawn when the
  newest quarter of the window has clearly stopped going that way (:func:`turned`), so a ramp
  that turns or levels off loses its projection in seconds, not once the fit window has
  forgotten the ramp.
* **The words**: :func:`overview_texts` (longest first, the view keeps the first that fits),
  an arrow glyph for the direction so the shape, not a colour, says "projection".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from copilot.anomaly.continuation import Continuation, continuation
from copilot.anomaly.projection import MIN_POINTS, Projection, project, theil_sen
from copilot.protocol import TagSpec

F64 = npt.NDArray[np.float64]
Window = Callable[[str, str, float], tuple[F64, F64]]
"""``window(machine, tag, since) -> (t, v)``: a tag's recent samples (``StationStore.window``)."""

FIT_WINDOW_S = 300.0  # the samples a projection is fitted to (the last 5 minutes)
EVERY_S = 2.0  # a tag's projection is worked out at most this often (while it has one)
QUIET_S = 5.0  # ...and this often while it has none (minutes ahead: seconds late is nothing)
HORIZON_S = 3600.0  # crossings further away than this are not said
COVERAGE = 0.99  # the slope's band: its 95 % confidence interval (Sen)
MIN_GOOD_FRACTION = 0.8  # of the window's samples, finite (Good), for a projection at all
RECENT_FRACTION = 0.25  # the newest part of the window that must still go the projected way
RISING, FALLING = "↗", "↘"


def projectable(spec: TagSpec) -> bool:
    """Whether ``spec`` is an analog tag with at least one alarm limit."""
    limits = spec.limits
    return (
        spec.type in ("float", "int")
        and limits is not None
        and any(x is not None for x in (limits.lolo, limits.lo, limits.hi, limits.hihi))
    )


@dataclass(frozen=True)
class Advice:
    """One tag's projection as the views show it."""

    machine: str
    tag: str
    projection: Projection
    t_last: float  # the newest sample the line was fitted to

    @property
    def arrow(self) -> str:
        """``↗`` toward a high limit, ``↘`` toward a low one (shape, not colour)."""
        return RISING if self.projection.slope_per_s > 0 else FALLING

    def words(self) -> str:
        """``HI in ~7 min (5–10)``."""
        return self.projection.words()

    def continuation(self) -> Continuation:
        """The fitted line and its band, to draw on a trend."""
        return continuation(self.projection, self.t_last)


def overview_texts(advice: Advice, label: str = "") -> list[str]:
    """What a tile may say, longest first (the view draws the first that fits its width).

    ``↗ zone1 temp HI in ~7 min (5–10)``, then the same without the tag's name.
    """
    short = f"{advice.arrow} {advice.words()}"
    return [f"{advice.arrow} {label} {advice.words()}", short] if label else [short]


def soonest(advices: Iterable[Advice | None]) -> Advice | None:
    """The projection a tile shows when several of its key tags have one: the earliest."""
    found = [a for a in advices if a is not None]
    return min(found, key=lambda a: a.projection.eta_s) if found else None


def turned(t: F64, v: F64, projection: Projection, coverage: float = COVERAGE) -> bool:
    """Whether the newest :data:`RECENT_FRACTION` of ``(t, v)`` no longer goes the projected way.

    Turned: the recent slope is less than half the whole window's (it levelled off or went
    back), and its band does not reach the whole window's slope (noise alone on a short stretch
    is not a turn).
    """
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    if t.size < 2:
        return False
    recent = t >= t[-1] - (t[-1] - t[0]) * RECENT_FRACTION
    if int(recent.sum()) < MIN_POINTS:
        return False
    tr, vr = t[recent], v[recent]
    if tr.size > 64:  # the same bound on cost as the projection's own fit
        pick = np.linspace(0, tr.size - 1, 64).round().astype(np.int64)
        tr, vr = tr[pick], vr[pick]
    slope, lo, hi, _level, _sigma = theil_sen(tr, vr, coverage)
    whole = projection.slope_per_s
    if whole > 0:
        return slope < whole / 2 and hi < whole
    return slope > whole / 2 and lo > whole


class Projector:
    """Projections of many tags, each worked out at most once per ``every_s`` and cached."""

    def __init__(
        self,
        *,
        window_s: float = FIT_WINDOW_S,
        every_s: float = EVERY_S,
        quiet_s: float = QUIET_S,
        horizon_s: float = HORIZON_S,
        coverage: float = COVERAGE,
    ) -> None:
        self.window_s = window_s
        self.every_s = every_s
        self.quiet_s = max(quiet_s, every_s)
        self.horizon_s = horizon_s
        self.coverage = coverage
        self.fits = 0  # projections actually worked out (the rest came from the cache)
        self._cache: dict[tuple[str, str], tuple[float, Advice | None]] = {}

    def advise(
        self, machine: str, spec: TagSpec, now: float, window: Window, good: bool = True
    ) -> Advice | None:
        """The projection of ``machine``'s tag ``spec`` at ``now`` (``None``: nothing to say).

        ``good``: whether the tag's latest reading is Good (stale or Bad data: no projection).
        """
        key = (machine, spec.name)
        if not self.due(machine, spec.name, now):
            return self._cache[key][1]
        advice = self._work_out(machine, spec, now, window) if good else None
        self._cache[key] = (now, advice)
        return advice

    def due(self, machine: str, tag: str, now: float) -> bool:
        """Whether :meth:`advise` would work the tag out now (views spread that work)."""
        cached = self._cache.get((machine, tag))
        if cached is None:
            return True
        at, found = cached
        return not 0.0 <= now - at < (self.every_s if found is not None else self.quiet_s)

    def cached(self, machine: str, tag: str) -> Advice | None:
        """The last projection worked out for a tag (no work)."""
        found = self._cache.get((machine, tag))
        return found[1] if found is not None else None

    def forget(self, machine: str | None = None) -> None:
        """Drop the cache (of one machine): its next :meth:`advise` works it out again."""
        if machine is None:
            self._cache.clear()
        else:
            for key in [k for k in self._cache if k[0] == machine]:
                del self._cache[key]

    def _work_out(self, machine: str, spec: TagSpec, now: float, window: Window) -> Advice | None:
        if not projectable(spec) or spec.limits is None:
            return None
        t, v = window(machine, spec.name, now - self.window_s)
        if t.size < MIN_POINTS:
            return None
        finite = np.isfinite(v)
        if finite.mean() < MIN_GOOD_FRACTION:
            return None
        self.fits += 1
        p = project(t, v, spec.limits, horizon_s=self.horizon_s, coverage=self.coverage)
        if p is None or turned(t, v, p, self.coverage):
            return None
        return Advice(machine, spec.name, p, float(t[finite][-1]))


__all__ = [
    "COVERAGE",
    "EVERY_S",
    "FIT_WINDOW_S",
    "HORIZON_S",
    "MIN_GOOD_FRACTION",
    "QUIET_S",
    "Advice",
    "Projector",
    "Window",
    "overview_texts",
    "projectable",
    "soonest",
    "turned",
]
