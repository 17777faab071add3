"""The fitted line of a projection as points to draw: from the last sample to the limit.

:func:`copilot.anomaly.projection.project` returns when its line reaches the limit, not where
the line stands now; both follow from the projection itself (``eta = (limit - level) / slope``,
so ``level = limit - slope * eta``), so nothing is fitted twice. The band is the wedge between
the line's start and the limit reached at the band's early and late times. Qt-free: the trend
view only turns these numbers into graphics items.
"""

from __future__ import annotations

from dataclasses import dataclass

from copilot.anomaly.projection import Projection


@dataclass(frozen=True)
class Continuation:
    """Where to draw a projection: times in the samples' clock (Unix seconds)."""

    t0: float  # the last sample the fit used
    level: float  # the fitted line's value at t0
    t_eta: float  # the line reaches ``limit`` here
    t_lo: float  # the band: the limit may be reached this early...
    t_hi: float  # ...or this late
    limit: float

    def line(self) -> tuple[list[float], list[float]]:
        """``(t, v)`` of the dashed continuation: now → the crossing."""
        return [self.t0, self.t_eta], [self.level, self.limit]

    def wedge(self) -> list[tuple[float, float]]:
        """The band as a triangle ``(t, v)``: the start, the early and the late crossing."""
        return [(self.t0, self.level), (self.t_lo, self.limit), (self.t_hi, self.limit)]


def continuation(projection: Projection, t_last: float) -> Continuation:
    """The line of ``projection`` fitted to samples whose newest is at ``t_last``."""
    p = projection
    level = p.limit - p.slope_per_s * p.eta_s
    return Continuation(
        t0=t_last,
        level=level,
        t_eta=t_last + p.eta_s,
        t_lo=t_last + p.lo_s,
        t_hi=t_last + p.hi_s,
        limit=p.limit,
    )


__all__ = ["Continuation", "continuation"]
