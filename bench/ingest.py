"""Ingest benchmark: agent → hub → station state over CurveZMQ, against raw pyzmq.

Three processes as in a plant: a load agent (``bench.publisher``, built on the agent SDK), the
hub (``copilot hub``), and a station in this process. Figures:

* ``ingest_samples_per_s`` — samples applied to the station's state per second, sustained
  (no sequence gap) with the agent offering as much as the hub accepts.
* ``ingest_vs_raw_ratio`` — that rate over the raw baseline: the very same frames (same bytes,
  same batch size) PUB → ``zmq.proxy`` → SUB over CurveZMQ, not decoded, measured in this run
  (printed as ``raw_pyzmq_samples_per_s`` too, so runs on different machines compare).
* ``latency_p99_ms`` — agent send → value in the station's state, at half the sustained rate.
  It starts only once the pipeline is drained: the previous load agent has exited and the
  station has applied every sample it sent (or, if some were lost on the way, no message has
  arrived for 2 s while the link was live — a resync holding messages back is not quiet). The
  line says ``drained`` and ``drain_s`` (how long the backlog left by the saturation phase took
  to reach the station; ``latency_drain_s`` is the same as a figure). When the backlog has not
  drained after DRAIN_TIMEOUT_S, the latency is measured on a fresh hub and station instead of
  on top of it, and the line says ``fresh_hub``.
* ``hub_cpu_us_per_sample`` — the hub process's CPU time (user + system, all its threads, from
  psutil) over the sustained measurement window, per sample the station received in it.
* ``hub_rss_mb_per_1k_tags`` — the hub's RSS once every machine is born and 3 s of data at a
  low rate went through, above its RSS before any machine was born, per 1,000 tags born (its
  RSS after the saturation phase, which includes queues, is on the line too).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from bench.raw import baseline
from bench.report import figure, info, say
from bench.rig import Rig, busy_core
from copilot.bus import Bus, Security
from copilot.settings import StationSettings
from copilot.station import LinkState, Station

MACHINES = 50
TAGS = 200
BATCH_TICKS = 5  # each DATA message carries 5 ticks of a machine's 200 tags: 1,000 samples
BATCH = TAGS * BATCH_TICKS
QUIET_S = 2.0  # nothing arriving for this long after the load agent exited: drained
DRAIN_TIMEOUT_S = 120.0
BORN_RATE = 20_000.0  # samples/s while the machines are born, for hub_rss_mb_per_1k_tags


class Load:
    """One run of the load agent, and what it says it sent."""

    def __init__(self, rig: Rig, rate: float, seconds: float, station: Station) -> None:
        self.report = rig.data / f"load-{time.monotonic_ns()}.json"
        self.base = station.stats.samples
        self.proc = rig.spawn(
            "bench.publisher",
            "--hub",
            rig.address,
            "--machines",
            str(MACHINES),
            "--tags",
            str(TAGS),
            "--rate",
            str(rate),
            "--duration",
            str(seconds),
            "--batch-ticks",
            str(BATCH_TICKS),
            "--report",
            str(self.report),
        )

    def sent(self) -> int | None:
        try:
            return int(json.loads(self.report.read_text())["sent_samples"])
        except (OSError, ValueError, KeyError):
            return None


@dataclass
class Drain:
    """How the pipeline emptied after one load agent."""

    drained: bool  # every sent sample arrived, or nothing more arrived for QUIET_S
    caught_up: bool  # the station applied every sample the agent says it sent
    drain_s: float  # load agent exited → last of its samples applied at the station
    sent: int | None
    received: int

    def describe(self) -> str:
        if not self.drained:
            return f"NOT drained after {self.drain_s:.0f} s ({self.lost()} samples still missing)"
        how = (
            "caught up with every sample sent"
            if self.caught_up
            else f"quiet for {QUIET_S:g} s, {self.lost()} of {self.sent} samples never arrived"
        )
        return f"drained in {self.drain_s:.2f} s ({how})"

    def lost(self) -> int | None:
        return None if self.sent is None else max(0, self.sent - self.received)


def _drain(station: Station, load: Load) -> Drain:
    """Wait until the samples of ``load`` have reached the station (after the agent exited)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    try:
        load.proc.wait(DRAIN_TIMEOUT_S)
    except subprocess.TimeoutExpired:  # still running: killed, then measured like any other
        load.proc.kill()
        load.proc.wait()
    exited = time.monotonic()
    sent = load.sent()

    def progress() -> tuple[int, int, int]:
        # Messages count even while a resync holds them back (samples would not move then).
        stats = station.stats
        return stats.samples, stats.messages, stats.resyncs

    last, last_change = progress(), exited
    while True:
        now = time.monotonic()
        received = station.stats.samples - load.base
        if sent is not None and received >= sent:
            return Drain(True, True, max(0.0, last_change - exited), sent, received)
        current = progress()
        if current != last or station.state != LinkState.LIVE:
            last, last_change = current, now
        elif now - last_change >= QUIET_S:
            return Drain(True, False, max(0.0, last_change - exited), sent, received)
        if now > deadline:
            return Drain(False, False, now - exited, sent, received)
        time.sleep(0.01)


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


