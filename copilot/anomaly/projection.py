"""Where a signal is heading: time to its next limit, with an uncertainty band (advisory only).

For one analog tag with limits, :func:`project` fits a robust straight line to its recent
samples — the Theil–Sen estimator (the median of pairwise slopes, on at most
:data:`MAX_POINTS` evenly thinned samples so the cost stays bounded), which a spike or a short
dropout does not tilt — and says when that line reaches the nearest limit in the direction it
is going ("HI in ~7 min (5–10)"). The band comes from Sen's confidence interval for the
slope (at ``coverage``: order statistics of the pairwise slopes, not their whole spread, which
noise between neighbouring samples widens until it always includes zero) and from the residual
noise (the level may touch the limit ``NOISE_K`` robust sigmas early or late).

A projection is withdrawn (``None``) when the slope's band includes zero or points away from
every limit (the trend turned), when the value is already past the limit (that is the alarm's
business), or when the crossing lies beyond ``horizon_s``. It never raises an alarm.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from copilot.protocol import Limits

MAX_POINTS = 64  # samples kept for the fit (pairwise slopes: ~2,000)
MIN_POINTS = 12
NOISE_K = 4.0  # the level may reach the limit this many residual sigmas early (or late)
MAD_TO_SIGMA = 1.4826

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Projection:
    """The fitted line reaches ``limit_name`` (``hi``…) at ``eta_s`` from now, in [lo_s, hi_s]."""

    limit_name: str
    limit: float
    eta_s: float
    lo_s: float
    hi_s: float
    slope_per_s: float

    def words(self) -> str:
        """``HI in ~7 min (5–10)``: for the overview and the trend's label."""
        name = self.limit_name.upper()
        if self.hi_s < 120:
            return f"{name} in ~{self.eta_s:.0f} s ({self.lo_s:.0f}–{self.hi_s:.0f})"
        lo, eta, hi = (max(0.0, x) / 60 for x in (self.lo_s, self.eta_s, self.hi_s))
        return f"{name} in ~{eta:.0f} min ({lo:.0f}–{hi:.0f})"


def _thin(t: F64, v: F64) -> tuple[F64, F64]:
    ok = np.isfinite(v) & np.isfinite(t)
    t, v = t[ok], v[ok]
    if t.size > MAX_POINTS:
        pick = np.linspace(0, t.size - 1, MAX_POINTS).round().astype(np.int64)
        t, v = t[pick], v[pick]
    return t, v


@functools.lru_cache(maxsize=MAX_POINTS + 1)
def _pairs(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Index pairs ``i < j`` of ``n`` points (read-only, shared: the fits repeat the same n)."""
    i, j = np.triu_indices(n, k=1)
    i.setflags(write=False)
    j.setflags(write=False)
    return i, j


@functools.lru_cache(maxsize=8)
def _z(coverage: float) -> float:
    return NormalDist().inv_cdf((1.0 + coverage) / 2.0)


def _median(x: F64) -> float:
    """``np.median`` of a 1-D array, by one partition (its wrappers cost more than the work here).

    NaN anywhere gives NaN, as ``np.median`` does.
    """
    n = x.size
    if n == 0 or np.isnan(x).any():
        return float(np.median(x))
    lo, hi = (n - 1) // 2, n // 2
    part = np.partition(x, (lo, hi) if lo != hi else lo)
    return float((part[lo] + part[hi]) / 2.0)


def theil_sen(t: F64, v: F64, coverage: float = 0.95) -> tuple[float, float, float, float, float]:
    """``(slope, slope_lo, slope_hi, intercept, residual_sigma)`` of a robust line through v(t).

    ``intercept`` is the line's value at ``t[-1]`` (now); times need not be evenly spaced.
    """
    i, j = _pairs(t.size)
    dt = t[j] - t[i]
    keep = dt > 0
    slopes = (v[j] - v[i])[keep] / dt[keep]
    if slopes.size == 0:
        return 0.0, 0.0, 0.0, float(np.median(v)), 0.0
    # Sen's confidence interval for the median slope: the order statistics of the sorted
    # pairwise slopes at ranks (N ∓ C) / 2, with C = z · √(n(n−1)(2n+5)/18) (Kendall's S
    # variance) — the uncertainty of the trend, not the spread of noisy neighbour slopes.
    # Only those ranks and the median's are needed: a partition, not a sort.
    n, big_n = t.size, slopes.size
    c = _z(coverage) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    r_lo = max(0, min(big_n - 1, math.floor((big_n - c) / 2.0)))
    r_hi = max(0, min(big_n - 1, math.ceil((big_n + c) / 2.0)))
    mid_lo, mid_hi = (big_n - 1) // 2, big_n // 2
    ranked = np.partition(slopes, sorted({r_lo, mid_lo, mid_hi, r_hi}))
    slope = float((ranked[mid_lo] + ranked[mid_hi]) / 2.0)
    lo, hi = float(ranked[r_lo]), float(ranked[r_hi])
    intercept = _median(v - slope * (t - t[-1]))
    residual = v - (intercept + slope * (t - t[-1]))
    sigma = _median(np.abs(residual - _median(residual))) * MAD_TO_SIGMA
    return slope, lo, hi, intercept, sigma


def project(
    t: F64,
    v: F64,
    limits: Limits,
    *,
    horizon_s: float = 3600.0,
    coverage: float = 0.95,
) -> Projection | None:
    """When the trend of ``v(t)`` (seconds, values) reaches its next limit; ``None`` if not."""
    t, v = _thin(np.asarray(t, dtype=np.float64), np.asarray(v, dtype=np.float64))
    if t.size < MIN_POINTS or t[-1] - t[0] <= 0:
        return None
    slope, slope_lo, slope_hi, level, sigma = theil_sen(t, v, coverage)
    if slope_lo <= 0.0 <= slope_hi:
        return None  # no trend the data can vouch for
    rising = slope > 0
    candidates = (
        [("hi", limits.hi), ("hihi", limits.hihi)]
        if rising
        else [("lo", limits.lo), ("lolo", limits.lolo)]
    )
    ahead = [
        (name, float(x))
        for name, x in candidates
        if x is not None and (x > level if rising else x < level)
    ]
    if not ahead:
        return None  # already past (the alarm's business) or no limit that way
    name, limit = min(ahead, key=lambda nx: abs(nx[1] - level))
    gap = limit - level
    eta = gap / slope
    # The band: the slope's spread, and the noise that may touch the limit early or late.
    fast = slope_hi if rising else slope_lo
    slow = slope_lo if rising else slope_hi
    near = gap - math.copysign(NOISE_K * sigma, gap)
    far = gap + math.copysign(NOISE_K * sigma, gap)
    lo_s = max(0.0, near / fast) if (near / gap) > 0 else 0.0
    hi_s = far / slow if slow != 0 and (far / slow) > 0 else math.inf
    if eta > horizon_s or not math.isfinite(eta):
        return None
    return Projection(name, limit, eta, lo_s, min(hi_s, 4 * horizon_s), slope)
