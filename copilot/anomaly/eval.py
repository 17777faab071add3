"""``copilot anomaly eval``: the detectors scored on the simulator, per fault event.

Each machine of a six-machine plant (one of every kind) is driven directly (no sockets), one
sample per tag per simulated second, faster than real time. A scripted warm-up visits running,
idle and setup so every mode is learned; the learned engine state is then branched (its
:meth:`~copilot.anomaly.engine.AnomalyEngine.state` restored into a fresh engine, the machine
deep-copied) into

* a long **normal** run with the machine changing mode on its own: alerts there are false
  alerts, per machine-hour;
* **fault scenarios**: every fault kind that applies to the machine, at several severities, in
  the modes where its physics acts, after a normal lead-in of random length (alerts in the
  lead-in are false alerts too). Each scenario's machine copy is reseeded
  (:func:`lead_in_seed`), so the lead-ins are independent samples of normal operation, not
  replays of one random stream. An event is detected if an alert on that machine fires between
  the onset and the onset plus the kind's window; the delay is from the onset.

Seeds: :data:`TUNING_SEEDS` are the only ones thresholds were tuned on; :data:`SCORED_SEEDS`
are what the figures report. They never overlap.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Literal

import msgspec
import numpy as np

from copilot.anomaly.advice import F64, Projector, Window, projectable
from copilot.anomaly.config import AnomalyConfig
from copilot.anomaly.engine import AnomalyEngine
from copilot.protocol.messages import Birth, TagSpec
from copilot.sim.faults import APPLICABLE_FAULTS, FAULT_KINDS
from copilot.sim.models import MODEL_CLASSES, MachineModel

__all__ = [
    "ABRUPT",
    "GRADUAL",
    "SCORED_SEEDS",
    "TUNING_SEEDS",
    "EvalReport",
    "EventResult",
    "ProjectionCheck",
    "Scenario",
    "evaluate",
    "lead_in_seed",
    "scenarios_for",
]

TUNING_SEEDS: tuple[int, ...] = (11, 12, 13)
SCORED_SEEDS: tuple[int, ...] = (101, 102, 103)
assert not set(TUNING_SEEDS) & set(SCORED_SEEDS)

GRADUAL = frozenset({"bearing_wear", "overheating", "leak", "sensor_drift"})
ABRUPT = frozenset({"jam", "stuck_sensor", "dropout"})
WINDOW_S = {"gradual": 600.0, "abrupt": 60.0}
DURATION_S = {
    "bearing_wear": 900.0,
    "overheating": 600.0,
    "leak": 600.0,
    "sensor_drift": 900.0,
    "jam": 60.0,
    "stuck_sensor": 300.0,
    "dropout": 120.0,
}
SEVERITIES: dict[str, tuple[float, ...]] = {k: (0.3, 0.6, 0.9) for k in FAULT_KINDS}
SEVERITIES["sensor_drift"] = (0.05, 0.1, 0.2)  # of the span, over the 15-min duration
SEVERITIES["jam"] = (0.5, 1.0)
# Modes in which a fault's physics acts on the signals (models.py): process faults mostly act
# only while running; the press pump and the oven heaters run in idle and setup too.
FAULT_MODES: dict[str, tuple[str, ...]] = {
    "bearing_wear": ("running",),
    "overheating": ("running",),
    "leak": ("running",),
    "jam": ("running",),
    "sensor_drift": ("running", "idle", "setup"),
    "stuck_sensor": ("running", "idle", "setup"),
    "dropout": ("running", "idle", "setup"),
}
EXTRA_MODES = {("press", "leak"): ("idle",), ("oven", "overheating"): ("idle",)}
T0_NS = 1_700_000_000_000_000_000
PROJECTION_LEADS_S = (60.0, 120.0, 240.0, 480.0)
"""Projections are asked for this long before a limit crossing (if after onset + 60 s)."""
PROJECTION_MIN_AFTER_ONSET_S = 60.0
PROJECTION_TAIL_S = 600.0  # the machine runs on (without detectors) to see a late crossing
Size = Literal["full", "quick", "tiny"]
TINY_MACHINES = 2  # "tiny" (for tests): the first two machine kinds only


class Scenario(msgspec.Struct, frozen=True):
    """One fault event: kind, severity, the machine's mode, the normal lead-in before it."""

    kind: str
    severity: float
    mode: str
    lead_s: float


