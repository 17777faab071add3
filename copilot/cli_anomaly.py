"""``copilot anomaly eval``: score the anomaly detectors on the simulator, per fault event.

Runs :func:`copilot.anomaly.eval.evaluate` on the scored seeds (never tuned on), or on the
tuning seeds or a list given with ``--seeds``; prints the figures against the goals, or the
report as JSON with ``--json``. ``--quick`` runs one severity per fault kind, one hour of
normal operation per machine and two scored seeds; ``--size tiny`` (two machine kinds) is for tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import msgspec

from copilot.cli import CliError

GOALS = {
    "detection_rate": 0.95,
    "per_fault": 0.80,
    "median_delay_s_gradual": 60.0,
    "median_delay_s_abrupt": 5.0,
    "false_alerts_per_machine_hour": 0.125,
}


def add_parser(sub: Any, client: Any) -> None:
    """Add ``copilot anomaly`` to the subcommands ``sub`` (``client`` adds --hub/--insecure)."""
    p = sub.add_parser(
        "anomaly", help="anomaly detectors: status (what they learned), eval (score them)"
    )
    client(p)
    p.add_argument(
        "action",
        choices=["status", "eval"],
        help="status: what each machine's detectors learned and their thresholds (asks the "
        "hub); eval: score the detectors per fault event on the simulator",
    )
    p.add_argument("--machine", default="", help="status: one machine's id")
    p.add_argument("--timeout", type=float, default=5.0, help="status: seconds to wait for the hub")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--quick", action="store_true", help="a smaller run (two scored seeds, ~1-2 min)"
    )
    p.add_argument(
        "--size",
        choices=["full", "quick", "tiny"],
        help="scenario set (default full; --quick means quick; tiny is for tests)",
    )
    p.add_argument(
        "--seeds",
        default="scored",
        help="scored (default), tuning, or comma-separated seeds (e.g. 101,102)",
    )
    p.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    p.set_defaults(func=cmd_anomaly)


def _seeds(text: str, quick: bool) -> list[int]:
    from copilot.anomaly.eval import SCORED_SEEDS, TUNING_SEEDS

    if text == "scored":
        return list(SCORED_SEEDS[:2] if quick else SCORED_SEEDS)
    if text == "tuning":
        return list(TUNING_SEEDS[:1] if quick else TUNING_SEEDS)
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CliError(
            f"--seeds {text!r} is not 'scored', 'tuning' or a comma-separated list of integers."
        ) from None


def cmd_status(args: argparse.Namespace) -> int:
    """``copilot anomaly status``: a line per machine, a line per tag learned (or JSON)."""
    from copilot.cli import _ask_hub, _settings
    from copilot.protocol import AnomalyStatusReply, AnomalyStatusRequest

    settings = _settings(args, {"client": {"hub": args.hub}})
    reply = _ask_hub(
        settings,
        AnomalyStatusRequest(machine=args.machine, request_id=1),
        AnomalyStatusReply,
        args.timeout,
    )
    if args.json:
        print(json.dumps(msgspec.to_builtins(reply.machines), indent=2, ensure_ascii=False))
        return 0
    if not reply.machines:
        print(
            "No machine's detectors are running (is anomaly detection off, or no machine known?)."
        )
        return 0
    for m in reply.machines:
        raised = ", ".join(f"{k} {v}" for k, v in sorted(m.alerts_raised.items())) or "none"
        learned = ", ".join(m.learned_modes) or "none yet"
        print(f"{m.machine}: mode {m.mode} — {m.text}; modes learned: {learned}; alerts: {raised}")
        for t in m.tags:
            limits = ", ".join(f"{k} {v:.3g}" for k, v in sorted(t.thresholds.items()))
            print(
                f"  {t.tag:<28} {t.mode:<12} normal {t.mean:.4g} ± {t.scale:.3g} "
                f"[{t.low:.4g} … {t.high:.4g}]  thresholds: {limits or '-'}"
            )
    return 0


def cmd_anomaly(args: argparse.Namespace) -> int:
    """Dispatch ``copilot anomaly ACTION``."""
    from copilot.anomaly.eval import SCORED_SEEDS, TUNING_SEEDS, evaluate

    if args.action == "status":
        return cmd_status(args)

    size = args.size or ("quick" if args.quick else "full")
    seeds = _seeds(args.seeds, args.quick)
    if not seeds:
        raise CliError("--seeds names no seed.")
    if args.workers < 1:
        raise CliError(f"--workers must be 1 or more, not {args.workers}.")
    overlap = sorted(set(seeds) & set(TUNING_SEEDS))
    if not args.json:
        print(f"tuning seeds (thresholds tuned on these only): {list(TUNING_SEEDS)}")
        print(f"scored seeds: {list(SCORED_SEEDS)}; this run: {seeds} ({size})")
        if overlap:
            print(f"note: {overlap} are tuning seeds; these figures are not held-out.")
        sys.stdout.flush()
    started = time.perf_counter()
    report = evaluate(seeds, size, workers=args.workers)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    data = msgspec.to_builtins(report)
    data["elapsed_s"] = round(elapsed, 1)
    data["held_out"] = not overlap
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    for line in _lines(data):
        print(line)
    return 0


def _mark(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def _lines(d: dict[str, Any]) -> list[str]:
    out = [
        f"{d['events']} fault events, {d['normal_machine_hours']} machine-hours of normal "
        f"operation, {d['elapsed_s']} s",
        f"detection rate {d['detection_rate']:.1%} (goal ≥ 95 %: "
        f"{_mark(d['detection_rate'] >= GOALS['detection_rate'])})",
    ]
    for kind, rate in d["detection_rate_by_fault"].items():
        n = d["events_by_fault"][kind]
        out.append(f"  {kind:<13} {rate:6.1%} of {n:3d} ({_mark(rate >= GOALS['per_fault'])})")
    for key, label in (("gradual", "gradual"), ("abrupt", "abrupt")):
        med = d[f"median_delay_s_{key}"]
        p90 = d[f"p90_delay_s_{key}"]
        goal = GOALS[f"median_delay_s_{key}"]
        ok = med is not None and med <= goal
        out.append(f"median delay {label}: {med} s, p90 {p90} s (goal ≤ {goal:g} s: {_mark(ok)})")
    fa = d["false_alerts_per_machine_hour"]
    out.append(
        f"false alerts {fa:.3f} per machine-hour (goal ≤ 0.125: "
        f"{_mark(fa <= GOALS['false_alerts_per_machine_hour'])}); by detector "
        f"{d['false_alerts_by_detector']}"
    )
    cov = d["projection_coverage"]
    if cov is None:
        out.append(f"projection coverage: not measured ({d['projection_coverage_reason']})")
    else:
        out.append(
            f"projection coverage {cov:.1%} (goal ≥ 80 %: {_mark(cov >= 0.8)}); "
            f"{d['projection_coverage_reason']}"
        )
    for e in d["missed"][:20]:
        out.append(f"  missed: {e['machine']} {e['kind']} severity {e['severity']} in {e['mode']}")
    return out
