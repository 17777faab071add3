"""Per-signal detectors of one machine, vectorised over its analog tags.

A :class:`SignalBank` owns, for ``n`` analog tags and ``M`` modes, the running filters (a fast
EWMA, a robust slow baseline and a slower reference, the EWMA of squared steps and of the
slope, the run of unchanged readings, two one-sided CUSUMs) and, per mode, what normal looked
like (scales, envelope, repeat probability) plus the histograms the thresholds are calibrated
from. :meth:`SignalBank.step` takes one reading per tag (a tick) and returns, per detector and
tag, the statistic, a signed sigma, and which alerts the persistence rule raised or cleared.

Detectors (rows of every ``(D, n)`` array, in :data:`~copilot.anomaly.config.DETECTORS` order):
level shift (fast EWMA against the robust slow baseline, in learned MAD units), drift (CUSUM of
the fast EWMA against the slow reference), variance change (log ratio of the squared-step EWMA
to the mode's), stuck (the run of identical readings, as -log10 of its probability under the
mode's repeat rate), rate change (the EWMA slope in learned units) and envelope (distance
outside the range learned for the mode).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from copilot.anomaly.calibrate import BINS, Persistence, bin_of, thresholds
from copilot.anomaly.config import DETECTORS, AnomalyConfig

__all__ = ["LEARNED_FIELDS", "LIVE_FIELDS", "SignalBank"]

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
D = len(DETECTORS)
LEVEL, DRIFT, VARIANCE, STUCK, RATE, ENVELOPE = range(D)
_MAD = 1.2533  # mean absolute deviation → standard deviation for a normal distribution

LEARNED_FIELDS = (
    "count",
    "mean",
    "noise_abs",
    "level_abs",
    "ref_abs",
    "step_sq",
    "rate_abs",
    "repeat",
    "low",
    "high",
    "hist",
    "thr",
    "feedback",
)
"""Per-mode arrays that are what the bank learned (saved by the engine's state)."""

LIVE_FIELDS = (
    "fast",
    "slow",
    "ref",
    "prev",
    "prev_t",
    "seen",
    "step_ew",
    "rate_ew",
    "run",
    "cusum_pos",
    "cusum_neg",
)
"""Running filters (saved too, so a restart within seconds does not re-settle)."""


class SignalBank:
    """The per-signal detectors of one machine's ``n`` analog tags in ``modes`` modes."""

    def __init__(self, spans: F64, resolutions: F64, modes: int, config: AnomalyConfig) -> None:
        n = spans.size
        self.n, self.modes, self.cfg = n, modes, config
        self.floor = np.maximum(1e-4 * spans, 0.5 * resolutions) + 1e-12
        self.res = resolutions
        self.enabled = np.array([d in config.detectors for d in DETECTORS])
        shape = (modes, n)
        self.count = np.zeros(shape)
        self.mean = np.zeros(shape)
        self.noise_abs = np.zeros(shape)
        self.level_abs = np.zeros(shape)
        self.ref_abs = np.zeros(shape)
        self.step_sq = np.zeros(shape)
        self.rate_abs = np.zeros(shape)
        self.repeat = np.zeros(shape)
        self.low = np.full(shape, np.inf)
        self.high = np.full(shape, -np.inf)
        self.hist = np.zeros((modes, D, n, BINS), dtype=np.float32)
        self.thr = np.full((modes, D, n), np.inf)
        self.feedback = np.ones((modes, D, n))
        self.fast = np.zeros(n)
        self.slow = np.zeros(n)
        self.ref = np.zeros(n)
        self.prev = np.zeros(n)
        self.prev_t = np.zeros(n, dtype=np.int64)
        self.seen = np.zeros(n, dtype=bool)
        self.step_ew = np.zeros(n)
        self.rate_ew = np.zeros(n)
        self.run = np.zeros(n)
        self.cusum_pos = np.zeros(n)
        self.cusum_neg = np.zeros(n)
        self.since = np.zeros((D, n), dtype=np.int64)
        self.persist = Persistence(
            (D, n),
            config.persistence_k,
            config.persistence_n,
            config.extreme_factor,
            config.clear_fraction,
            int(config.refractory_s * 1e9),
        )
        self.settled = np.ones(n, dtype=bool)
        self.anchor = np.zeros(n)
        self.anchor_t = np.zeros(n, dtype=np.int64)

    # -- what was learned ------------------------------------------------------------------

    def scales(self, m: int) -> tuple[F64, F64, F64, F64, F64]:
        """Noise, level, reference, step and slope scales of mode ``m`` (floored)."""
        f = self.floor
        return (
            np.maximum(_MAD * self.noise_abs[m], f),
            np.maximum(_MAD * self.level_abs[m], f),
            np.maximum(_MAD * self.ref_abs[m], f),
            np.maximum(self.step_sq[m], f * f),
            np.maximum(_MAD * self.rate_abs[m], f),
        )

    def varying(self, m: int) -> B:
        """Tags that move in mode ``m`` (a constant one, e.g. a setpoint, is not watched)."""
        return np.asarray((self.count[m] > 0) & (self.step_sq[m] > (1e-3 * self.floor) ** 2))

    def calibrate(self, m: int, p_target: float) -> None:
        """Recompute mode ``m``'s thresholds from its histograms for ``p_target`` per sample."""
        floors = np.array([self.cfg.min_threshold.get(d, 1.0) for d in DETECTORS])[:, None]
        thr = thresholds(self.hist[m].astype(np.float64), p_target, floors)
        # Stuck: the probability of the run is known exactly from the repeat rate.
        thr[STUCK] = max(-np.log10(p_target), floors[STUCK, 0])
        thr[ENVELOPE] = self.cfg.envelope_threshold
        thr = thr * self.cfg.threshold_scale * self.feedback[m]
        thr[~self.enabled] = np.inf
        self.thr[m] = thr

    # -- one tick ----------------------------------------------------------------------------

    def reseed(self, mask: B | None = None) -> None:
        """Restart the baselines from the current reading (a mode change, a long gap)."""
        sel = np.ones(self.n, dtype=bool) if mask is None else mask
        self.slow = np.where(sel, self.fast, self.slow)
        self.ref = np.where(sel, self.fast, self.ref)
        self.cusum_pos = np.where(sel, 0.0, self.cusum_pos)
        self.cusum_neg = np.where(sel, 0.0, self.cusum_neg)
        self.rate_ew = np.where(sel, 0.0, self.rate_ew)

    def step(
        self,
        m: int,
        t_ns: npt.NDArray[np.int64],
        x: F64,
        valid: B,
        phase: str,
    ) -> tuple[F64, F64, B, B]:
        """Advance by one reading per tag (``valid`` marks tags with a Good reading).

        ``phase`` is ``learning`` (learn scales), ``calibrating`` (learn scales and fill the
        histograms), ``live`` (detect; histograms keep filling below threshold) or ``settling``
        (follow the readings, decide nothing). Returns ``(stat, sigma, raised, cleared)``, each
        ``(D, n)``.
        """
        cfg = self.cfg
        first = valid & ~self.seen
        if first.any():
            for arr in (self.fast, self.slow, self.ref, self.prev):
                arr[first] = x[first]
            self.prev_t[first] = t_ns[first]
            self.seen |= first
        go = valid & ~first
        xs = np.where(go, x, self.prev)
        dt = np.clip((t_ns - self.prev_t) / 1e9, 1e-3, 60.0)
        step = xs - self.prev

        def alpha(tau: float) -> F64:
            return np.where(go, -np.expm1(-dt / tau), 0.0)

        self.fast += alpha(cfg.fast_tau_s) * (xs - self.fast)
        noise, s_lvl, s_ref, s_step, s_rate = self.scales(m)
        level_dev = self.fast - self.slow
        ref_dev = self.fast - self.ref
        frozen = self.persist.active[LEVEL] | self.persist.active[DRIFT]
        upd = go & ~frozen
        self.slow += np.where(upd, alpha(cfg.slow_tau_s), 0.0) * np.clip(
            level_dev, -4.0 * s_lvl, 4.0 * s_lvl
        )
        self.ref += np.where(upd, alpha(cfg.ref_tau_s), 0.0) * np.clip(
            ref_dev, -4.0 * s_ref, 4.0 * s_ref
        )
        self.step_ew += alpha(cfg.variance_tau_s) * (step * step - self.step_ew)
        self.rate_ew += alpha(cfg.rate_tau_s) * (step / dt - self.rate_ew)
        self.run = np.where(go, np.where(step == 0.0, self.run + 1.0, 0.0), self.run)
        self.prev = xs
        self.prev_t = np.where(go, t_ns, self.prev_t)

        if phase in ("learning", "calibrating"):
            self._learn(m, go, step, xs)
            noise, s_lvl, s_ref, s_step, s_rate = self.scales(m)

        u = ref_dev / s_ref
        k = cfg.cusum_k
        w = dt / cfg.cusum_unit_s
        self.cusum_pos = np.where(go, np.maximum(0.0, self.cusum_pos + (u - k) * w), 0.0)
        self.cusum_neg = np.where(go, np.maximum(0.0, self.cusum_neg + (-u - k) * w), 0.0)
        if phase == "settling":
            self.reseed(go)

        eps = s_step * 1e-3 + (0.5 * self.res) ** 2
        width = np.maximum(self.high[m] - self.low[m], 0.0)
        env_scale = np.maximum(np.maximum(noise, 0.05 * width), self.floor)
        below = self.low[m] - self.fast
        above = self.fast - self.high[m]
        env = np.maximum(np.maximum(below, above), 0.0)
        rep = self.repeat[m]
        stuck_w = np.where(rep < 0.5, -np.log10(np.clip(rep, 1e-6, 0.999)), 0.0)
        sigma = np.stack(
            [
                level_dev / s_lvl,
                ref_dev / s_ref,
                np.sqrt((self.step_ew + eps) / (s_step + eps)),
                self.run,
                self.rate_ew / s_rate,
                np.where(above > 0, env, -env) / env_scale,
            ]
        )
        stat = np.stack(
            [
                np.abs(sigma[LEVEL]),
                np.maximum(self.cusum_pos, self.cusum_neg),
                np.abs(np.log((self.step_ew + eps) / (s_step + eps))),
                self.run * stuck_w,
                np.abs(sigma[RATE]),
                env / env_scale,
            ]
        )
        stat[ENVELOPE] = np.where(np.isfinite(width), stat[ENVELOPE], 0.0)
        watch = go & self.varying(m)
        # A sample-and-hold tag (last cycle's time, last shot's peak) only has an envelope.
        held = self.repeat[m] >= 0.5
        cells = np.broadcast_to(watch, (D, self.n)).copy()
        cells[:ENVELOPE] &= ~held
        if phase == "calibrating":
            self._fill(m, stat, cells)
        if phase != "live":
            nothing = np.zeros((D, self.n), dtype=bool)
            self.since = np.where(cells, np.broadcast_to(t_ns, (D, self.n)), self.since)
            return stat, sigma, nothing, nothing
        thr = self.thr[m]
        if not self.settled.all():
            # After a mode change a tag settles: back inside its envelope and no longer moving
            # (or ``settle_max_s`` has passed: the machine decides that).
            # Checked once a minute: the fast EWMA moved less than half a level unit since.
            due = go & ~self.settled & (t_ns - self.anchor_t >= 60 * 1_000_000_000)
            still = np.abs(self.fast - self.anchor) < 0.5 * s_lvl
            inside = stat[ENVELOPE] < 0.5 * thr[ENVELOPE]
            self.settled |= due & (self.anchor_t > 0) & still & inside
            self.anchor = np.where(due, self.fast, self.anchor)
            self.anchor_t = np.where(due, t_ns, self.anchor_t)
            wait = ~self.settled
            self.reseed(go & wait)
            cells[:STUCK] &= ~wait
            cells[RATE:] &= ~wait
        calm = cells & (stat < thr) & ~self.persist.active
        self._fill(m, stat, calm)
        quiet = stat <= 0.5 * thr
        quiet[DRIFT] = stat[DRIFT] <= 1e-9
        self.since = np.where(cells & quiet, np.broadcast_to(t_ns, (D, self.n)), self.since)
        raised, cleared = self.persist.update(stat, thr, cells, int(t_ns.max()))
        return stat, sigma, raised, cleared

    def _learn(self, m: int, go: B, step: F64, xs: F64) -> None:
        c = np.where(go, self.count[m] + 1.0, self.count[m])
        a = np.where(go, 1.0 / np.clip(c, 1.0, 20_000.0), 0.0)
        self.count[m] = c
        self.mean[m] += a * (xs - self.mean[m])
        self.noise_abs[m] += a * (np.abs(xs - self.fast) - self.noise_abs[m])
        self.level_abs[m] += a * (np.abs(self.fast - self.slow) - self.level_abs[m])
        self.ref_abs[m] += a * (np.abs(self.fast - self.ref) - self.ref_abs[m])
        self.step_sq[m] += a * (step * step - self.step_sq[m])
        self.rate_abs[m] += a * (np.abs(self.rate_ew) - self.rate_abs[m])
        self.repeat[m] += a * ((step == 0.0) - self.repeat[m])
        self.low[m] = np.where(go, np.minimum(self.low[m], self.fast), self.low[m])
        self.high[m] = np.where(go, np.maximum(self.high[m], self.fast), self.high[m])

    def _fill(self, m: int, stat: F64, cells: B) -> None:
        det, tag = np.nonzero(cells)
        if det.size:
            np.add.at(self.hist[m], (det, tag, bin_of(stat[det, tag])), 1.0)
