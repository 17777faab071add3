"""Figures as JSON lines, and a human summary on stderr."""

from __future__ import annotations

import json
import math
import sys
from typing import Literal


def figure(
    name: str,
    value: float | None,
    unit: str,
    op: Literal[">=", "<="],
    goal: float,
    baseline: float | None = None,
    *,
    json_only: bool = False,
    note: str = "",
    reason: str = "",
    **fields: object,
) -> dict[str, object]:
    """Print one figure line on stdout (and a readable one on stderr unless ``json_only``).

    A figure that could not be measured has ``value`` None (or NaN): it is printed as
    ``"value": null, "pass": null`` with ``reason`` saying why, never as a made-up number.
    Extra keyword ``fields`` are added to the JSON line as they are.
    """
    known = value is not None and math.isfinite(value)
    passed: bool | None = None
    if known:
        assert value is not None
        passed = value >= goal if op == ">=" else value <= goal
    line: dict[str, object] = {
        "name": name,
        "value": round(value, 4) if known and value is not None else None,
        "unit": unit,
        "goal": {"op": op, "value": goal},
        "baseline": None if baseline is None else round(baseline, 4),
        "pass": passed,
    }
    if not known:
        line["reason"] = reason or "not measured"
    line.update(fields)
    print(json.dumps(line), flush=True)
    if not json_only:
        base = f" (baseline {baseline:,.4g})" if baseline is not None else ""
        extra = "".join(f", {k} {v}" for k, v in fields.items())
        if known:
            verdict = "PASS" if passed else "FAIL"
            shown = f"{value:,.4g} {unit}"
        else:
            verdict = f"NO FIGURE ({line['reason']})"
            shown = "null"
        print(
            f"  {name}: {shown}{base}{extra} goal {op} {goal:,} → {verdict} {note}",
            file=sys.stderr,
            flush=True,
        )
    return line


def info(
    name: str, value: float | None, unit: str, *, json_only: bool = False, **fields: object
) -> dict[str, object]:
    """A figure without a goal (a baseline, a cost to track): same JSON shape, ``pass`` null."""
    known = value is not None and math.isfinite(value)
    line: dict[str, object] = {
        "name": name,
        "value": round(value, 4) if known and value is not None else None,
        "unit": unit,
        "goal": None,
        "baseline": None,
        "pass": None,
    }
    line.update(fields)
    print(json.dumps(line), flush=True)
    if not json_only:
        shown = f"{value:,.4g} {unit}" if known else "null"
        extra = "".join(f", {k} {v}" for k, v in fields.items())
        print(f"  {name}: {shown}{extra} (no goal)", file=sys.stderr, flush=True)
    return line


def say(text: str, json_only: bool) -> None:
    """Progress for people, on stderr, unless only JSON is wanted."""
    if not json_only:
        print(text, file=sys.stderr, flush=True)
