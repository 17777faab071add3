"""Interlocks and permissives, evaluated from live values — the same code in hub and station.

A machine declares each check in its BIRTH (:class:`~copilot.protocol.Check`): an *interlock*
blocks while its condition holds, a *permissive* blocks while its condition does not. A value
that is missing or not Good blocks either way: the gate never assumes a guard door is closed
because it cannot see it. Blocking checks come first-out: the one whose value changed
earliest leads ("Press 2 cannot start: guard door open"), since it is most likely the cause.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from copilot.protocol import Check, CheckState, severity_of

ValueOf = Callable[[str], "tuple[float | None, int, int]"]
"""``tag → (value or None, quality code, source time ns)`` of a machine's live value."""


def holds(check: Check, value: float) -> bool:
    """Whether the check's condition ``<tag> <op> <value(s)>`` holds for ``value``."""
    match check.op:
        case "eq":
            return value == check.value
        case "ne":
            return value != check.value
        case "lt":
            return value < check.value
        case "le":
            return value <= check.value
        case "gt":
            return value > check.value
        case "ge":
            return value >= check.value
        case "in":
            return value in check.values
        case "not_in":
            return value not in check.values


def evaluate(checks: Sequence[Check], value_of: ValueOf) -> list[CheckState]:
    """Every check's state; blocking ones first, earliest change first (first-out)."""
    out: list[CheckState] = []
    for check in checks:
        value, quality, since = value_of(check.tag)
        if value is None or math.isnan(value) or severity_of(quality) != 0:
            words = f"{check.words} (state of {check.tag.replace('_', ' ')} unknown)"
            out.append(CheckState(kind=check.kind, words=words, ok=False, since=since))
            continue
        condition = holds(check, value)
        blocking = condition if check.kind == "interlock" else not condition
        out.append(CheckState(kind=check.kind, words=check.words, ok=not blocking, since=since))
    blocked = sorted((s for s in out if not s.ok), key=lambda s: s.since)
    return [*blocked, *(s for s in out if s.ok)]


def blockers(states: Sequence[CheckState]) -> list[str]:
    """The words of every blocking check, first-out first."""
    return [s.words for s in states if not s.ok]


def sentence(machine: str, label: str, states: Sequence[CheckState]) -> str:
    """The refusal sentence ("Press 2 cannot start: guard door open."), or ``''``."""
    words = blockers(states)
    if not words:
        return ""
    return f"{machine} cannot {label.lower()}: {', '.join(words)}."