class EventResult(msgspec.Struct):
    """How one fault event was scored."""

    seed: int
    machine: str
    kind: str
    severity: float
    mode: str
    detected: bool
    delay_s: float | None
    first_alert: str = ""


class ProjectionCheck(msgspec.Struct):
    """One projection asked for before a limit crossing of a fault event, and how it did."""

    seed: int
    machine: str
    kind: str
    tag: str
    limit: str
    lead_s: float  # the actual time to the crossing when asked
    shown: bool  # a projection toward that limit was given
    eta_s: float | None = None
    lo_s: float | None = None
    hi_s: float | None = None
    inside: bool = False


class MachineRun(msgspec.Struct):
    """What one machine of one seed gave."""

    seed: int
    machine: str
    events: list[EventResult]
    normal_s: float
    false_alerts: int
    false_names: list[str]
    projections: list[ProjectionCheck] = []


class EvalReport(msgspec.Struct):
    """The eval's figures (JSON keys of ``copilot anomaly eval --json``)."""

    seeds: list[int]
    tuning_seeds: list[int]
    size: str
    events: int
    detection_rate: float
    detection_rate_by_fault: dict[str, float]
    events_by_fault: dict[str, int]
    false_alerts_per_machine_hour: float
    normal_machine_hours: float
    median_delay_s_gradual: float | None
    median_delay_s_abrupt: float | None
    p90_delay_s_gradual: float | None
    p90_delay_s_abrupt: float | None
    projection_coverage: float | None
    projection_coverage_reason: str
    projection_checks: int
    projection_shown_fraction: float | None
    false_alerts_by_detector: dict[str, int]
    missed: list[EventResult]