@dataclass
class Window:
    """What one measurement window saw."""

    rate: float
    gaps: int
    latencies: list[float]
    samples: int
    hub_cpu_s: float


def _measure(
    station: Station,
    hub: psutil.Process,
    load: Load,
    latencies: list[float],
    warmup: float,
    window: float,
) -> Window:
    # The window starts a warm-up after this load's first samples reached the station, not
    # after its process started (50 CurveZMQ handshakes and births take seconds when loaded).
    deadline = time.monotonic() + 30
    while station.stats.samples <= load.base and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(warmup)
    gaps0, samples0, t0 = station.stats.gaps, station.stats.samples, time.monotonic()
    cpu0 = _cpu_s(hub)
    latencies.clear()
    time.sleep(window)
    cpu1 = _cpu_s(hub)
    samples = station.stats.samples - samples0
    rate = samples / (time.monotonic() - t0)
    return Window(rate, station.stats.gaps - gaps0, list(latencies), samples, cpu1 - cpu0)


class Pipeline:
    """A hub (its own process) and a station in this process, timing each batch applied."""

    def __init__(self, data: Path, alarms: bool = True, config: str = "") -> None:
        self.rig = Rig(data, config if alarms else "[hub]\nalarms = false\n")
        self.hub = psutil.Process(self.rig.start_hub().pid)
        self.bus = Bus(Security.from_data_path(self.rig.data, "station", False))
        self.station = Station(self.bus, self.rig.address, StationSettings(ring_samples=256))
        self.latencies: list[float] = []
        apply = self.station.store.apply_data
        latencies = self.latencies

        def timed_apply(machine, epoch, body):  # type: ignore[no-untyped-def]
            ok = apply(machine, epoch, body)
            if ok:
                latencies.append((time.time_ns() - int(np.frombuffer(body.ts, "<i8")[-1])) / 1e6)
            return ok

        self.station.store.apply_data = timed_apply  # type: ignore[method-assign]

    def start(self) -> None:
        self.station.start()
        deadline = time.monotonic() + 10
        while self.station.state != LinkState.LIVE and time.monotonic() < deadline:
            time.sleep(0.05)

    def load(self, rate: float, seconds: float) -> Load:
        return Load(self.rig, rate, seconds, self.station)

    def measure(self, load: Load, window: float) -> Window:
        return _measure(self.station, self.hub, load, self.latencies, 2.0, window)

    def close(self) -> None:
        self.station.stop()
        self.bus.close()
        self.rig.close()


def _saturated(data: Path, alarms: bool, window: float) -> Window:
    """What a fresh hub (with or without its alarm engine) sustains, births first."""
    pipe = Pipeline(data, alarms=alarms)
    try:
        pipe.start()
        _drain(pipe.station, pipe.load(BORN_RATE, 3.0))
        return pipe.measure(pipe.load(0.0, window + 4), window)
    finally:
        pipe.close()


