"""Run one benchmark or all of them: ``python -m bench ingest --json``."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "ingest": "bench.ingest",
    "dashboard": "bench.dashboard",
    "command": "bench.command",
    "anomaly": "bench.anomaly",
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--json", action="store_true", help="JSON lines only")
    parser.add_argument("--quick", action="store_true", help="shorter runs (rougher figures)")
    parser.add_argument(
        "--busy-core",
        action="store_true",
        help="keep one core busy with another process (a spinning Python) for the whole run",
    )
    args = parser.parse_args()
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    for name in names:
        try:
            module = importlib.import_module(BENCHMARKS[name])
        except ImportError as exc:
            print(f"bench {name}: not available ({exc})", file=sys.stderr)
            continue
        module.run(json_only=args.json, quick=args.quick, busy=args.busy_core)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