def scenarios_for(kind: str, seed: int, size: Size) -> list[Scenario]:
    """The fault events a machine of ``kind`` gets (lead-ins drawn from ``seed``)."""
    rng = np.random.default_rng([seed, 0xE7A1, MACHINE_ORDER.index(kind)])
    out: list[Scenario] = []
    for fault in FAULT_KINDS:
        if fault not in APPLICABLE_FAULTS[kind]:
            continue
        modes = FAULT_MODES[fault] + EXTRA_MODES.get((kind, fault), ())
        sevs = SEVERITIES[fault]
        if size != "full":
            sevs = sevs[len(sevs) // 2 : len(sevs) // 2 + 1]
            modes = modes[:1] if size == "tiny" else modes
        for mode in modes:
            for sev in sevs:
                out.append(Scenario(fault, sev, mode, float(rng.uniform(300.0, 1500.0))))
    return out


MACHINE_ORDER = list(MODEL_CLASSES)


def lead_in_seed(seed: int, index: int, number: int) -> tuple[int, int, int, int]:
    """The random stream of scenario ``number`` of machine ``index`` (from its lead-in on)."""
    return (seed, 0x1EAD, index, number)


class _Driver:
    """One machine fed to one engine, one sample per tag per simulated second."""

    def __init__(self, model: MachineModel, engine: AnomalyEngine, t: float) -> None:
        self.m, self.e, self.t = model, engine, t
        self.names = [tag.name for tag in model.tags]
        self.aliases = np.array([tag.alias for tag in model.tags], dtype=np.int64)
        self.alerts: list[tuple[float, str]] = []
        self.trace: list[tuple[float, np.ndarray]] | None = None

    def run(self, seconds: float, detect: bool = True) -> None:
        names = self.names
        n = len(names)
        mid = self.m.info.id
        end = self.t + seconds
        while self.t < end - 1e-9:
            self.t += 1.0
            v, q = self.m.step(self.t, 1.0)
            vals = np.array([math.nan if v[k] is None else float(v[k]) for k in names])  # type: ignore[arg-type]
            qual = np.array([q.get(k, 0) for k in names], dtype=np.uint8) if q else None
            if self.trace is not None:
                self.trace.append((self.t, vals))
            if not detect:
                continue
            ts = np.full(n, T0_NS + int(self.t * 1e9), dtype=np.int64)
            for a in self.e.on_samples(mid, self.aliases, ts, vals, qual):
                if a.active:
                    self.alerts.append((self.t, a.name))
            if int(self.t) % 5 == 0:
                for a in self.e.tick(int(ts[0])):
                    if a.active:
                        self.alerts.append((self.t, a.name))

    def command(self, name: str, **args: str) -> None:
        self.m.execute(name, args)


def _to_mode(d: _Driver, mode: str) -> None:
    """Put the machine in ``mode`` and keep it there (no autonomy)."""
    m = d.m
    m.autonomous = False
    if mode == "running":
        d.command("start")
    elif mode == "idle":
        d.command("stop")
        d.command("set_mode", mode="idle")
    else:
        d.command("stop")
        d.command("set_mode", mode="setup")


def _warm_up(d: _Driver) -> None:
    """Visit running, idle and setup long enough for each to be learned, then run on."""
    learn = d.e.config.warmup_s + d.e.config.settle_s + 120.0
    for mode in ("running", "idle", "setup", "running"):
        _to_mode(d, mode)
        d.run(learn if mode != "running" or d.t == 0.0 else 600.0)
    d.m.autonomous = True


def run_machine(seed: int, index: int, size: Size, config: AnomalyConfig) -> MachineRun:
    """Warm one machine up, then score its normal run and its fault scenarios."""
    cls = list(MODEL_CLASSES.values())[index]
    model = cls(1, seed=(seed, index), initial_state="running")
    kind = cls.KIND
    engine = AnomalyEngine(config)
    engine.on_birth(Birth(machine=model.info, tags=model.tags), T0_NS)
    d = _Driver(model, engine, 0.0)
    _warm_up(d)
    blob = engine.state()
    base_t = d.t
    snapshot = copy.deepcopy(model)
    normal_s = {"full": 4 * 3600.0, "quick": 3600.0, "tiny": 600.0}[size]
    d.alerts.clear()
    d.run(normal_s)
    false_names = [name for _, name in d.alerts]
    events: list[EventResult] = []
    projections: list[ProjectionCheck] = []
    for number, sc in enumerate(scenarios_for(kind, seed, size)):
        e = AnomalyEngine(config)
        e.restore(blob)
        # Each lead-in is its own sample of normal operation: the copied machine would
        # otherwise replay the snapshot's random stream, and one false alert early in it would
        # count once per lead-in.
        branch = copy.deepcopy(snapshot)
        branch.reseed(lead_in_seed(seed, index, number))
        dd = _Driver(branch, e, base_t)
        _to_mode(dd, sc.mode)
        limited = sc.kind in GRADUAL
        if limited:  # the history a station would have when projections are asked for
            dd.trace = []
        dd.run(sc.lead_s)
        false_names += [name for _, name in dd.alerts]
        normal_s += sc.lead_s
        dd.alerts.clear()
        onset = dd.t
        twin = copy.deepcopy(dd.m) if limited else None
        dd.m.inject_fault(sc.kind, sc.severity, onset, DURATION_S[sc.kind])
        window = WINDOW_S["gradual" if sc.kind in GRADUAL else "abrupt"]
        dd.run(window)
        if limited and dd.trace is not None and twin is not None:
            tail = DURATION_S[sc.kind] + PROJECTION_TAIL_S
            dd.run(max(tail - window, 0.0), detect=False)
            normal = _Driver(twin, e, onset)
            normal.trace = []
            normal.run(tail, detect=False)
            projections += _projections(
                seed, model.info.id, sc.kind, model.tags, dd.trace, normal.trace, onset
            )
        hits = [(t, name) for t, name in dd.alerts if onset <= t <= onset + window]
        events.append(
            EventResult(
                seed,
                model.info.id,
                sc.kind,
                sc.severity,
                sc.mode,
                bool(hits),
                hits[0][0] - onset if hits else None,
                hits[0][1] if hits else "",
            )
        )
    return MachineRun(
        seed, model.info.id, events, normal_s, len(false_names), false_names, projections
    )


def _crossing(t: np.ndarray, v: np.ndarray, limit: float, rising: bool) -> float | None:
    """The first time ``v`` is past ``limit`` (None: never)."""
    past = v >= limit if rising else v <= limit
    at = np.flatnonzero(past)
    return float(t[at[0]]) if at.size else None


def _window(t: np.ndarray, v: np.ndarray, now: float) -> Window:
    """A station's ``window(machine, tag, since)`` over a recorded trace, up to ``now``."""

    def window(_machine: str, _tag: str, since: float) -> tuple[F64, F64]:
        sel = (t >= since) & (t <= now)
        return t[sel], v[sel]

    return window


def _projections(
    seed: int,
    machine: str,
    kind: str,
    tags: Sequence[TagSpec],
    trace: list[tuple[float, np.ndarray]],
    twin: list[tuple[float, np.ndarray]],
    onset: float,
) -> list[ProjectionCheck]:
    """Ask :class:`~copilot.anomaly.advice.Projector` before each limit a fault drives a tag past.

    A tag (with limits) that is inside a limit at the onset and past it later — while in
    ``twin`` (the same machine from the onset on without the fault) it is not — crosses it at
    ``T``; at ``T - lead`` for each of :data:`PROJECTION_LEADS_S` (no earlier than 60 s after
    the onset) the projector sees the samples up to then, as a station would. The band covers
    when the actual time to that limit lies inside [lo, hi] of a projection toward it.
    """
    t = np.array([x[0] for x in trace])
    values = np.stack([x[1] for x in trace])
    t_twin = np.array([x[0] for x in twin])
    v_twin = np.stack([x[1] for x in twin])
    out: list[ProjectionCheck] = []
    for col, spec in enumerate(tags):
        if not projectable(spec) or spec.limits is None:
            continue
        v = values[:, col]
        crossed: dict[str, float] = {}
        for name in ("hi", "hihi", "lo", "lolo"):
            limit = getattr(spec.limits, name)
            if limit is None:
                continue
            rising = name.startswith("hi")
            before = v[t <= onset]
            if before.size == 0 or not np.isfinite(before[-1]):
                continue
            if (before[-1] >= limit) if rising else (before[-1] <= limit):
                continue
            after = t > onset
            cross = _crossing(t[after], v[after], float(limit), rising)
            if cross is None:
                continue
            crossed[name] = cross
            if _crossing(t_twin, v_twin[:, col], float(limit), rising) is not None:
                continue  # the machine gets there without the fault (a mode change's doing)
            nearer = crossed.get(name[:2], -math.inf) if len(name) == 4 else -math.inf
            projector = Projector()
            for lead in PROJECTION_LEADS_S:
                now = cross - lead
                # Before the nearer limit (hi before hihi) is crossed, the projection is
                # rightly toward that one: ask about hihi only once hi is behind.
                if now < onset + PROJECTION_MIN_AFTER_ONSET_S or now < nearer:
                    continue
                window = _window(t, v, now)

                projector.forget()
                adv = projector.advise(machine, spec, now, window)
                p = adv.projection if adv is not None else None
                if p is None or p.limit_name != name:
                    out.append(ProjectionCheck(seed, machine, kind, spec.name, name, lead, False))
                    continue
                out.append(
                    ProjectionCheck(
                        seed,
                        machine,
                        kind,
                        spec.name,
                        name,
                        lead,
                        True,
                        round(p.eta_s, 1),
                        round(p.lo_s, 1),
                        round(p.hi_s, 1),
                        p.lo_s <= lead <= p.hi_s,
                    )
                )
    return out


def _job(args: tuple[int, int, str, bytes]) -> bytes:
    seed, index, size, cfg = args
    config = msgspec.json.decode(cfg, type=AnomalyConfig)
    return msgspec.msgpack.encode(run_machine(seed, index, size, config))  # type: ignore[arg-type]


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 1) if xs else None


