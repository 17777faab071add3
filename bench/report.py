"""Figures as JSON lines, and a human summary on stderr."""

from __future__ import annotations

import json
import sys
from typing import Literal


def figure(
    name: str,
    value: float,
    unit: str,
    op: Literal[">=", "<="],
    goal: float,
    baseline: float | None = None,
    *,
    json_only: bool = False,
    note: str = "",
) -> dict[str, object]:
    """Print one figure line on stdout (and a readable one on stderr unless ``json_only``)."""
    passed = value >= goal if op == ">=" else value <= goal
    line = {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "goal": {"op": op, "value": goal},
        "baseline": None if baseline is None else round(baseline, 4),
        "pass": passed,
    }
    print(json.dumps(line), flush=True)
    if not json_only:
        base = f" (baseline {baseline:,.4g})" if baseline is not None else ""
        verdict = "PASS" if passed else "FAIL"
        print(
            f"  {name}: {value:,.4g} {unit}{base} goal {op} {goal:,} → {verdict} {note}",
            file=sys.stderr,
            flush=True,
        )
    return line


def say(text: str, json_only: bool) -> None:
    """Progress for people, on stderr, unless only JSON is wanted."""
    if not json_only:
        print(text, file=sys.stderr, flush=True)
