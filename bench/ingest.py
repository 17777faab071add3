"""Ingest benchmark: agent → hub → station state over CurveZMQ, against raw pyzmq.

Three processes as in a plant: a load agent (``bench.publisher``, built on the agent SDK), the
hub (``copilot hub``), and a station in this process. Figures:

* ``ingest_samples_per_s`` — samples applied to the station's state per second, sustained
  (no sequence gap) with the agent offering as much as the hub accepts.
* ``ingest_vs_raw_ratio`` — that rate over the raw baseline: the very same frames (same bytes,
  same batch size) PUB → ``zmq.proxy`` → SUB over CurveZMQ, not decoded, measured in this run.
* ``latency_p99_ms`` — agent send → value in the station's state, at half the sustained rate.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import numpy as np
import zmq

from bench.raw import client
from bench.report import figure, say
from copilot.bus import Bus, KeyStore, Security
from copilot.proc import die_with_parent
from copilot.protocol import Codec, Header, MachinesRequest
from copilot.protocol.columns import pack
from copilot.settings import StationSettings
from copilot.station import LinkState, Station
from copilot.station.client import HubUnreachableError, request_once

MACHINES = 50
TAGS = 200
BATCH_TICKS = 5  # each DATA message carries 5 ticks of a machine's 200 tags: 1,000 samples
BATCH = TAGS * BATCH_TICKS


def _free_address() -> str:
    import socket

    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return f"tcp://127.0.0.1:{port}"


class Rig:
    """The processes of one measurement, killed at the end."""

    def __init__(self, data: Path) -> None:
        self.data = data
        data.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "COPILOT_DATA_DIR": str(data),
            "COPILOT_CONFIG": str(data / "none.toml"),
        }
        (data / "none.toml").write_text("")
        KeyStore(data).init()
        self.address = _free_address()
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        self.procs.append(proc)
        return proc

    def start_hub(self) -> None:
        self.spawn("copilot", "-q", "hub", "--bind", self.address)
        security = Security.from_data_path(self.data, "cli", False)
        for _ in range(50):
            try:
                request_once(security, self.address, MachinesRequest(), 0.5)
                return
            except HubUnreachableError:
                continue
        raise RuntimeError("hub did not start")

    def publish(self, rate: float, seconds: float) -> subprocess.Popen[bytes]:
        return self.spawn(
            "bench.publisher",
            "--hub",
            self.address,
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
        )

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def _measure(
    station: Station, latencies: list[float], warmup: float, window: float
) -> tuple[float, int, list[float]]:
    time.sleep(warmup)
    gaps0, samples0, t0 = station.stats.gaps, station.stats.samples, time.monotonic()
    latencies.clear()
    time.sleep(window)
    rate = (station.stats.samples - samples0) / (time.monotonic() - t0)
    return rate, station.stats.gaps - gaps0, list(latencies)


def _raw_baseline(data: Path, window: float) -> float:
    frames = Codec().frames(
        Header(src="load-000", epoch=1, seq=1, ts=time.time_ns(), hub_epoch=1, hub_seq=1),
        pack(
            np.tile(np.arange(TAGS), BATCH_TICKS),
            np.full(BATCH, 50.0),
            np.full(BATCH, time.time_ns()),
        ),
    )
    frames_file = data / "frames.msgpack"
    frames_file.write_bytes(msgspec.msgpack.encode([b"m/load-000/", *frames]))
    rig = Rig(data / "raw")
    front, back = (
        rig.address,
        rig.address.rsplit(":", 1)[0] + ":" + str(int(rig.address.rsplit(":", 1)[1]) + 1),
    )
    keys = data / "raw" / "keys"
    rig.spawn("bench.raw", "proxy", front, back, str(keys))
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    sub.rcvhwm = 50_000
    client(sub, keys, "station")
    sub.connect(back)
    sub.subscribe(b"")
    rig.spawn("bench.raw", "pub", front, str(keys), str(frames_file), str(window + 4))
    try:
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        if not poller.poll(10_000):
            raise RuntimeError("raw baseline got nothing")
        end_warm = time.monotonic() + 1.5
        while time.monotonic() < end_warm:
            sub.recv_multipart()
        count, t0 = 0, time.monotonic()
        end = t0 + window
        while time.monotonic() < end:
            if poller.poll(100):
                sub.recv_multipart()
                count += 1
        return count * BATCH / (time.monotonic() - t0)
    finally:
        sub.close()
        ctx.term()
        rig.close()


def run(json_only: bool = False, quick: bool = False) -> None:
    window = 4.0 if quick else 8.0
    with tempfile.TemporaryDirectory(prefix="copilot-bench-") as tmp:
        data = Path(tmp)
        rig = Rig(data / "ours")
        say(
            f"ingest: {MACHINES} machines × {TAGS} tags, batches of {BATCH}, CurveZMQ on", json_only
        )
        rig.start_hub()
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
            offered = 0.0
            rig.publish(offered, window + 4)
            sustained, gaps, _ = _measure(station, latencies, 3.0, window)
            say(
                f"  as fast as accepted: {sustained:,.0f} samples/s at the station, {gaps} gaps",
                json_only,
            )
            for _ in range(3):
                if gaps == 0:
                    break
                offered = 0.85 * sustained
                time.sleep(2)
                rig.publish(offered, window + 4)
                sustained, gaps, _ = _measure(station, latencies, 3.0, window)
                say(
                    f"  offered {offered:,.0f}/s: {sustained:,.0f} samples/s, {gaps} gaps",
                    json_only,
                )
            time.sleep(2)
            half = sustained / 2
            rig.publish(half, window + 4)
            _, _, lat = _measure(station, latencies, 3.0, window)
            p99 = float(np.percentile(lat, 99)) if lat else float("nan")
            say(
                f"  at {half:,.0f} samples/s: latency p50 {np.percentile(lat, 50):.2f} ms, "
                f"p99 {p99:.2f} ms over {len(lat)} batches",
                json_only,
            )
        finally:
            station.stop()
            bus.close()
            rig.close()
        raw = _raw_baseline(data, window)
        say(f"  raw pyzmq PUB → proxy → SUB, same frames: {raw:,.0f} samples/s", json_only)
        figure(
            "ingest_samples_per_s", sustained, "samples/s", ">=", 300_000, None, json_only=json_only
        )
        figure("ingest_vs_raw_ratio", sustained / raw, "ratio", ">=", 0.5, raw, json_only=json_only)
        figure("latency_p99_ms", p99, "ms", "<=", 20, None, json_only=json_only)
