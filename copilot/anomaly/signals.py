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
mode's repeat rate), rate change (the EWMA slope in learned units), envelope (distance
outside the range learned for the mode) and trend (the level residual smoothed again, in its
own learned units: a slow ramp shows in it a minute or two before it shows in the fast one).

After a mode change the bank fits each tag's settling as a first-order approach to a new level
(:meth:`SignalBank._relax_fit`, time constants learned per tag and mode across changes); the
level and drift baselines then follow that expected relaxation, so what is left is judged.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from copilot.anomaly.calibrate import BINS, PENDING_STAGES, Persistence, bin_of, thresholds
from copilot.anomaly.config import DETECTORS, AnomalyConfig

__all__ = ["LEARNED_FIELDS", "LIVE_FIELDS", "SignalBank"]

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
D = len(DETECTORS)
LEVEL, DRIFT, VARIANCE, STUCK, RATE, ENVELOPE, TREND = range(D)
_MAD = 1.2533  # mean absolute deviation → standard deviation for a normal distribution
RELAX_FIRST_S = 40.0  # after a mode change, the fast EWMA is kept from then on...
RELAX_EVERY_S = 20.0  # ...this often...
RELAX_SAMPLES = 49  # ...this many times (16 min), for fitting the relaxation

LEARNED_FIELDS = (
    "count",
    "mean",
    "noise_abs",
    "level_abs",
    "ref_abs",
    "step_sq",
    "rate_abs",
    "trend_abs",
    "repeat",
    "low",
    "high",
    "hist",
    "thr",
    "feedback",
    "relax_tau",
    "relax_count",
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
    "trend_ew",
    "slow_n",
    "run",
    "cusum_pos",
    "cusum_neg",
    "settled",
    "relax_on",
    "relax_t0",
    "relax_off0",
    "relax_target",
    "relax_tau_now",
    "relax_pts",
    "offset",
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
        self.trend_abs = np.zeros(shape)
        self.repeat = np.zeros(shape)
        self.low = np.full(shape, np.inf)
        self.high = np.full(shape, -np.inf)
        self.hist = np.zeros((modes, D, n, BINS), dtype=np.float32)
        # Samples seen live wait PENDING_STAGES recalibrations before they count (dropped for
        # a tag that raises an alert meanwhile: what led up to an anomaly is not normal).
        self.pending = np.zeros((PENDING_STAGES, D, n, BINS), dtype=np.float32)
        self.pending_mode = -1
        self.thr = np.full((modes, D, n), np.inf)
        self.feedback = np.ones((modes, D, n))
        # Settling after a mode change, modelled as a first-order approach to a new level:
        # the time constant each tag showed after past changes into each mode (geometric mean).
        self.relax_tau = np.zeros(shape)
        self.relax_count = np.zeros(shape)
        self.fast = np.zeros(n)
        self.slow = np.zeros(n)
        self.ref = np.zeros(n)
        self.prev = np.zeros(n)
        self.prev_t = np.zeros(n, dtype=np.int64)
        self.seen = np.zeros(n, dtype=bool)
        self.step_ew = np.zeros(n)
        self.rate_ew = np.zeros(n)
        self.trend_ew = np.zeros(n)
        self.slow_n = np.zeros(n)
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
        # The current relaxation: offset from the expected level at relax_t0, decaying with
        # relax_tau_now; relax_pts holds the fast EWMA every RELAX_EVERY_S after the change.
        self.relax_on = np.zeros(n, dtype=bool)
        self.relax_t0 = np.zeros(n, dtype=np.int64)
        self.relax_off0 = np.zeros(n)
        self.relax_target = np.zeros(n)
        self.relax_tau_now = np.ones(n)
        self.relax_pts = np.zeros((n, RELAX_SAMPLES))
        self.relax_change_t = 0
        self.relax_stage = RELAX_SAMPLES
        self.offset = np.zeros(n)
        # Where each tag's fast EWMA went, live and calm, since the last recalibration (mode
        # seen_mode): the envelope widens toward it, a little at a time.
        self.seen_low = np.full(n, np.inf)
        self.seen_high = np.full(n, -np.inf)
        self.seen_mode = -1

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

    def trend_scale(self, m: int) -> F64:
        """Scale of the smoothed level residual in mode ``m`` (floored)."""
        return np.asarray(np.maximum(_MAD * self.trend_abs[m], self.floor))

    def quiet(self, m: int) -> bool:
        """Whether every tag has settled and no modelled relaxation has far to go."""
        if not self.settled.all():
            return False
        if not self.relax_on.any():
            return True
        return bool((np.abs(self.offset) <= self.scales(m)[1]).all())

    def varying(self, m: int) -> B:
        """Tags that move in mode ``m`` (a constant one, e.g. a setpoint, is not watched)."""
        return np.asarray((self.count[m] > 0) & (self.step_sq[m] > (1e-3 * self.floor) ** 2))

    def commit(self, m: int) -> None:
        """Live samples that waited long enough with no alert join mode ``m``'s histograms."""
        if self.pending_mode == m:
            self.hist[m] += self.pending[-1]
            self.pending[1:] = self.pending[:-1].copy()
            self.pending[0] = 0.0

    def calibrate(self, m: int, p_target: float) -> None:
        """Recompute mode ``m``'s thresholds from its histograms for ``p_target`` per sample."""
        floors = np.array([self.cfg.min_threshold.get(d, 1.0) for d in DETECTORS])[:, None]
        thr = thresholds(self.hist[m].astype(np.float64), p_target, floors)
        # Stuck: the probability of the run is known exactly from the repeat rate.
        thr[STUCK] = max(-np.log10(p_target), floors[STUCK, 0])
        thr[ENVELOPE] = self.cfg.envelope_threshold
        scale = np.array([self.cfg.scale_of(d) for d in DETECTORS])[:, None]
        thr = thr * scale * self.feedback[m]
        thr[~self.enabled] = np.inf
        self.thr[m] = thr
        self._grow_envelope(m)

    def _grow_envelope(self, m: int) -> None:
        """Widen mode ``m``'s envelope toward the calm live range, by ``envelope_grow`` units.

        Learning sees a mode for half an hour; a slow process wanders wider over a day. A tag
        may move the envelope at most ``envelope_grow`` units per recalibration, so a fault
        that moves faster than that still leaves it.
        """
        grow = self.cfg.envelope_grow
        if grow > 0.0 and self.seen_mode == m and np.isfinite(self.seen_high).any():
            width = np.maximum(self.high[m] - self.low[m], 0.0)
            unit = np.maximum(np.maximum(self.scales(m)[0], 0.05 * width), self.floor)
            ok = np.isfinite(self.seen_high) & np.isfinite(width)
            step = grow * unit
            low = np.maximum(self.seen_low, self.low[m] - step)
            high = np.minimum(self.seen_high, self.high[m] + step)
            self.low[m] = np.where(ok, np.minimum(self.low[m], low), self.low[m])
            self.high[m] = np.where(ok, np.maximum(self.high[m], high), self.high[m])
        self.seen_low[:] = np.inf
        self.seen_high[:] = -np.inf
        self.seen_mode = m

    # -- one tick ----------------------------------------------------------------------------

    def reseed(self, mask: B | None = None) -> None:
        """Restart the baselines from the current reading (a mode change, a long gap)."""
        sel = np.ones(self.n, dtype=bool) if mask is None else mask
        self.slow = np.where(sel, self.fast, self.slow)
        self.ref = np.where(sel, self.fast, self.ref)
        self.cusum_pos = np.where(sel, 0.0, self.cusum_pos)
        self.cusum_neg = np.where(sel, 0.0, self.cusum_neg)
        self.rate_ew = np.where(sel, 0.0, self.rate_ew)
        self.trend_ew = np.where(sel, 0.0, self.trend_ew)
        self.slow_n = np.where(sel, 0.0, self.slow_n)

    def relax_start(self, t_ns: int) -> None:
        """A mode change at ``t_ns``: forget the old relaxation, sample the new one."""
        self.relax_on[:] = False
        self.offset[:] = 0.0
        self.relax_change_t = t_ns
        self.relax_stage = 0

    def _relax_track(self, m: int, t_now: int) -> None:
        """Keep the fast EWMA every ``RELAX_EVERY_S`` after a change; fit, then refit, on it.

        The first fit comes at the end of the settle time, refits every two samples until
        :data:`RELAX_SAMPLES` are kept (each on the whole stretch since the change, so the
        time constant and the target firm up as the relaxation goes on).
        """
        k = self.relax_stage
        due = self.relax_change_t + int((RELAX_FIRST_S + k * RELAX_EVERY_S) * 1e9)
        if t_now < due:
            return
        self.relax_pts[:, k] = self.fast
        self.relax_stage = k + 1
        first = max(int((self.cfg.settle_s - RELAX_FIRST_S) / RELAX_EVERY_S), 4)
        if k >= first and k % 2 == 0:
            self._relax_fit(m, t_now, k, final=k + 2 >= RELAX_SAMPLES)

    def _relax_fit(self, m: int, t_now: int, k: int, final: bool) -> None:
        """Three points of an exponential give its time constant and where it is heading.

        A tag that moved clearly (3 level scales), steadily slowing, and whose kept samples
        at a quarter and three quarters of the way lie on the fitted curve gets a time
        constant (blended, on the first fits, with the ones it showed after earlier changes
        into this mode) and a target; from then on its baselines follow the expected
        relaxation and the detectors see what is left. A tag that fails keeps its last model.
        """
        hist = self.relax_pts
        x0, x1, x2 = hist[:, 0], hist[:, k // 2], hist[:, k]
        h = RELAX_EVERY_S * (k // 2)
        d1, d2 = x1 - x0, x2 - x1
        learned = self.count > 0
        s_any = np.where(learned, _MAD * self.level_abs, 0.0).max(axis=0)
        s = np.maximum(np.maximum(_MAD * self.level_abs[m], s_any), self.floor)
        big = (np.abs(x2 - x0) > 3.0 * s) & (np.abs(d1) > 1.5 * s)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(big, d2 / np.where(d1 == 0.0, 1.0, d1), 0.0)
        ok_r = big & (r > 0.02) & (r < 0.97)
        tau_fit = -h / np.log(np.where(ok_r, r, 0.5))
        lt, lc = self.relax_tau[m], self.relax_count[m]
        w = np.minimum(lc, 2.0) * (self.cfg.settle_s / max(2.0 * h, 1.0))
        log_lt = np.log(np.maximum(lt, 1e-3))
        log_fit = np.log(np.maximum(tau_fit, 1e-3))
        tau_use = np.exp((log_fit + w * log_lt) / (1.0 + w))
        r_use = np.exp(-h / tau_use)
        target = (x2 - r_use * x1) / np.maximum(1.0 - r_use, 1e-6)
        off = x2 - target
        usable = ok_r & (np.abs(off) <= 6.0 * np.abs(x2 - x0))
        usable &= tau_fit <= 4.0 * self.cfg.settle_max_s
        # What past changes into this mode showed: a time constant far from theirs, or a
        # target outside what this mode looked like, is not a relaxation (a fault ramping
        # while the machine settles, say) and keeps the last model.
        usable &= (lc == 0) | ((tau_fit > 0.5 * lt) & (tau_fit < 2.0 * lt))
        width = np.maximum(self.high[m] - self.low[m], 0.0)
        slack = np.maximum(width, 10.0 * s)
        known = self.count[m] > 0
        usable &= ~known | ((target > self.low[m] - slack) & (target < self.high[m] + slack))
        for j in (k // 4, (3 * k) // 4):
            pred = target + (x0 - target) * np.exp(-RELAX_EVERY_S * j / tau_use)
            usable &= np.abs(hist[:, j] - pred) <= 2.0 * s + 0.05 * np.abs(x2 - x0)
        if final:
            self.relax_tau[m] = np.where(usable, np.exp((log_fit + lc * log_lt) / (1.0 + lc)), lt)
            self.relax_count[m] = np.where(usable, np.minimum(lc + 1.0, 20.0), lc)
        # A refit re-aligns the baselines with what the old model got wrong (the expected level
        # now is the reading now), so its errors do not pile up as a drift.
        if self.relax_on.any():
            age = np.maximum((t_now - self.relax_t0) / 1e9, 0.0)
            old = self.relax_target + self.relax_off0 * np.exp(-age / self.relax_tau_now)
            miss = np.where(usable & self.relax_on, x2 - old, 0.0)
            self.slow += miss
            self.ref += miss
        self.relax_on |= usable
        self.relax_t0 = np.where(usable, t_now, self.relax_t0)
        self.relax_off0 = np.where(usable, off, self.relax_off0)
        self.relax_target = np.where(usable, target, self.relax_target)
        self.offset = np.where(usable, off, self.offset)
        self.relax_tau_now = np.where(usable, tau_use, self.relax_tau_now)
        self.settled |= usable

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
        if self.relax_stage < RELAX_SAMPLES:
            self._relax_track(m, int(t_ns.max()))
        # The expected relaxation after a mode change: the level and drift baselines follow it
        # (and the rate detector sees the slope without it).
        slope: F64 | float = 0.0
        relaxing = bool(self.relax_on.any())
        if relaxing:
            age = np.maximum((t_ns - self.relax_t0) / 1e9, 0.0)
            off = self.relax_off0 * np.exp(-age / self.relax_tau_now)
            incr = np.where(go & self.relax_on, off - self.offset, 0.0)
            self.slow += incr
            self.ref += incr
            self.offset = np.where(self.relax_on, off, 0.0)
            slope = -self.offset / self.relax_tau_now
        noise, s_lvl, s_ref, s_step, s_rate = self.scales(m)
        if relaxing:  # a relaxation within 1 % of a level scale of its end is over
            done = self.relax_on & (np.abs(self.offset) < 0.01 * s_lvl)
            if done.any():
                self.relax_on &= ~done
                self.offset[done] = 0.0
        level_dev = self.fast - self.slow
        ref_dev = self.fast - self.ref
        frozen = (
            self.persist.active[LEVEL] | self.persist.active[DRIFT] | self.persist.active[TREND]
        )
        upd = go & ~frozen
        # Restarted from one (noisy) reading, the baseline is the running mean of the fast EWMA
        # until that is as slow as its time constant: the restart's error would otherwise sit
        # in the level residual for minutes, and the trend detector would see it.
        a_slow = np.maximum(alpha(cfg.slow_tau_s), np.where(go, 1.0 / (self.slow_n + 2.0), 0.0))
        self.slow += np.where(upd, a_slow, 0.0) * np.clip(level_dev, -4.0 * s_lvl, 4.0 * s_lvl)
        self.slow_n += upd
        self.ref += np.where(upd, alpha(cfg.ref_tau_s), 0.0) * np.clip(
            ref_dev, -4.0 * s_ref, 4.0 * s_ref
        )
        self.step_ew += alpha(cfg.variance_tau_s) * (step * step - self.step_ew)
        self.rate_ew += alpha(cfg.rate_tau_s) * (step / dt - slope - self.rate_ew)
        # Trend: the level residual (what the baseline and any modelled relaxation leave)
        # smoothed again, so a slow ramp stands out of the noise long before the fast one does.
        self.trend_ew += alpha(cfg.trend_tau_s) * (level_dev - self.trend_ew)
        self.run = np.where(go, np.where(step == 0.0, self.run + 1.0, 0.0), self.run)
        self.prev = xs
        self.prev_t = np.where(go, t_ns, self.prev_t)

        if phase in ("learning", "calibrating"):
            self._learn(m, go, step, xs)
            noise, s_lvl, s_ref, s_step, s_rate = self.scales(m)
        s_trend = self.trend_scale(m)

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
                self.trend_ew / s_trend,
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
                np.abs(self.trend_ew) / s_trend,
            ]
        )
        stat[ENVELOPE] = np.where(np.isfinite(width), stat[ENVELOPE], 0.0)
        watch = go & self.varying(m)
        # A sample-and-hold tag (last cycle's time, last shot's peak) only has an envelope.
        held = self.repeat[m] >= 0.5
        cells = np.broadcast_to(watch, (D, self.n)).copy()
        cells[:ENVELOPE] &= ~held
        cells[TREND] &= ~held
        if phase == "calibrating":
            self._fill(self.hist[m], stat, cells)
        if phase != "live":
            nothing = np.zeros((D, self.n), dtype=bool)
            self.since = np.where(cells, np.broadcast_to(t_ns, (D, self.n)), self.since)
            return stat, sigma, nothing, nothing
        thr = self.thr[m]
        age_s = (int(t_ns.max()) - self.relax_change_t) / 1e9
        if self.relax_change_t and age_s < cfg.trend_fade_s and self.relax_stage > 0:
            # What is left of a settling that was not modelled moves on slowly the way the
            # change sent it, for minutes: in that direction the trend's threshold starts
            # higher and fades back to normal (the other direction is judged as usual).
            onward = np.sign(self.trend_ew) == np.sign(self.fast - self.relax_pts[:, 0])
            thr = thr.copy()
            thr[TREND] *= np.where(
                onward, 1.0 + cfg.trend_fade_factor * (1.0 - age_s / cfg.trend_fade_s), 1.0
            )
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
        if relaxing:
            # While a modelled relaxation still has a way to go, the envelope waits for it.
            cells[ENVELOPE] &= ~(self.relax_on & (np.abs(self.offset) > s_lvl))
        calm = cells & (stat < thr) & ~self.persist.active
        if self.pending_mode != m:
            self.pending[...] = 0.0
            self.pending_mode = m
        self._fill(self.pending[0] if cfg.quarantine else self.hist[m], stat, calm)
        if cfg.envelope_grow > 0.0:
            if self.seen_mode != m:
                self.seen_low[:] = np.inf
                self.seen_high[:] = -np.inf
                self.seen_mode = m
            ok = calm[ENVELOPE] & ~self.persist.active.any(axis=0)
            self.seen_low = np.where(ok, np.minimum(self.seen_low, self.fast), self.seen_low)
            self.seen_high = np.where(ok, np.maximum(self.seen_high, self.fast), self.seen_high)
        quiet = stat <= 0.5 * thr
        quiet[DRIFT] = stat[DRIFT] <= 1e-9
        self.since = np.where(cells & quiet, np.broadcast_to(t_ns, (D, self.n)), self.since)
        raised, cleared = self.persist.update(stat, thr, cells, int(t_ns.max()))
        if raised.any():
            self.pending[:, :, raised.any(axis=0)] = 0.0
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
        self.trend_abs[m] += a * (np.abs(self.trend_ew) - self.trend_abs[m])
        self.repeat[m] += a * ((step == 0.0) - self.repeat[m])
        self.low[m] = np.where(go, np.minimum(self.low[m], self.fast), self.low[m])
        self.high[m] = np.where(go, np.maximum(self.high[m], self.fast), self.high[m])

    @staticmethod
    def _fill(hist: npt.NDArray[np.float32], stat: F64, cells: B) -> None:
        det, tag = np.nonzero(cells)
        if det.size:
            np.add.at(hist, (det, tag, bin_of(stat[det, tag])), 1.0)