def _p90(xs: list[float]) -> float | None:
    return round(float(np.percentile(xs, 90)), 1) if xs else None


def evaluate(
    seeds: Sequence[int],
    size: Size = "full",
    config: AnomalyConfig | None = None,
    workers: int = 2,
) -> EvalReport:
    """Run the eval on ``seeds`` (every machine kind of each) and score it."""
    cfg = config or AnomalyConfig()
    raw = msgspec.json.encode(cfg)
    kinds = range(TINY_MACHINES if size == "tiny" else len(MODEL_CLASSES))
    jobs = [(s, i, str(size), raw) for s in seeds for i in kinds]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            blobs = list(pool.map(_job, jobs))
    else:
        blobs = [_job(j) for j in jobs]
    runs = [msgspec.msgpack.decode(b, type=MachineRun) for b in blobs]
    events = [e for r in runs for e in r.events]
    hours = sum(r.normal_s for r in runs) / 3600.0
    false = sum(r.false_alerts for r in runs)
    by_det: dict[str, int] = {}
    for r in runs:
        for name in r.false_names:
            det = name.split(":", 1)[0]
            by_det[det] = by_det.get(det, 0) + 1
    by_fault: dict[str, float] = {}
    counts: dict[str, int] = {}
    for kind in FAULT_KINDS:
        mine = [e for e in events if e.kind == kind]
        if mine:
            counts[kind] = len(mine)
            by_fault[kind] = round(sum(e.detected for e in mine) / len(mine), 3)
    checks = [c for r in runs for c in r.projections]
    shown = [c for c in checks if c.shown]
    coverage = round(sum(c.inside for c in shown) / len(shown), 3) if shown else None
    reason = (
        f"{len(shown)} projections toward a limit the fault then crossed, asked "
        f"{', '.join(f'{x:g}' for x in PROJECTION_LEADS_S)} s before the crossing; "
        f"{len(checks) - len(shown)} of {len(checks)} asks gave no projection toward it"
        if checks
        else "no fault event drove a tag with limits past one"
    )
    grad = [e.delay_s for e in events if e.kind in GRADUAL and e.delay_s is not None]
    abr = [e.delay_s for e in events if e.kind in ABRUPT and e.delay_s is not None]
    return EvalReport(
        seeds=list(seeds),
        tuning_seeds=list(TUNING_SEEDS),
        size=str(size),
        events=len(events),
        detection_rate=round(sum(e.detected for e in events) / max(len(events), 1), 3),
        detection_rate_by_fault=by_fault,
        events_by_fault=counts,
        false_alerts_per_machine_hour=round(false / hours, 4) if hours else 0.0,
        normal_machine_hours=round(hours, 2),
        median_delay_s_gradual=_median(grad),
        median_delay_s_abrupt=_median(abr),
        p90_delay_s_gradual=_p90(grad),
        p90_delay_s_abrupt=_p90(abr),
        projection_coverage=coverage,
        projection_coverage_reason=reason,
        projection_checks=len(checks),
        projection_shown_fraction=round(len(shown) / len(checks), 3) if checks else None,
        false_alerts_by_detector=by_det,
        missed=[e for e in events if not e.detected],
    )
