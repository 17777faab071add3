"""Per-machine multivariate detector: PCA Hotelling T² and SPE, one model per mode.

A :class:`MvBank` collects rows of a machine's smoothed analog readings while a mode is being
learned, fits a PCA model on them (:func:`fit`: standardise, keep the components explaining
``mv_explained`` of the variance), then scores every tick: T² (how unusual inside the model's
plane) and SPE (how far off it: a relationship between signals broken). Both are calibrated
like the per-signal statistics and share one persistence rule; an alert names the tags that
contribute most.
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from copilot.anomaly.calibrate import BINS, PENDING_STAGES, Persistence, bin_of, thresholds
from copilot.anomaly.config import AnomalyConfig

__all__ = ["MvBank", "MvModel", "fit"]

F64 = npt.NDArray[np.float64]


class MvModel(msgspec.Struct):
    """A PCA model of one mode: feature columns, centring, scaling, loadings, eigenvalues."""

    cols: list[int]
    mean: list[float]
    std: list[float]
    loadings: list[list[float]]  # (features, k)
    eig: list[float]
    spe_mean: float

    def arrays(self) -> tuple[npt.NDArray[np.intp], F64, F64, F64, F64]:
        """The model as numpy arrays (cached by the bank)."""
        return (
            np.asarray(self.cols, dtype=np.intp),
            np.asarray(self.mean),
            np.asarray(self.std),
            np.asarray(self.loadings).reshape(len(self.cols), len(self.eig)),
            np.asarray(self.eig),
        )


def fit(rows: F64, cols: npt.NDArray[np.intp], explained: float, floor: F64) -> MvModel | None:
    """Fit PCA on ``rows[:, cols]``; None when there are too few rows or features."""
    if cols.size < 2 or rows.shape[0] < 4 * cols.size + 20:
        return None
    data = rows[:, cols]
    mean = data.mean(axis=0)
    std = np.maximum(data.std(axis=0), floor[cols])
    z = (data - mean) / std
    cov = (z.T @ z) / max(z.shape[0] - 1, 1)
    eig, vec = np.linalg.eigh(cov)
    order = np.argsort(eig)[::-1]
    eig, vec = np.maximum(eig[order], 1e-6), vec[:, order]
    share = np.cumsum(eig) / eig.sum()
    k = min(int(np.searchsorted(share, explained)) + 1, int(cols.size) - 1)
    p = vec[:, :k]
    resid = z - (z @ p) @ p.T
    spe_mean = float(max(np.mean(np.sum(resid * resid, axis=1)), 1e-6))
    return MvModel(
        cols=cols.tolist(),
        mean=mean.tolist(),
        std=std.tolist(),
        loadings=p.tolist(),
        eig=eig[:k].tolist(),
        spe_mean=spe_mean,
    )


class MvBank:
    """One machine's multivariate detector over ``n`` analog tags in ``modes`` modes."""

    def __init__(self, n: int, modes: int, config: AnomalyConfig) -> None:
        self.n, self.modes, self.cfg = n, modes, config
        self.rows = np.zeros((modes, config.mv_max_rows, n))
        self.nrows = np.zeros(modes, dtype=np.int64)
        self.last_row_ns = np.zeros(modes, dtype=np.int64)
        self.models: list[MvModel | None] = [None] * modes
        self._arrays: dict[int, tuple[npt.NDArray[np.intp], F64, F64, F64, F64]] = {}
        self.hist = np.zeros((modes, 2, BINS), dtype=np.float32)
        self.pending = np.zeros((PENDING_STAGES, 2, BINS), dtype=np.float32)
        self.pending_mode = -1
        self.thr = np.full((modes, 2), np.inf)
        self.feedback = np.ones(modes)
        self.persist = Persistence(
            (1,),
            config.persistence_k,
            config.persistence_n,
            config.extreme_factor,
            config.clear_fraction,
            int(config.refractory_s * 1e9),
        )
        self.since = 0
        self.last_contrib = np.zeros(n)

    def collect(self, m: int, t_ns: int, fast: F64, ok: bool) -> None:
        """Keep a row of the smoothed readings (every ``mv_every_s``) while learning."""
        if not ok or t_ns - self.last_row_ns[m] < self.cfg.mv_every_s * 1e9:
            return
        self.last_row_ns[m] = t_ns
        i = int(self.nrows[m])
        if i >= self.cfg.mv_max_rows:  # a full buffer keeps a thinned history
            i = int(np.random.default_rng(i).integers(self.cfg.mv_max_rows))
        else:
            self.nrows[m] = i + 1
        self.rows[m, i] = fast

    def fit(self, m: int, watched: npt.NDArray[np.bool_], floor: F64) -> None:
        """Fit mode ``m``'s model on its rows and calibrate it on them."""
        rows = self.rows[m, : int(self.nrows[m])]
        self.models[m] = model = fit(rows, np.flatnonzero(watched), self.cfg.mv_explained, floor)
        self._arrays.pop(m, None)
        if model is None:
            return
        t2, spe, _ = self._score(m, rows)
        stats = np.stack([t2, spe])
        for j in range(2):
            np.add.at(self.hist[m, j], bin_of(stats[j]), 1.0)

    def commit(self, m: int) -> None:
        """Live statistics that waited long enough with no alert join the histograms."""
        if self.pending_mode == m:
            self.hist[m] += self.pending[-1]
            self.pending[1:] = self.pending[:-1].copy()
            self.pending[0] = 0.0

    def calibrate(self, m: int, p_target: float) -> None:
        """Recompute mode ``m``'s two thresholds from its histograms."""
        floors = np.array([self.cfg.min_threshold["t2"], self.cfg.min_threshold["spe"]])
        thr = thresholds(self.hist[m].astype(np.float64), p_target, floors)
        self.thr[m] = thr * self.cfg.scale_of("multivariate") * self.feedback[m]

    def _model(self, m: int) -> tuple[npt.NDArray[np.intp], F64, F64, F64, F64] | None:
        model = self.models[m]
        if model is None:
            return None
        arr = self._arrays.get(m)
        if arr is None:
            arr = self._arrays[m] = model.arrays()
        return arr

    def _score(self, m: int, x: F64) -> tuple[F64, F64, F64]:
        """T² and SPE statistics (normalised, ~1 typical) of rows ``x``, and contributions."""
        arr = self._model(m)
        assert arr is not None
        cols, mean, std, p, eig = arr
        model = self.models[m]
        assert model is not None
        z = (np.atleast_2d(x)[:, cols] - mean) / std
        t = z @ p
        resid = z - t @ p.T
        t2 = np.sqrt(np.sum(t * t / eig, axis=1) / eig.size)
        spe = np.sqrt(np.sum(resid * resid, axis=1) / model.spe_mean)
        contrib = np.zeros((z.shape[0], self.n))
        spe_part = resid * resid / model.spe_mean
        t2_part = np.abs(z * ((t / eig) @ p.T)) / eig.size
        contrib[:, cols] = np.where((spe >= t2)[:, None], spe_part, t2_part)
        return t2, spe, contrib

    def step(
        self, m: int, t_ns: int, fast: F64, ok: bool, live: bool
    ) -> tuple[float, float, bool, bool]:
        """Score one tick of mode ``m``: ``(t2_ratio, spe_ratio, raised, cleared)``."""
        if not live or not ok or self._model(m) is None:
            if not live:
                self.since = t_ns
            return 0.0, 0.0, False, False
        t2, spe, contrib = self._score(m, fast)
        stats = np.array([t2[0], spe[0]])
        thr = self.thr[m]
        ratio = stats / thr
        worst = np.array([float(ratio.max())])
        if self.pending_mode != m:
            self.pending[...] = 0.0
            self.pending_mode = m
        if not self.persist.active[0] and worst[0] < 1.0:
            for j in range(2):
                into = self.pending[0] if self.cfg.quarantine else self.hist[m]
                into[j, bin_of(stats[j : j + 1])[0]] += 1.0
        if worst[0] <= 0.5:
            self.since = t_ns
        raised, cleared = self.persist.update(worst, np.ones(1), np.ones(1, dtype=bool), t_ns)
        if raised[0]:
            self.last_contrib = contrib[0]
            self.pending[...] = 0.0
        return float(ratio[0]), float(ratio[1]), bool(raised[0]), bool(cleared[0])
