"""One machine's detectors: its tags sorted out, its mode followed, its batches run tick by tick.

:class:`MachineDetectors` is built from a BIRTH. Analog tags (``float``, not an energy meter or
counter) go to a :class:`~copilot.anomaly.signals.SignalBank` and a
:class:`~copilot.anomaly.multivariate.MvBank`; every tag but ``state`` is watched for dropout.
The ``state`` enum tag is the mode: each mode has its own baselines, learned for
``warmup_s`` of settled time (the first half learns scales, the second fills the calibration
histograms). A mode change is not an anomaly: for ``settle_s`` after one, the filters follow
the readings and nothing is decided; paused modes (fault, maintenance) decide nothing at all.
A batch is cut into ticks (the r-th sample of every tag), so the Python loop runs once per
tick, never per sample.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from copilot.anomaly.alerts import AlertChange, DetectorStatus, TagBaseline
from copilot.anomaly.config import DETECTORS, AnomalyConfig
from copilot.anomaly.multivariate import MvBank
from copilot.anomaly.signals import SignalBank
from copilot.anomaly.wording import (
    duration_words,
    multivariate_sentence,
    signal_sentence,
    signal_words,
)
from copilot.protocol.messages import Birth, TagSpec

__all__ = ["MachineDetectors", "analog"]

F64 = npt.NDArray[np.float64]
_BAD = 0x80
_GAP_NS = 30_000_000_000  # a gap this long in a machine's data: settle again
_SEC = 1_000_000_000


def analog(tag: TagSpec) -> bool:
    """Whether a tag is watched by the per-signal detectors (a float, not a meter)."""
    if tag.type != "float":
        return False
    rng = tag.eng_range
    return not (rng is not None and rng.hi - rng.lo >= 1e6)


def _resolution(tag: TagSpec) -> float:
    rng = tag.eng_range
    span = (rng.hi - rng.lo) if rng is not None else 1.0
    return max(1e-6 * span, 1e-9)


class MachineDetectors:
    """Everything one machine's detectors know and do."""

    def __init__(self, birth: Birth, config: AnomalyConfig) -> None:
        self.birth = birth
        self.cfg = config
        self.id = birth.machine.id
        self.label = birth.machine.name or birth.machine.id
        size = max((t.alias for t in birth.tags), default=-1) + 1
        self.state_alias = -1
        self.modes: list[str] = ["normal"]
        for t in birth.tags:
            if t.name == "state" and t.type == "enum" and t.labels:
                self.state_alias = t.alias
                self.modes = list(t.labels)
        self.paused = np.array([m in config.paused_modes for m in self.modes])
        self.tags = [t for t in birth.tags if analog(t)]
        self.names = [t.name for t in self.tags]
        self.words = [signal_words(t.description, t.name) for t in self.tags]
        self.slot = np.full(size, -1, dtype=np.intp)
        for i, t in enumerate(self.tags):
            self.slot[t.alias] = i
        spans = np.array(
            [(t.eng_range.hi - t.eng_range.lo) if t.eng_range else 1.0 for t in self.tags]
        )
        res = np.array([_resolution(t) for t in self.tags])
        nm = len(self.modes)
        self.signals = SignalBank(spans, res, nm, config)
        self.mv = MvBank(len(self.tags), nm, config)
        self.learned_s = np.zeros(nm)
        self.learned = np.zeros(nm, dtype=bool)
        self.since_calibration_s = np.zeros(nm)
        self.alerts_raised: dict[str, int] = {}
        # Dropout: every tag but the mode.
        self.others = [t for t in birth.tags if t.alias != self.state_alias]
        self.oslot = np.full(size, -1, dtype=np.intp)
        for i, t in enumerate(self.others):
            self.oslot[t.alias] = i
        self.last_good = np.zeros(len(self.others), dtype=np.int64)
        self.last_seen = 0  # the newest sample time of any tag (data time, not the hub's clock)
        self.bad_run = np.zeros(len(self.others), dtype=np.int64)
        self.drop_active = np.zeros(len(self.others), dtype=bool)
        self.drop_since = np.zeros(len(self.others), dtype=np.int64)
        self.mode = -1
        self.mode_since = 0
        self.settle_until = 0
        self.last_t = 0
        self.x = np.zeros(len(self.tags))

    # -- budget ----------------------------------------------------------------------------

    def p_target(self) -> float:
        """Per-sample exceedance probability one statistic may have within the budget."""
        stats = max(1, len(self.tags) * len(DETECTORS) + 2)
        rate_hz = 1.0  # samples per second per tag, as the eval and the default agents send
        per_hour = self.cfg.alerts_per_machine_hour / stats
        return float(per_hour * self.cfg.cluster_samples / (3600.0 * rate_hz))

    # -- data ------------------------------------------------------------------------------

    def on_samples(
        self,
        aliases: npt.NDArray[np.int64],
        ts_ns: npt.NDArray[np.int64],
        values: F64,
        quality: npt.NDArray[np.uint8] | None,
    ) -> list[AlertChange]:
        """Run one DATA batch (time-ordered) through the detectors."""
        out: list[AlertChange] = []
        if aliases.size == 0:
            return out
        ok = np.isfinite(values)
        if quality is not None and quality.size == values.size:
            ok &= quality < _BAD
        inside = (aliases >= 0) & (aliases < self.slot.size)
        aliases, ts_ns, values, ok = aliases[inside], ts_ns[inside], values[inside], ok[inside]
        order = np.argsort(aliases, kind="stable")
        sorted_alias = aliases[order]
        starts = np.searchsorted(sorted_alias, sorted_alias, side="left")
        rank = np.empty(aliases.size, dtype=np.int64)
        rank[order] = np.arange(aliases.size) - starts
        top = int(rank.max()) if rank.size else -1
        if top == 0:
            self._tick(aliases, ts_ns, values, ok, out)
            return out
        for r in range(top + 1):
            sel = rank == r
            self._tick(aliases[sel], ts_ns[sel], values[sel], ok[sel], out)
        return out

    def _tick(
        self,
        aliases: npt.NDArray[np.int64],
        ts: npt.NDArray[np.int64],
        values: F64,
        ok: npt.NDArray[np.bool_],
        out: list[AlertChange],
    ) -> None:
        t_now = int(ts.max())
        if self.last_t and t_now - self.last_t > _GAP_NS:
            self.settle_until = t_now + int(self.cfg.settle_s * _SEC)
            self.signals.reseed()
        if self.state_alias >= 0:
            at = np.flatnonzero((aliases == self.state_alias) & ok)
            if at.size:
                k = int(values[at[-1]])
                if 0 <= k < len(self.modes) and k != self.mode:
                    self._mode_change(k, int(ts[at[-1]]), out)
        elif self.mode < 0:
            self._mode_change(0, t_now, out)
        dt_s = (t_now - self.last_t) / 1e9 if self.last_t else 0.0
        self.last_t = t_now
        self._dropout(aliases, ts, ok, out)
        m = self.mode
        if m < 0 or self.paused[m]:
            return
        slots = self.slot[aliases]
        mine = slots >= 0
        n = len(self.tags)
        valid = np.zeros(n, dtype=bool)
        t_tag = np.full(n, t_now, dtype=np.int64)
        x = self.x
        sl = slots[mine]
        x[sl] = values[mine]
        valid[sl] = ok[mine]
        t_tag[sl] = ts[mine]
        settling = t_now < self.settle_until
        late = t_now >= self.mode_since + int(self.cfg.settle_max_s * _SEC)
        mv_late = t_now >= self.mode_since + int(self.cfg.mv_settle_max_s * _SEC)
        if late:
            self.signals.settled[:] = True
        if settling:
            phase = "settling"
        elif not self.learned[m]:
            self.learned_s[m] += min(dt_s, 10.0)
            phase = "calibrating" if self.learned_s[m] >= 0.5 * self.cfg.warmup_s else "learning"
        else:
            phase = "live"
        _, sigma, raised, cleared = self.signals.step(m, t_tag, x, valid, phase)
        fast = self.signals.fast
        all_ok = bool(valid[self.signals.varying(m)].all()) if n else False
        if phase in ("learning", "calibrating"):
            self.mv.collect(m, t_now, fast.copy(), all_ok)
            if self.learned_s[m] >= self.cfg.warmup_s:
                self._finish_learning(m)
            return
        if phase == "live":
            self.since_calibration_s[m] += min(dt_s, 10.0)
            if self.since_calibration_s[m] >= self.cfg.recalibrate_s:
                self.signals.commit(m)
                self.mv.commit(m)
                self._calibrate(m)
        if raised.any() or cleared.any():
            self._signal_changes(m, t_now, sigma, raised, cleared, out)
        if self.cfg.multivariate:
            t2, spe, up, down = self.mv.step(
                m, t_now, fast, all_ok, phase == "live" and (mv_late or self.signals.quiet(m))
            )
            if up or down:
                self._mv_change(m, t_now, t2, spe, up, out)

    # -- modes and learning ------------------------------------------------------------------

    def _mode_change(self, k: int, t_ns: int, out: list[AlertChange]) -> None:
        first = self.mode < 0
        self.mode = k
        self.mode_since = t_ns
        if not first:
            self.settle_until = t_ns + int(self.cfg.settle_s * _SEC)
            self.signals.settled[:] = False
            self.signals.anchor_t[:] = 0
            self.signals.relax_start(t_ns)
        self._clear_all(t_ns, out)

    def _clear_all(self, t_ns: int, out: list[AlertChange]) -> None:
        """A mode change ends the per-signal and multivariate alerts (dropout stays)."""
        det, tag = np.nonzero(self.signals.persist.active)
        for d, i in zip(det.tolist(), tag.tolist(), strict=True):
            out.append(self._change(DETECTORS[d], i, False, t_ns, 0.0, ""))
        self.signals.persist.reset()
        if self.mv.persist.active[0]:
            out.append(AlertChange(self.id, "multivariate", "-", False, t_ns, self.mv.since))
        self.mv.persist.reset()

    def _finish_learning(self, m: int) -> None:
        self.learned[m] = True
        if self.cfg.multivariate:
            self.mv.fit(m, self.signals.varying(m), self.signals.floor)
        self._calibrate(m)

    def _calibrate(self, m: int) -> None:
        self.since_calibration_s[m] = 0.0
        p = self.p_target()
        self.signals.calibrate(m, p)
        self.mv.calibrate(m, p)

    def learning_left_s(self) -> float:
        """Settled time the current mode still needs before its detectors decide."""
        m = self.mode
        if m < 0 or self.paused[m]:
            return 0.0
        return max(0.0, self.cfg.warmup_s - float(self.learned_s[m]))

    # -- dropout -----------------------------------------------------------------------------

    def _dropout(
        self,
        aliases: npt.NDArray[np.int64],
        ts: npt.NDArray[np.int64],
        ok: npt.NDArray[np.bool_],
        out: list[AlertChange],
    ) -> None:
        slots = self.oslot[aliases]
        mine = slots >= 0
        sl, good, t = slots[mine], ok[mine], ts[mine]
        self.last_good[sl[good]] = t[good]
        self.bad_run[sl[good]] = 0
        bad = sl[~good]
        self.bad_run[bad] += 1
        start = bad[self.bad_run[bad] == 1]
        self.drop_since[start] = t[~good][self.bad_run[bad] == 1]
        self.last_seen = max(self.last_seen, int(ts.max()))
        self._drop_update(int(ts.max()), self.bad_run >= self.cfg.dropout_bad_samples, out)

    def tick(self, now_ns: int) -> list[AlertChange]:
        """Time passes: tags with no fresh Good reading for ``dropout_after_s`` are dropouts.

        "Fresh" is measured against the machine's own newest sample (never later than
        ``now_ns``), not the clock alone: a tag is a dropout when the machine's other tags went
        on reporting without it. A machine that went silent as a whole, or a hub running
        behind its queue, is not a dropout of each of its tags — the hub's liveness check
        (a machine offline) and its drop counters say that, once.
        """
        out: list[AlertChange] = []
        ref = min(now_ns, self.last_seen)
        seen = self.last_good > 0
        late = seen & (ref - self.last_good > int(self.cfg.dropout_after_s * _SEC))
        fresh_start = late & ~self.drop_active & (self.bad_run == 0)
        self.drop_since[fresh_start] = self.last_good[fresh_start]
        self._drop_update(now_ns, late | (self.bad_run >= self.cfg.dropout_bad_samples), out)
        return out

    def _drop_update(self, t_ns: int, lost: npt.NDArray[np.bool_], out: list[AlertChange]) -> None:
        if self.mode >= 0 and self.paused[self.mode]:
            lost = np.zeros_like(lost)
        up = lost & ~self.drop_active
        down = self.drop_active & ~lost & (self.bad_run == 0)
        self.drop_active = (self.drop_active | up) & ~down
        for i in np.flatnonzero(up | down).tolist():
            tag = self.others[i]
            active = bool(up[i])
            since = int(self.drop_since[i])
            words = signal_words(tag.description, tag.name)
            msg = ""
            if active:
                msg = signal_sentence(
                    self.label,
                    "dropout",
                    words,
                    self._mode_name(),
                    0.0,
                    (t_ns - since) / 1e9,
                    [],
                )
                self._count(f"dropout:{tag.name}")
            out.append(
                AlertChange(
                    self.id,
                    f"dropout:{tag.name}",
                    tag.name,
                    active,
                    t_ns,
                    since,
                    confidence=0.99 if active else 0.0,
                    message=msg,
                )
            )

    # -- alert changes -------------------------------------------------------------------------

    def _mode_name(self) -> str:
        return self.modes[self.mode] if self.mode >= 0 else "usual"

    def _count(self, name: str) -> None:
        self.alerts_raised[name] = self.alerts_raised.get(name, 0) + 1

    def _change(
        self,
        det: str,
        i: int,
        active: bool,
        t_ns: int,
        sigma: float,
        msg: str,
        confidence: float = 0.0,
        signals: list[str] | None = None,
    ) -> AlertChange:
        d = DETECTORS.index(det)
        return AlertChange(
            self.id,
            f"{det}:{self.names[i]}",
            self.names[i],
            active,
            t_ns,
            int(self.signals.since[d, i]),
            round(sigma, 2),
            round(confidence, 3),
            signals or [self.names[i]],
            msg,
        )

    def _signal_changes(
        self,
        m: int,
        t_ns: int,
        sigma: F64,
        raised: npt.NDArray[np.bool_],
        cleared: npt.NDArray[np.bool_],
        out: list[AlertChange],
    ) -> None:
        thr = self.signals.thr[m]
        level = sigma[0]
        for d, i in zip(*np.nonzero(cleared), strict=True):
            out.append(self._change(DETECTORS[d], int(i), False, t_ns, 0.0, ""))
        for d, i in zip(*np.nonzero(raised), strict=True):
            det = DETECTORS[d]
            s = float(sigma[d, i])
            if det == "stuck":
                s = 0.0
            stat_ratio = abs(s) / thr[d, i] if det not in ("stuck", "variance") else 1.2
            confidence = 1.0 - 0.5 * math.exp(-2.0 * max(0.0, stat_ratio - 1.0))
            same = np.sign(level) == np.sign(level[i])
            follow = np.flatnonzero((np.abs(level) > 0.5 * thr[0]) & np.isfinite(thr[0]) & same)
            followers = [self.words[j] for j in follow.tolist() if j != i][:2]
            since = int(self.signals.since[d, i])
            shown = s
            msg = signal_sentence(
                self.label,
                det,
                self.words[i],
                self.modes[m],
                shown,
                (t_ns - since) / 1e9,
                followers,
            )
            self._count(f"{det}:{self.names[i]}")
            out.append(self._change(det, int(i), True, t_ns, s, msg, confidence, [self.names[i]]))

    def _mv_change(
        self, m: int, t_ns: int, t2: float, spe: float, up: bool, out: list[AlertChange]
    ) -> None:
        since = self.mv.since
        if not up:
            out.append(AlertChange(self.id, "multivariate", "-", False, t_ns, since))
            return
        contrib = self.mv.last_contrib
        top = [int(j) for j in np.argsort(contrib)[::-1][:3] if contrib[j] > 0]
        total = float(contrib.sum()) or 1.0
        top = [j for j in top if contrib[j] >= 0.1 * total] or top[:1]
        ratio = max(t2, spe)
        msg = multivariate_sentence(
            self.label,
            self.modes[m],
            ratio,
            spe >= t2,
            [self.words[j] for j in top],
            (t_ns - since) / 1e9,
        )
        self._count("multivariate")
        out.append(
            AlertChange(
                self.id,
                "multivariate",
                "-",
                True,
                t_ns,
                since,
                round(ratio, 2),
                round(1.0 - 0.5 * math.exp(-2.0 * max(0.0, ratio - 1.0)), 3),
                [self.names[j] for j in top],
                msg,
            )
        )

    # -- status --------------------------------------------------------------------------------

    def status(self) -> DetectorStatus:
        """What this machine's detectors learned, per mode and tag, and their thresholds."""
        mode = self._mode_name()
        left = self.learning_left_s()
        learning = left > 0
        if self.mode >= 0 and self.paused[self.mode]:
            text = f"paused in {mode}"
        elif learning:
            text = f"learning normal: {duration_words(left)} left"
        else:
            text = f"watching ({mode} baseline learned)"
        tags: list[TagBaseline] = []
        sig = self.signals
        for m, name in enumerate(self.modes):
            if not self.learned[m]:
                continue
            noise = sig.scales(m)[0]
            for i, t in enumerate(self.names):
                if sig.count[m, i] == 0:
                    continue
                thr = {
                    d: round(float(sig.thr[m, k, i]), 3)
                    for k, d in enumerate(DETECTORS)
                    if math.isfinite(sig.thr[m, k, i])
                }
                tags.append(
                    TagBaseline(
                        t,
                        name,
                        round(float(sig.mean[m, i]), 4),
                        round(float(noise[i]), 4),
                        round(float(sig.low[m, i]), 4),
                        round(float(sig.high[m, i]), 4),
                        thr,
                    )
                )
        mv = {}
        if self.mode >= 0:
            for j, what in enumerate(("t2", "spe")):
                v = float(self.mv.thr[self.mode, j])
                if math.isfinite(v):
                    mv[what] = round(v, 3)
        return DetectorStatus(
            self.id,
            mode,
            learning,
            round(left, 1),
            text,
            [n for m, n in enumerate(self.modes) if self.learned[m]],
            tags,
            dict(self.alerts_raised),
            mv,
        )
