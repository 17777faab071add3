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
  station has applied every sample it sent (or, if some were lost on the way, nothing has
  arrived for 2 s). The line says ``drained`` and ``drain_s`` (how long the backlog left by the
  saturation phase took to reach the station); ``latency_drain_s`` is the same as a figure.
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
DRAIN_TIMEOUT_S = 90.0
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
        how = (
            "caught up with every sample sent"
            if self.caught_up
            else f"quiet for {QUIET_S:g} s, {self.lost()} of {self.sent} samples never arrived"
            if self.drained
            else f"NOT drained after {DRAIN_TIMEOUT_S:g} s"
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
    last, last_change = station.stats.samples, exited
    while True:
        now = time.monotonic()
        received = station.stats.samples - load.base
        if sent is not None and received >= sent:
            return Drain(True, True, max(0.0, last_change - exited), sent, received)
        if station.stats.samples != last:
            last, last_change = station.stats.samples, now
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
    station: Station, hub: psutil.Process, latencies: list[float], warmup: float, window: float
) -> Window:
    time.sleep(warmup)
    gaps0, samples0, t0 = station.stats.gaps, station.stats.samples, time.monotonic()
    cpu0 = _cpu_s(hub)
    latencies.clear()
    time.sleep(window)
    cpu1 = _cpu_s(hub)
    samples = station.stats.samples - samples0
    rate = samples / (time.monotonic() - t0)
    return Window(rate, station.stats.gaps - gaps0, list(latencies), samples, cpu1 - cpu0)


def run(json_only: bool = False, quick: bool = False, busy: bool = False) -> None:
    window = 4.0 if quick else 8.0
    with tempfile.TemporaryDirectory(prefix="copilot-bench-") as tmp, busy_core(busy):
        data = Path(tmp)
        rig = Rig(data / "ours")
        say(
            f"ingest: {MACHINES} machines × {TAGS} tags, batches of {BATCH}, CurveZMQ on"
            + (", one core kept busy by a spinning process" if busy else ""),
            json_only,
        )
        hub = psutil.Process(rig.start_hub().pid)
        time.sleep(1.0)
        idle_rss = hub.memory_info().rss
        bus = Bus(Security.from_data_path(rig.data, "station", False))
        station = Station(bus, rig.address, StationSettings(ring_samples=256))
        latencies: list[float] = []
        apply = station.store.apply_data

        def timed_apply(machine, epoch, body):  # type: ignore[no-untyped-def]
            ok = apply(machine, epoch, body)
            if ok:
                latencies.append((time.time_ns() - int(np.frombuffer(body.ts, "<i8")[-1])) / 1e6)
            return ok

        station.store.apply_data = timed_apply  # type: ignore[method-assign]
        station.start()
        try:
            deadline = time.monotonic() + 10
            while station.state != LinkState.LIVE and time.monotonic() < deadline:
                time.sleep(0.05)
            # Births and a little data at a low rate: the hub's memory for the tags it was told
            # about (rings and tables), before the saturation phase fills its queues.
            load = Load(rig, BORN_RATE, 3.0, station)
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
            load = Load(rig, offered, window + 4, station)
            sustained = _measure(station, hub, latencies, 3.0, window)
            say(
                f"  as fast as accepted: {sustained.rate:,.0f} samples/s at the station, "
                f"{sustained.gaps} gaps",
                json_only,
            )
            drain = _drain(station, load)
            say(f"  backlog: {drain.describe()}", json_only)
            for _ in range(3):
                if sustained.gaps == 0:
                    break
                offered = 0.85 * sustained.rate
                load = Load(rig, offered, window + 4, station)
                sustained = _measure(station, hub, latencies, 3.0, window)
                say(
                    f"  offered {offered:,.0f}/s: {sustained.rate:,.0f} samples/s, "
                    f"{sustained.gaps} gaps",
                    json_only,
                )
                drain = _drain(station, load)
                say(f"  backlog: {drain.describe()}", json_only)
            saturated_rss = hub.memory_info().rss
            half = sustained.rate / 2
            load = Load(rig, half, window + 4, station)
            lat = _measure(station, hub, latencies, 3.0, window).latencies
            p99 = float(np.percentile(lat, 99)) if lat else float("nan")
            p50 = float(np.percentile(lat, 50)) if lat else float("nan")
            say(
                f"  at {half:,.0f} samples/s ({'drained' if drain.drained else 'NOT drained'} "
                f"before): latency p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(lat)} batches",
                json_only,
            )
            after = _drain(station, load)
            say(f"  after the latency phase: {after.describe()}", json_only)
        finally:
            station.stop()
            bus.close()
            rig.close()
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
            p50_ms=round(p50, 2) if np.isfinite(p50) else None,
        )
        info(
            "latency_drain_s",
            drain.drain_s,
            "s",
            json_only=json_only,
            drained=drain.drained,
            caught_up=drain.caught_up,
            lost_samples=drain.lost(),
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
