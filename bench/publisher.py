"""A load generator built on the agent SDK: M machines × T numeric tags, as fast as allowed.

``python -m bench.publisher --hub ADDR --machines M --tags T --rate R --duration S``; rate is
samples per second over all machines (0 = as fast as the hub accepts). Each sample's source
timestamp is the moment it is handed to the socket, so a receiver can measure latency.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

import numpy as np

from copilot.agent import AgentSession
from copilot.bus import Bus, Poller, Security
from copilot.proc import stop_on_signals
from copilot.protocol import Limits, MachineInfo, TagSpec
from copilot.settings import load

LOAD_LIMITS = Limits(lolo=10.0, lo=20.0, hi=80.0, hihi=90.0)
"""Every load tag has four alarm limits, far outside its values (N(50, 5)): a plant in normal
operation, where the alarm engine evaluates every sample and raises nothing."""


def load_tags(n: int) -> list[TagSpec]:
    """The load agent's tags: ``sig_000``… with alarm limits and a deadband, as a plant has."""
    return [
        TagSpec(name=f"sig_{i:03d}", alias=i, unit="u", limits=LOAD_LIMITS, deadband=1.0)
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hub", required=True)
    parser.add_argument("--machines", type=int, default=50)
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--batch-ticks",
        type=int,
        default=1,
        help="ticks of samples per DATA message (an agent batching its sends)",
    )
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument(
        "--report", help="write what was sent (JSON: sent_samples, sent_messages) here at the end"
    )
    args = parser.parse_args()

    settings = load()
    security = Security.from_data_path(settings.data_path, "agent", args.insecure)
    bus = Bus(security)
    tags = load_tags(args.tags)
    sessions = [
        AgentSession(
            bus,
            args.hub,
            MachineInfo(id=f"load-{m:03d}", name=f"Load {m}", kind="load"),
            tags,
            sndhwm=1000,
        )
        for m in range(args.machines)
    ]
    stop = threading.Event()
    stop_on_signals(stop.set)
    poller = Poller(s.link for s in sessions)
    by_link = {id(s.link): s for s in sessions}
    deadline = time.monotonic() + 10
    while any(s.stats.births == 0 for s in sessions) and time.monotonic() < deadline:
        for s in sessions:
            if s.stats.births == 0:
                s.birth()
        time.sleep(0.05)
    aliases = np.arange(args.tags, dtype=np.uint32)
    rng = np.random.default_rng(1)
    values = rng.normal(50, 5, size=(64, args.tags))
    per_tick = args.machines * args.tags
    period = per_tick / args.rate if args.rate > 0 else 0.0
    end = time.monotonic() + args.duration
    next_tick = time.monotonic()
    tick = 0
    last_hb = time.monotonic()
    while not stop.is_set() and time.monotonic() < end:
        for link in poller.poll(0):
            while (frames := link.recv()) is not None:
                by_link[id(link)].handle(frames)
        now = time.monotonic()
        if period and now < next_tick:
            time.sleep(min(next_tick - now, 0.01))
            continue
        row = values[tick % 64]
        send = (tick + 1) % args.batch_ticks == 0
        stamp = np.full(args.tags, time.time_ns())
        for session in sessions:
            full = session.pending_samples >= args.tags * args.batch_ticks
            if full and not session.flush():
                continue  # this machine's queue is full: do not pile up more
            session.publish_columns(aliases, row, stamp)
            if send:
                session.flush()
        tick += 1
        next_tick += period
        if now - last_hb > 0.5:
            last_hb = now
            for session in sessions:
                if session.heartbeat_due(now):
                    session.heartbeat()
    for session in sessions:
        session.stop()
    bus.close()
    if args.report:
        sent = {
            "sent_samples": sum(s.stats.sent_samples for s in sessions),
            "sent_messages": sum(s.stats.sent_messages for s in sessions),
            "backpressure_events": sum(s.stats.backpressure_events for s in sessions),
        }
        tmp = f"{args.report}.tmp"
        with open(tmp, "w") as f:
            json.dump(sent, f)
        os.replace(tmp, args.report)


if __name__ == "__main__":
    main()
