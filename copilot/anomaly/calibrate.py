"""Thresholds from a false-alert budget, and persistence between a statistic and an alert.

Every detector statistic is non-negative and larger means less normal. Its distribution in
normal operation is kept as a log-spaced histogram per (mode, statistic, tag), filled online.
:func:`thresholds` reads two upper quantiles (1 % and 0.1 %) off the histogram and extrapolates
an exponential tail down to the exceedance probability the budget allows for one statistic;
:class:`Persistence` then asks for k exceedances in the last n samples (or one extreme one).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["BINS", "PENDING_STAGES", "Persistence", "bin_of", "bin_upper", "thresholds"]

BINS = 64
_PER_OCTAVE = 4.0
P1, P2 = 1e-2, 1e-3
MIN_COUNT = 300  # below this many samples a histogram says nothing yet
PENDING_STAGES = 3  # live samples wait this many recalibrations before they count

F64 = npt.NDArray[np.float64]


def bin_of(stat: F64) -> npt.NDArray[np.intp]:
    """The histogram bin of each statistic value (log-spaced; NaN goes to bin 0)."""
    s = np.nan_to_num(stat, nan=0.0, posinf=1e9)
    b = np.floor(_PER_OCTAVE * np.log2(1.0 + np.maximum(s, 0.0)))
    return np.clip(b, 0, BINS - 1).astype(np.intp)


def bin_upper(b: npt.NDArray[np.intp] | npt.NDArray[np.float64]) -> F64:
    """The upper edge of bin ``b``."""
    return np.asarray(np.exp2((np.asarray(b, dtype=np.float64) + 1.0) / _PER_OCTAVE) - 1.0)


def _quantile(hist: F64, total: F64, p: float) -> F64:
    """The value exceeded with probability ``p`` (upper bin edge; conservative)."""
    surv = np.cumsum(hist[..., ::-1], axis=-1)[..., ::-1] / np.maximum(total, 1.0)[..., None]
    idx = np.sum(surv >= p, axis=-1) - 1
    return bin_upper(np.maximum(idx, 0))


def thresholds(hist: F64, p_target: F64 | float, floor: F64 | float) -> F64:
    """Thresholds (shape ``hist.shape[:-1]``) exceeded with probability ``p_target`` per sample.

    The tail beyond the 0.1 % quantile is extrapolated as exponential:
    ``q(p) = q2 + (q2 - q1) * log10(P2 / p)``. Histograms with too few samples give ``inf``
    (the detector stays silent); no threshold falls below ``floor``.
    """
    total = hist.sum(axis=-1)
    q1 = _quantile(hist, total, P1)
    q2 = _quantile(hist, total, P2)
    decades = np.maximum(np.log10(P2 / np.asarray(p_target, dtype=np.float64)), 0.0)
    thr = q2 + np.maximum(q2 - q1, 0.05 * q2) * decades
    thr = np.maximum(thr, floor)
    return np.where(total >= MIN_COUNT, thr, np.inf)


class Persistence:
    """k-of-n persistence for a block of statistics (any array shape), as bit histories."""

    def __init__(
        self,
        shape: tuple[int, ...],
        k: int,
        n: int,
        extreme: float,
        clear_fraction: float = 0.7,
        refractory_ns: int = 0,
    ) -> None:
        self.k, self.n, self.extreme = k, n, extreme
        self.clear_fraction = clear_fraction
        self.refractory_ns = refractory_ns
        self.mask = (1 << n) - 1
        self.bits = np.zeros(shape, dtype=np.uint32)
        self.calm = np.zeros(shape, dtype=np.uint32)
        self.active = np.zeros(shape, dtype=bool)
        self.cleared_at = np.full(shape, -(2**62), dtype=np.int64)

    def update(
        self, stat: F64, thr: F64, valid: npt.NDArray[np.bool_], t_ns: int = 0
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Push one sample per valid cell; return (raised, cleared) masks.

        An alert clears after ``n`` samples below ``clear_fraction`` × threshold, and the same
        cell raises again no sooner than ``refractory_ns`` after it cleared.
        """
        over = valid & (stat > thr)
        low = valid & (stat < self.clear_fraction * thr)
        shifted = ((self.bits << 1) | over.astype(np.uint32)) & self.mask
        self.bits = np.where(valid, shifted, self.bits)
        calm = ((self.calm << 1) | low.astype(np.uint32)) & self.mask
        self.calm = np.where(valid, calm, self.calm)
        count = np.bitwise_count(self.bits)
        ready = t_ns - self.cleared_at >= self.refractory_ns
        raise_now = ~self.active & valid & ready & ((count >= self.k) | (stat > self.extreme * thr))
        clear_now = self.active & valid & (self.calm == self.mask)
        self.active = (self.active | raise_now) & ~clear_now
        self.cleared_at = np.where(clear_now, t_ns, self.cleared_at)
        return raise_now, clear_now

    def reset(self, keep: npt.NDArray[np.bool_] | None = None) -> None:
        """Forget the histories (a mode change); ``keep`` marks cells whose alert stays."""
        if keep is None:
            self.bits[...] = 0
            self.active[...] = False
        else:
            self.bits = np.where(keep, self.bits, 0).astype(np.uint32)
            self.active &= keep
