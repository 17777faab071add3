"""Anomaly benchmark: what the hub's detectors cost at plant scale, against the hub without them.

Figures:

* ``anomaly_cpu_core_fraction`` — the simulated plant (``copilot sim``, 200 machines × 50 tags
  at 10 Hz: 100,000 samples/s) into a hub: the time the hub's loop spent in the anomaly
  service (detectors, dropout ticks, the alerts it hands the alarm service), which the service
  counts itself with ``time.perf_counter_ns`` (``HUB_STATUS`` ``services.anomaly.loop_us``;
  wall time on the loop, so a preempted loop counts against the detectors: an upper bound),
  over a window, as a fraction of one core; the median of the windows. The baseline is the
  same plant into a hub with the detectors off (``[hub] anomaly = false``), interleaved (off,
  on, off, on…): the whole hub process's CPU (psutil, every thread), so the line also shows
  the hub's total with them on, off and the difference — a cross-check that is noisier than the
  service's own count on a shared machine. Each window checks, from ``HUB_STATUS``, that at
  least half the offered rate arrived and that the detectors looked at samples in it
  (``samples_looked_at``), so a stalled feed cannot pass for cheap detectors.
* ``anomaly_engine_us_per_machine_look`` (no goal) — the engine alone, in process, on six
  machines (one of each kind, 50 tags each) whose every mode of the first warm-up was learned:
  the cost of one look at a machine, which the hub makes at most once per machine per
  ``hub.anomaly_every_s``. Times 200 machines it is the detectors' share of a core with nothing
  of the hub around them (``projected_core_fraction``).
* ``anomaly_ingest_on_vs_off_ratio`` — what a fresh hub sustains (the ingest benchmark's load
  agent, 50 machines × 200 tags, as fast as the hub accepts) with the detectors on, over the
  same with them off, interleaved three times each; medians.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from bench.ingest import BORN_RATE, Pipeline, Window, _drain
from bench.report import figure, info, say
from bench.rig import Rig, busy_core
from copilot.anomaly import AnomalyConfig, AnomalyEngine
from copilot.bus import Security
from copilot.protocol import Birth, HubStatus, HubStatusRequest
from copilot.sim.models import MODEL_CLASSES
from copilot.station.client import HubUnreachableError, request_once

MACHINES = 200
TAGS = 50
RATE_HZ = 10.0
OFFERED = MACHINES * TAGS * RATE_HZ
OFF = "[hub]\nanomaly = false\n"
ON = "[hub]\nanomaly = true\n"


@dataclass
class CpuWindow:
    """One hub under the simulated plant: its CPU and what it ingested in the window."""

    detectors: bool
    core_fraction: float
    samples_per_s: float
    looked: int
    machines: int
    detectors_core_fraction: float  # the loop's time in the anomaly service (its loop_us)


def _status(rig: Rig) -> HubStatus | None:
    security = Security.from_data_path(rig.data, "cli", False)
    try:
        reply = request_once(security, rig.address, HubStatusRequest(), 5.0)
    except HubUnreachableError:
        return None
    return reply if isinstance(reply, HubStatus) else None


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _counter(status: HubStatus, name: str) -> int:
    return status.hub.services.get("anomaly", {}).get(name, 0)


def _plant_window(data: Path, detectors: bool, warmup: float, window: float) -> CpuWindow:
    """The sim into a fresh hub; the hub's CPU over ``window`` once every machine is born."""
    rig = Rig(data, ON if detectors else OFF)
    try:
        hub = psutil.Process(rig.start_hub().pid)
        rig.spawn(
            "copilot",
            "-q",
            "sim",
            "--hub",
            rig.address,
            "--machines",
            str(MACHINES),
            "--tags-per-machine",
            str(TAGS),
            "--rate",
            str(RATE_HZ),
        )
        deadline = time.monotonic() + 60
        born = 0
        while time.monotonic() < deadline:
            status = _status(rig)
            born = len(status.machines) if status is not None else 0
            if born >= MACHINES:
                break
            time.sleep(0.5)
        time.sleep(warmup)
        before = _status(rig)
        cpu0, t0 = _cpu_s(hub), time.monotonic()
        time.sleep(window)
        cpu1, t1 = _cpu_s(hub), time.monotonic()
        after = _status(rig)
        if before is None or after is None:
            return CpuWindow(detectors, math.nan, math.nan, 0, born, math.nan)
        return CpuWindow(
            detectors,
            (cpu1 - cpu0) / (t1 - t0),
            (after.hub.samples - before.hub.samples) / (t1 - t0),
            _counter(after, "samples_looked_at") - _counter(before, "samples_looked_at"),
            born,
            (_counter(after, "loop_us") - _counter(before, "loop_us")) / 1e6 / (t1 - t0),
        )
    finally:
        rig.close()


