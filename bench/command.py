"""Command latency through the gate, with the plant streaming: ``python -m bench command``.

A person logged in on a station sends tier-1 commands one after another to a real agent
process (``bench.press``: journal on, so ACCEPTED waits for its fsync) while the load agent
streams the ingest benchmark's half load (what a fresh hub sustains here, measured first, over
two). For each command: request → ACCEPTED observed at the station, and → COMPLETED observed.

The baseline, in the same run and on the same load: the same commands on a hub without the
gate (``gate = false``: a station's plain CMD, no session, no policy, no audit row before
dispatch). The difference is what the gate costs.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.ingest import _saturated
from bench.press import MACHINE
from bench.report import figure, info, say
from bench.rig import Rig, busy_core
from copilot.bus import Bus, Security
from copilot.gate.people import KdfParams, PeopleStore, people_path
from copilot.settings import StationSettings
from copilot.station import CommandUpdated, LinkState, SessionChanged, Station

ACCEPT_GOAL_MS = 20.0
SETTLE_S = 3.0  # the load runs this long before the first command


class Timings:
    """When each command was seen ACCEPTED (or later) and COMPLETED, at the station."""

    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}
        self.completed: dict[str, float] = {}
        self.final: dict[str, str] = {}
        self.done = threading.Condition()

    def heard(self, event: object) -> None:
        if not isinstance(event, CommandUpdated):
            return
        status, now = event.status, time.perf_counter()
        with self.done:
            if status.state in ("ACCEPTED", "EXECUTING", "COMPLETED"):
                self.accepted.setdefault(status.cmd_id, now)
            if status.state in ("COMPLETED", "REJECTED", "FAILED", "EXPIRED", "UNKNOWN"):
                self.completed.setdefault(status.cmd_id, now)
                self.final[status.cmd_id] = status.state
                self.done.notify_all()

    def wait(self, cmd_id: str, timeout: float) -> bool:
        with self.done:
            return self.done.wait_for(lambda: cmd_id in self.final, timeout)


def _one_hub(data: Path, gated: bool, load_rate: float, count: int) -> dict[str, object]:
    extra = os.environ.get("BENCH_HUB_CONFIG", "")  # e.g. "[hub]\naudit_before_dispatch = false"
    rig = Rig(data, extra if gated else "[hub]\ngate = false\n")
    with PeopleStore(people_path(data), kdf=KdfParams(n=2**14)) as people:
        people.add("bench", "Bench Operator", ["Operator"], "4242")
    rig.start_hub()
    rig.spawn("bench.press", "--hub", rig.address)
    rig.spawn(
        "bench.publisher",
        "--hub",
        rig.address,
        "--machines",
        "50",
        "--tags",
        "200",
        "--rate",
        str(load_rate),
        "--duration",
        "600",
        "--batch-ticks",
        "5",
    )
    bus = Bus(Security.from_data_path(data, "station", False))
    station = Station(bus, rig.address, StationSettings(ring_samples=256))
    timings = Timings()
    station.add_listener(timings.heard)
    logged = threading.Event()
    station.add_listener(lambda e: logged.set() if isinstance(e, SessionChanged) else None)
    accept: list[float] = []
    complete: list[float] = []
    failed: dict[str, int] = {}
    try:
        station.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            station.state == LinkState.LIVE and MACHINE in station.store.machine_ids()
        ):
            time.sleep(0.05)
        if gated:
            station.login("bench", "4242")
            if not logged.wait(10) or station.session is None:
                raise RuntimeError("the bench operator could not log in")
        time.sleep(SETTLE_S)  # the load is streaming
        for i in range(count):
            t0 = time.perf_counter()
            args = {"speed": float(i % 100)}
            if gated:
                cmd_id = station.request_command(MACHINE, "pulse", args, origin="keyboard")
            else:
                cmd_id = station.send_command(MACHINE, "pulse", args, origin="keyboard")
            if not timings.wait(cmd_id, 10.0):
                failed["timeout"] = failed.get("timeout", 0) + 1
                continue
            state = timings.final[cmd_id]
            if state != "COMPLETED":
                failed[state] = failed.get(state, 0) + 1
                continue
            accept.append((timings.accepted[cmd_id] - t0) * 1e3)
            complete.append((timings.completed[cmd_id] - t0) * 1e3)
    finally:
        station.stop()
        bus.close()
        rig.close()
    return {"accept": accept, "complete": complete, "failed": failed}


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run(json_only: bool = False, quick: bool = False, busy: bool = False) -> None:
    count = 100 if quick else 300
    with tempfile.TemporaryDirectory(prefix="copilot-bench-") as tmp, busy_core(busy):
        data = Path(tmp)
        sustained = _saturated(data / "saturated", True, 4.0 if quick else 8.0).rate
        half = sustained / 2
        say(
            f"command: {count} tier-1 commands, one at a time, while 50 machines × 200 tags "
            f"stream {half:,.0f} samples/s (half of the {sustained:,.0f} a fresh hub sustained "
            "just now); CurveZMQ on"
            + (", one core kept busy by a spinning process" if busy else ""),
            json_only,
        )
        results = {}
        for gated in (True, False):
            name = "gate" if gated else "no gate"
            got = _one_hub(data / ("gated" if gated else "plain"), gated, half, count)
            results[gated] = got
            acc, comp = got["accept"], got["complete"]
            assert isinstance(acc, list) and isinstance(comp, list)
            say(
                f"  {name}: ACCEPTED p50 {_p(acc, 50):.1f} ms, p99 {_p(acc, 99):.1f} ms; "
                f"COMPLETED p50 {_p(comp, 50):.1f} ms, p99 {_p(comp, 99):.1f} ms; "
                f"{len(acc)} of {count} completed {got['failed'] or ''}",
                json_only,
            )
        gated_r, plain_r = results[True], results[False]
        g_acc, g_comp = gated_r["accept"], gated_r["complete"]
        p_acc, p_comp = plain_r["accept"], plain_r["complete"]
        assert isinstance(g_acc, list) and isinstance(g_comp, list)
        assert isinstance(p_acc, list) and isinstance(p_comp, list)
        figure(
            "command_accept_p99_ms",
            _p(g_acc, 99),
            "ms",
            "<=",
            ACCEPT_GOAL_MS,
            _p(p_acc, 99),
            json_only=json_only,
            reason="no command completed",
            p50_ms=round(_p(g_acc, 50), 2),
            commands=len(g_acc),
            failed=gated_r["failed"],
            load_samples_s=round(half),
        )
        info(
            "command_complete_p99_ms",
            _p(g_comp, 99),
            "ms",
            json_only=json_only,
            p50_ms=round(_p(g_comp, 50), 2),
            baseline_p99_ms=round(_p(p_comp, 99), 2),
            commands=len(g_comp),
        )