def alarm_eval_us_per_sample(batches: int = 400) -> float:
    """The alarm engine alone on the load's batches (200 tags × 5 ticks, 4 limits a tag)."""
    from bench.publisher import load_tags
    from copilot.alarms.engine import AlarmEngine
    from copilot.protocol import Birth, MachineInfo

    engine = AlarmEngine()
    engine.on_birth(
        Birth(machine=MachineInfo(id="load-000", name="Load 0", kind="load"), tags=load_tags(TAGS)),
        time.time_ns(),
    )
    rng = np.random.default_rng(1)
    aliases = np.tile(np.arange(TAGS, dtype=np.int64), BATCH_TICKS)
    values = rng.normal(50, 5, size=(batches, BATCH))
    t0 = time.time()
    times = [
        np.repeat(t0 + (k * BATCH_TICKS + np.arange(BATCH_TICKS)) * 0.01, TAGS)
        for k in range(batches)
    ]
    best = float("inf")
    for _ in range(3):  # the best of three passes: the engine's cost, not the machine's noise
        start = time.perf_counter()
        for k in range(batches):
            engine.on_samples("load-000", aliases, times[k], values[k], None)
        best = min(best, time.perf_counter() - start)
    return best * 1e6 / (batches * BATCH)


def run(json_only: bool = False, quick: bool = False, busy: bool = False) -> None:
    window = 4.0 if quick else 8.0
    with tempfile.TemporaryDirectory(prefix="copilot-bench-") as tmp, busy_core(busy):
        data = Path(tmp)
        say(
            f"ingest: {MACHINES} machines × {TAGS} tags, batches of {BATCH}, CurveZMQ on"
            + (", one core kept busy by a spinning process" if busy else ""),
            json_only,
        )
        pipe = Pipeline(data / "ours")
        time.sleep(1.0)
        idle_rss = pipe.hub.memory_info().rss
        fresh = False
        try:
            pipe.start()
            station, hub = pipe.station, pipe.hub
            # Births and a little data at a low rate: the hub's memory for the tags it was told
            # about (rings and tables), before the saturation phase fills its queues.
            load = pipe.load(BORN_RATE, 3.0)
            deadline = time.monotonic() + 20
            while len(station.store.machines()) < MACHINES and time.monotonic() < deadline:
                time.sleep(0.05)
            born = _drain(station, load)
            tags_born = sum(len(m.tags) for m in station.store.machines())
            born_rss = hub.memory_info().rss
            say(
                f"  {tags_born:,} tags born: hub RSS {idle_rss / 2**20:.0f} → "
                f"{born_rss / 2**20:.0f} MiB; {born.describe()}",
                json_only,
            )
            offered = 0.0
            load = pipe.load(offered, window + 4)
            sustained = pipe.measure(load, window)
            say(
                f"  as fast as accepted: {sustained.rate:,.0f} samples/s at the station, "
                f"{sustained.gaps} gaps",
                json_only,
            )
            drain = _drain(station, load)
            say(f"  backlog: {drain.describe()}", json_only)
            for _ in range(3):
                if sustained.gaps == 0 or not drain.drained:
                    break
                offered = 0.85 * sustained.rate
                load = pipe.load(offered, window + 4)
                sustained = pipe.measure(load, window)
                say(
                    f"  offered {offered:,.0f}/s: {sustained.rate:,.0f} samples/s, "
                    f"{sustained.gaps} gaps",
                    json_only,
                )
                drain = _drain(station, load)
                say(f"  backlog: {drain.describe()}", json_only)
            saturated_rss = hub.memory_info().rss
            if not drain.drained:
                # The hub is still working through what the saturation phase queued: measure
                # the latency on a new hub and station instead of on top of that backlog.
                say(
                    "  the backlog did not drain: the latency phase runs on a new hub and station",
                    json_only,
                )
                pipe.close()
                pipe = Pipeline(data / "fresh")
                pipe.start()
                fresh = True
                born_again = pipe.load(BORN_RATE, 3.0)
                _drain(pipe.station, born_again)
            half = sustained.rate / 2
            load = pipe.load(half, window + 4)
            lat = pipe.measure(load, window).latencies
            p99 = float(np.percentile(lat, 99)) if lat else float("nan")
            p50 = float(np.percentile(lat, 50)) if lat else float("nan")
            before = "drained" if drain.drained else "on a fresh hub, NOT drained"
            say(
                f"  at {half:,.0f} samples/s ({before}): latency p50 {p50:.2f} ms, "
                f"p99 {p99:.2f} ms over {len(lat)} batches",
                json_only,
            )
            after = _drain(pipe.station, load)
            say(f"  after the latency phase: {after.describe()}", json_only)
        finally:
            pipe.close()
        # Alarms on against off: fresh hubs measured the same way, interleaved (off, on, three
        # times) so that the machine's drift does not pass for the engine's cost; medians,
        # because one window on this shared machine can be 30 % off the others.
        rates: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, list[float]] = {False: [], True: []}
        for k, alarms in enumerate((False, True) * 3):
            w = _saturated(data / f"alarms-{k}", alarms, window)
            rates[alarms].append(w.rate)
            cpu[alarms].append(w.hub_cpu_s * 1e6 / w.samples if w.samples else float("nan"))
        with_alarms = float(np.median(rates[True]))
        without = float(np.median(rates[False]))
        say(
            "  fresh hubs, alarms off / on: "
            + ", ".join(f"{r:,.0f}" for r in rates[False])
            + " / "
            + ", ".join(f"{r:,.0f}" for r in rates[True])
            + " samples/s; hub CPU "
            + f"{np.median(cpu[False]):.3f} / {np.median(cpu[True]):.3f} µs per sample",
            json_only,
        )
        eval_us = alarm_eval_us_per_sample()
        say(f"  alarm engine alone: {eval_us:.3f} µs per sample (4 limits per tag)", json_only)
        raw = baseline(data, window, TAGS, BATCH_TICKS)
        say(f"  raw pyzmq PUB → proxy → SUB, same frames: {raw:,.0f} samples/s", json_only)
        figure(
            "ingest_samples_per_s",
            sustained.rate,
            "samples/s",
            ">=",
            300_000,
            None,
            json_only=json_only,
        )
        figure(
            "ingest_vs_raw_ratio",
            sustained.rate / raw if raw > 0 else None,
            "ratio",
            ">=",
            0.5,
            raw,
            json_only=json_only,
            reason="the raw baseline received nothing",
        )
        info("raw_pyzmq_samples_per_s", raw, "samples/s", json_only=json_only)
        figure(
            "latency_p99_ms",
            p99,
            "ms",
            "<=",
            20,
            None,
            json_only=json_only,
            reason="no batch arrived in the latency window",
            drained=drain.drained,
            drain_s=round(drain.drain_s, 3),
            fresh_hub=fresh,
            p50_ms=round(p50, 2) if np.isfinite(p50) else None,
            batches=len(lat),
            offered_samples_s=round(half),
        )
        info(
            "latency_drain_s",
            drain.drain_s if drain.drained else None,
            "s",
            json_only=json_only,
            waited_s=round(drain.drain_s, 2),
            drained=drain.drained,
            caught_up=drain.caught_up,
            lost_samples=drain.lost(),
        )
        info(
            "alarm_eval_us_per_sample",
            eval_us,
            "µs/sample",
            json_only=json_only,
            limits_per_tag=4,
            batch=BATCH,
        )
        figure(
            "ingest_alarms_on_vs_off_ratio",
            with_alarms / without if without > 0 else None,
            "ratio",
            ">=",
            0.9,
            without,
            json_only=json_only,
            reason="the hub without alarms received nothing",
            alarms_on=[round(r) for r in rates[True]],
            alarms_off=[round(r) for r in rates[False]],
            hub_cpu_us_per_sample_on=round(float(np.median(cpu[True])), 3),
            hub_cpu_us_per_sample_off=round(float(np.median(cpu[False])), 3),
        )
        info(
            "hub_cpu_us_per_sample",
            sustained.hub_cpu_s * 1e6 / sustained.samples if sustained.samples else None,
            "µs CPU/sample",
            json_only=json_only,
            hub_cpu_pct=round(sustained.hub_cpu_s / window * 100, 1),
        )
        info(
            "hub_rss_mb_per_1k_tags",
            (born_rss - idle_rss) / 2**20 / (tags_born / 1000) if tags_born else None,
            "MiB/1k tags",
            json_only=json_only,
            idle_mb=round(idle_rss / 2**20, 1),
            born_mb=round(born_rss / 2**20, 1),
            after_saturation_mb=round(saturated_rss / 2**20, 1),
            tags=tags_born,
        )