def engine_us_per_look(looks: int = 300) -> tuple[float, int]:
    """The engine alone: µs per machine look, six learned machines of 50 tags each."""
    config = AnomalyConfig(warmup_s=300.0)
    engine = AnomalyEngine(config)
    models = [
        cls(1, seed=(7, i), total_tags=TAGS, initial_state="running", autonomous=False)
        for i, cls in enumerate(MODEL_CLASSES.values())
    ]
    t0_ns = 1_800_000_000 * 10**9
    feeds: list[tuple[str, np.ndarray, list[str]]] = []
    for m in models:
        engine.on_birth(Birth(machine=m.info, tags=m.tags), t0_ns)
        names = [tag.name for tag in m.tags]
        aliases = np.array([tag.alias for tag in m.tags], dtype=np.int64)
        feeds.append((m.info.id, aliases, names))

    def frames(model: object, names: list[str], t: float) -> np.ndarray:
        v, _ = model.step(t, 1.0)  # type: ignore[attr-defined]
        return np.array([math.nan if v[k] is None else float(v[k]) for k in names])

    # Warm up in running until the mode is learned (warm-up, settling and a margin).
    warm = int(config.warmup_s + config.settle_max_s + 120)
    for s in range(1, warm + 1):
        ts_ns = t0_ns + s * 10**9
        for m, (mid, aliases, names) in zip(models, feeds, strict=True):
            vals = frames(m, names, float(s))
            engine.on_samples(mid, aliases, np.full(len(names), ts_ns), vals, None)
    learned = sum(1 for st in engine.status() if not st.learning and "running" in st.learned_modes)
    # Measure on pre-generated readings: the engine's cost, not the simulator's.
    batches = [
        [frames(m, names, float(warm + s)) for m, (_, _, names) in zip(models, feeds, strict=True)]
        for s in range(1, looks + 1)
    ]
    best = math.inf
    for _ in range(3):
        engine_copy = AnomalyEngine(config)
        engine_copy.restore(engine.state())
        for m in models:
            engine_copy.on_birth(Birth(machine=m.info, tags=m.tags), t0_ns)
        start = time.perf_counter()
        for s, row in enumerate(batches, start=1):
            ts_ns = t0_ns + (warm + s) * 10**9
            for (mid, aliases, names), vals in zip(feeds, row, strict=True):
                engine_copy.on_samples(mid, aliases, np.full(len(names), ts_ns), vals, None)
            if s % 5 == 0:
                engine_copy.tick(ts_ns)
        best = min(best, time.perf_counter() - start)
    return best * 1e6 / (looks * len(models)), learned


def _saturated(data: Path, detectors: bool, window: float) -> Window:
    pipe = Pipeline(data, alarms=True, config=ON if detectors else OFF)
    try:
        pipe.start()
        _drain(pipe.station, pipe.load(BORN_RATE, 3.0))
        return pipe.measure(pipe.load(0.0, window + 4), window)
    finally:
        pipe.close()


def run(json_only: bool = False, quick: bool = False, busy: bool = False) -> None:
    window = 10.0 if quick else 20.0
    warmup = 5.0 if quick else 10.0
    pairs = 1 if quick else 2
    with tempfile.TemporaryDirectory(prefix="copilot-bench-") as tmp, busy_core(busy):
        data = Path(tmp)
        say(
            f"anomaly: {MACHINES} machines × {TAGS} tags at {RATE_HZ:g} Hz "
            f"({OFFERED:,.0f} samples/s), detectors off / on"
            + (", one core kept busy by a spinning process" if busy else ""),
            json_only,
        )
        windows: list[CpuWindow] = []
        for k, detectors in enumerate((False, True) * pairs):
            w = _plant_window(data / f"plant-{k}", detectors, warmup, window)
            windows.append(w)
            say(
                f"  detectors {'on ' if detectors else 'off'}: hub {w.core_fraction:.3f} of a "
                f"core, {w.samples_per_s:,.0f} samples/s ingested, {w.machines} machines, "
                f"{w.looked:,} samples looked at"
                + (f", the detectors {w.detectors_core_fraction:.3f} of it" if detectors else ""),
                json_only,
            )
        on = [w.core_fraction for w in windows if w.detectors]
        off = [w.core_fraction for w in windows if not w.detectors]
        own = [w.detectors_core_fraction for w in windows if w.detectors]
        ingested = [w.samples_per_s for w in windows]
        fed = all(w.samples_per_s >= 0.5 * OFFERED for w in windows)
        looked = all(w.looked > 0 for w in windows if w.detectors)
        fraction = float(np.median(own)) if fed and looked else math.nan
        why = (
            "the simulator delivered less than half the offered rate"
            if not fed
            else "the detectors looked at nothing"
        )
        us, learned = engine_us_per_look()
        say(
            f"  engine alone: {us:.0f} µs per machine look ({learned} of 6 machines learned)",
            json_only,
        )
        rates: dict[bool, list[float]] = {False: [], True: []}
        sat_window = 4.0 if quick else 8.0
        for k, detectors in enumerate((False, True) * (2 if quick else 3)):
            w_sat = _saturated(data / f"ingest-{k}", detectors, sat_window)
            rates[detectors].append(w_sat.rate)
        say(
            "  fresh hubs as fast as accepted, detectors off / on: "
            + ", ".join(f"{r:,.0f}" for r in rates[False])
            + " / "
            + ", ".join(f"{r:,.0f}" for r in rates[True])
            + " samples/s",
            json_only,
        )
        figure(
            "anomaly_cpu_core_fraction",
            fraction,
            "core",
            "<=",
            0.25,
            float(np.median(off)),
            json_only=json_only,
            reason=why,
            detectors=[round(x, 4) for x in own],
            hub_on=[round(x, 3) for x in on],
            hub_off=[round(x, 3) for x in off],
            hub_on_minus_off=round(float(np.median(on) - np.median(off)), 3),
            ingested_samples_s=[round(x) for x in ingested],
            offered_samples_s=round(OFFERED),
        )
        info(
            "anomaly_engine_us_per_machine_look",
            us,
            "µs",
            json_only=json_only,
            tags=TAGS,
            learned_machines=learned,
            projected_core_fraction=round(us * MACHINES / 1e6, 4),
        )
        without = float(np.median(rates[False]))
        figure(
            "anomaly_ingest_on_vs_off_ratio",
            float(np.median(rates[True])) / without if without > 0 else None,
            "ratio",
            ">=",
            0.8,
            without,
            json_only=json_only,
            reason="the hub without detectors received nothing",
            detectors_on=[round(r) for r in rates[True]],
            detectors_off=[round(r) for r in rates[False]],
        )
