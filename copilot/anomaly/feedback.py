"""Operators' verdicts on anomaly alerts, counted per machine, tag and detector for reports.

A :class:`FeedbackRow` is one verdict as the hub stores it (``anomaly.db``, table ``feedback``;
read by :func:`copilot.hub.anomaly.read_feedback`). :func:`count_feedback` totals them per
``(machine, tag, detector)``; :func:`feedback_lines` prints them under the alarm KPI report.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["VERDICTS", "FeedbackCount", "FeedbackRow", "count_feedback", "feedback_lines"]

VERDICTS = ("useful", "not_useful", "false_alarm")


@dataclass(frozen=True)
class FeedbackRow:
    """One verdict as stored: when, on which machine/tag/detector and alarm, by whom."""

    at: int
    machine: str
    tag: str
    detector: str
    alarm: str
    verdict: str
    who: str
    note: str


@dataclass(frozen=True)
class FeedbackCount:
    """The verdicts given on one detector of one tag."""

    machine: str
    tag: str
    detector: str
    useful: int = 0
    not_useful: int = 0
    false_alarm: int = 0

    @property
    def total(self) -> int:
        """Every verdict counted."""
        return self.useful + self.not_useful + self.false_alarm

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``copilot alarms report --json``, key ``anomaly_feedback``)."""
        return {
            "machine": self.machine,
            "tag": self.tag,
            "detector": self.detector,
            "useful": self.useful,
            "not_useful": self.not_useful,
            "false_alarm": self.false_alarm,
        }


def count_feedback(rows: Iterable[FeedbackRow]) -> list[FeedbackCount]:
    """Verdicts per ``(machine, tag, detector)``: most false alarms first, then most verdicts."""
    counts: dict[tuple[str, str, str], dict[str, int]] = {}
    for r in rows:
        if r.verdict not in VERDICTS:
            continue
        bucket = counts.setdefault((r.machine, r.tag, r.detector), dict.fromkeys(VERDICTS, 0))
        bucket[r.verdict] += 1
    out = [FeedbackCount(m, t, d, **v) for (m, t, d), v in counts.items()]
    out.sort(key=lambda c: (-c.false_alarm, -c.total, c.machine, c.tag, c.detector))
    return out


def feedback_lines(counts: list[FeedbackCount]) -> list[str]:
    """The report's section: one line per tag and detector (or the sentence that there is none)."""
    lines = ["ANOMALY FEEDBACK (operators' verdicts on anomaly alerts, per tag and detector)"]
    if not counts:
        return [*lines, "  none: no verdicts in this period"]
    width = max(24, *(len(f"{c.machine}/{c.tag}") for c in counts))
    lines.append(
        f"  {'MACHINE/TAG':<{width}} {'DETECTOR':<13} {'USEFUL':>6} {'NOT USEFUL':>10} "
        f"{'FALSE ALARM':>11}"
    )
    for c in counts:
        lines.append(
            f"  {c.machine + '/' + c.tag:<{width}} {c.detector:<13} {c.useful:>6} "
            f"{c.not_useful:>10} {c.false_alarm:>11}"
        )
    return lines
