"""Alarm-load KPIs (ISA-18.2 / EEMUA 191) of a period, from journaled occurrences.

Owns the KPI definitions and their computation; pure (no I/O, no clock: the period is passed
in, ns UTC). :func:`compute_kpis` takes the :class:`~copilot.alarms.journal.Occurrence` rows of
the journal and returns a :class:`KpiReport` whose :meth:`~KpiReport.to_dict` always has every
key (``copilot alarms report --json`` prints it).

What counts:

* The alarm load is the occurrences raised in ``[since, until)`` that were not suppressed by
  design. Suppressed ones are journaled but are no load: they appear only in ``suppressed``.
* Occurrences raised before ``since`` may be passed too: they never count as load, but one
  still active during the period is ``standing``/``stale`` like any other, and their raises
  carry the flood state into the period (a flood that began before ``since``).
* Everything is as known at ``until``: a clear, an acknowledgement after ``until`` has not
  happened yet (so the report of a past day is the same whenever it is run).
* Windows are half-open like the flood rule's (:mod:`copilot.alarms.flood`): a window of
  length ``w`` holds raises less than ``w`` apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from copilot.alarms.flood import NS_PER_S, FloodRule, flood_intervals, window_counts
from copilot.alarms.journal import Occurrence
from copilot.protocol.messages import PRIORITIES

TEN_MIN_NS = 600 * NS_PER_S
TOP_N = 10


@dataclass(frozen=True, slots=True)
class KpiDefinitions:
    """What the report calls chattering, fleeting, stale and a flood (printed with it).

    Chattering: at least ``chatter_raises`` raises of the same alarm less than
    ``chatter_window_s`` apart. Fleeting: active (raise to clear) for less than ``fleeting_s``.
    Stale: active for more than ``stale_s``. Flood: :class:`~copilot.alarms.flood.FloodRule`.
    """

    chatter_raises: int = 3
    chatter_window_s: float = 60.0
    fleeting_s: float = 1.0
    stale_s: float = 24 * 3600.0
    flood: FloodRule = field(default_factory=FloodRule)

    def __post_init__(self) -> None:
        """Refuse definitions that mean nothing (raises :class:`ValueError` saying why)."""
        if self.chatter_raises < 2:
            raise ValueError(f"chatter_raises must be 2 or more, not {self.chatter_raises}.")
        for name in ("chatter_window_s", "fleeting_s", "stale_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}.")

    def to_dict(self) -> dict[str, Any]:
        """The definitions as JSON-ready values."""
        return {
            "chatter_raises": self.chatter_raises,
            "chatter_window_s": self.chatter_window_s,
            "fleeting_s": self.fleeting_s,
            "stale_s": self.stale_s,
            "flood": {
                "window_s": self.flood.window_s,
                "start_above": self.flood.start_above,
                "end_below": self.flood.end_below,
            },
        }

    def describe(self) -> list[str]:
        """The definitions in plain words, one line each."""
        rule = self.flood
        return [
            f"chattering: {self.chatter_raises} or more raises of one alarm within "
            f"{self.chatter_window_s:g} s",
            f"fleeting: active for less than {self.fleeting_s:g} s",
            f"stale: active for more than {self.stale_s / 3600:g} h",
            f"flood: starts above {rule.start_above} alarms in {rule.window_text()}, "
            f"ends below {rule.end_below}",
        ]


@dataclass(frozen=True, slots=True)
class BadActor:
    """One of the alarms raised most often: its id, its raises and their share of the load."""

    alarm: str
    count: int
    share_pct: float


@dataclass(frozen=True, slots=True)
class KpiReport:
    """The alarm-load figures of ``[since_ns, until_ns)`` (see the module docstring)."""

    since_ns: int
    until_ns: int
    total_alarms: int
    average_rate_per_10min: float
    peak_10min: int
    time_in_flood_pct: float
    top10_share_pct: float
    bad_actors: tuple[BadActor, ...]
    chattering: int
    chattering_alarms: tuple[str, ...]
    fleeting: int
    stale: int
    priority_distribution: dict[str, float]
    standing: int
    shelved: int
    mean_time_to_ack_s: float | None
    suppressed: int
    definitions: KpiDefinitions

    def to_dict(self) -> dict[str, Any]:
        """The report as one JSON-ready object; every key is always present."""
        return {
            "since_ns": self.since_ns,
            "until_ns": self.until_ns,
            "total_alarms": self.total_alarms,
            "average_rate_per_10min": self.average_rate_per_10min,
            "peak_10min": self.peak_10min,
            "time_in_flood_pct": self.time_in_flood_pct,
            "top10_share_pct": self.top10_share_pct,
            "bad_actors": [
                {"alarm": b.alarm, "count": b.count, "share_pct": b.share_pct}
                for b in self.bad_actors
            ],
            "chattering": self.chattering,
            "chattering_alarms": list(self.chattering_alarms),
            "fleeting": self.fleeting,
            "stale": self.stale,
            "priority_distribution": dict(self.priority_distribution),
            "standing": self.standing,
            "shelved": self.shelved,
            "mean_time_to_ack_s": self.mean_time_to_ack_s,
            "suppressed": self.suppressed,
            "definitions": self.definitions.to_dict(),
        }


def compute_kpis(
    occurrences: Sequence[Occurrence],
    since_ns: int,
    until_ns: int,
    definitions: KpiDefinitions | None = None,
) -> KpiReport:
    """The KPIs of ``[since_ns, until_ns)`` from ``occurrences`` (any order)."""
    if until_ns <= since_ns:
        raise ValueError(f"The period must end after it starts ({since_ns} → {until_ns}).")
    defs = definitions or KpiDefinitions()
    span = until_ns - since_ns
    counted = [o for o in occurrences if not o.suppressed and o.raised_at < until_ns]
    load = sorted((o for o in counted if o.raised_at >= since_ns), key=lambda o: o.raised_at)
    total = len(load)
    raised = np.array([o.raised_at for o in load], dtype=np.int64)

    floods = flood_intervals([o.raised_at for o in counted], defs.flood, until=until_ns)
    in_flood = sum(max(0, end - max(start, since_ns)) for start, end in floods)

    per_alarm = Counter(o.alarm for o in load)
    top = sorted(per_alarm.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
    chatterers = _chattering(load, defs)

    by_priority = Counter(o.priority for o in load)
    keys = list(PRIORITIES) + sorted(set(by_priority) - set(PRIORITIES))

    def active_end(o: Occurrence) -> int | None:
        """When the condition went away, if by ``until`` (else None: still active)."""
        end = o.cleared_at if o.cleared_at is not None else o.ended_at
        return end if end is not None and end <= until_ns else None

    standing = [o for o in counted if active_end(o) is None]
    stale_ns = defs.stale_s * NS_PER_S
    stale = [
        o
        for o in counted
        if ((end := active_end(o)) is None or end > since_ns)  # active during the period
        and (until_ns if end is None else end) - o.raised_at > stale_ns
    ]
    fleeting = [
        o
        for o in load
        if o.cleared_at is not None
        and o.cleared_at <= until_ns
        and o.cleared_at - o.raised_at < defs.fleeting_s * NS_PER_S
    ]
    acked = [
        (o.acked_at - o.raised_at) / NS_PER_S
        for o in load
        if o.acked_at is not None and o.acked_at <= until_ns
    ]
    return KpiReport(
        since_ns=since_ns,
        until_ns=until_ns,
        total_alarms=total,
        average_rate_per_10min=total / (span / TEN_MIN_NS),
        peak_10min=int(window_counts(raised, TEN_MIN_NS).max(initial=0)),
        time_in_flood_pct=100.0 * in_flood / span,
        top10_share_pct=_pct(sum(n for _, n in top), total),
        bad_actors=tuple(BadActor(alarm, n, _pct(n, total)) for alarm, n in top),
        chattering=len(chatterers),
        chattering_alarms=tuple(chatterers),
        fleeting=len(fleeting),
        stale=len(stale),
        priority_distribution={p: _pct(by_priority[p], total) for p in keys},
        standing=len(standing),
        shelved=sum(1 for o in load if o.shelved),
        mean_time_to_ack_s=sum(acked) / len(acked) if acked else None,
        suppressed=sum(
            1 for o in occurrences if o.suppressed and since_ns <= o.raised_at < until_ns
        ),
        definitions=defs,
    )


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def _chattering(load: Sequence[Occurrence], defs: KpiDefinitions) -> list[str]:
    """The alarms (sorted) with ``chatter_raises`` raises less than the window apart."""
    k = defs.chatter_raises
    if len(load) < k:
        return []
    names, codes = np.unique(np.array([o.alarm for o in load]), return_inverse=True)
    times = np.array([o.raised_at for o in load], dtype=np.int64)
    order = np.lexsort((times, codes))  # by alarm, then by time
    codes, times = codes[order], times[order]
    # The k raises from i to i + k - 1 are of one alarm and closer than the window.
    same = codes[: -(k - 1)] == codes[k - 1 :]
    close = times[k - 1 :] - times[: -(k - 1)] < round(defs.chatter_window_s * NS_PER_S)
    return [str(name) for name in names[np.unique(codes[: -(k - 1)][same & close])]]


def figure_rows(k: KpiReport) -> list[tuple[str, str, str]]:
    """``(figure, value, target)`` rows in plain words, as the CLI and the KPI view show them.

    Targets are FIELD_NOTES' (EEMUA 191 / ISA-18.2) per operator.
    """
    ack = k.mean_time_to_ack_s
    return [
        ("alarms raised", f"{k.total_alarms}", ""),
        (
            "average rate",
            f"{k.average_rate_per_10min:.2f} per 10 min",
            "≤ 1 per 10 min acceptable, ≤ 2 manageable",
        ),
        ("peak in any 10 min", f"{k.peak_10min}", "≤ 10 (more starts a flood)"),
        ("time in flood", f"{k.time_in_flood_pct:.1f} %", "< 1 %"),
        ("top-10 share of load", f"{k.top10_share_pct:.1f} %", "~1–5 %"),
        ("chattering alarms", f"{k.chattering}", "0"),
        ("fleeting occurrences", f"{k.fleeting}", ""),
        ("stale occurrences", f"{k.stale}", "< 5 on any day"),
        ("standing at the end", f"{k.standing}", ""),
        ("shelved occurrences", f"{k.shelved}", ""),
        ("mean time to ack", "-" if ack is None else f"{ack:.1f} s", ""),
        ("suppressed by design", f"{k.suppressed}", "not alarm load, not counted above"),
    ]
