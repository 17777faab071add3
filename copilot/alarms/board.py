"""What the alarm views show, decided without Qt: states in words, the banner, filters, floods.

Owns the operator-facing reading of :class:`~copilot.protocol.AlarmStatus`: which alarms need
action (unacknowledged, not shelved, not suppressed, not out of service), the state words of the
alarm table, the banner's facts (the most urgent unacknowledged alarm, counts per priority,
whether it flashes), filtering and sorting the table, the live flood watch over a station's
alarms, the alarm-load level against the ISA-18.2 targets, and the way back from the journal's
wire form to :class:`~copilot.alarms.journal.Occurrence` rows for the KPI report. Pure: every
time is passed in (ns UTC ints); nothing reads a clock, a socket or a file.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from copilot.alarms.flood import FloodMeter, FloodRule
from copilot.alarms.journal import Occurrence
from copilot.protocol import PRIORITIES, PRIORITY_RANK, AlarmStatus

NS = 1_000_000_000

StateKind = Literal[
    "unack", "ack", "rtn_unack", "latched", "shelved", "suppressed", "removed", "normal"
]
"""The table's state filter: one kind per row (hiding states win over the ISA state)."""
STATE_KINDS: tuple[StateKind, ...] = (
    "unack",
    "rtn_unack",
    "ack",
    "latched",
    "shelved",
    "suppressed",
    "removed",
    "normal",
)
STATE_KIND_WORDS: dict[StateKind, str] = {
    "unack": "Unacknowledged",
    "rtn_unack": "Returned, unacknowledged",
    "ack": "Acknowledged",
    "latched": "Latched — reset needed",
    "shelved": "Shelved",
    "suppressed": "Suppressed",
    "removed": "Out of service",
    "normal": "Back to normal",
}

LoadLevel = Literal["acceptable", "manageable", "overloaded", "flood"]
ACCEPTABLE_PER_10MIN = 1  # FIELD_NOTES / EEMUA 191: ~1 alarm per 10 min per operator
MANAGEABLE_PER_10MIN = 2  # ~2 per 10 min is the most that can be handled for long


def operator_name(configured: str = "") -> str:
    """Who acts at this station: the configured operator name, else the OS user's name."""
    name = configured.strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user database entry (a bare container)
        return "operator"


def line_title(line: str) -> str:
    """``line-2`` → ``Line 2`` (as the overview titles a line's band)."""
    return line.replace("-", " ").replace("_", " ").strip().capitalize()


def hidden(s: AlarmStatus) -> bool:
    """Shelved, suppressed by design or out of service: shown, never as needing action."""
    return s.suppressed or s.shelf is not None or s.removed is not None


def unacknowledged(s: AlarmStatus) -> bool:
    """Unacknowledged (still active, or returned to normal) and not hidden."""
    return s.state in ("unack", "rtn_unack") and not hidden(s)


def current(s: AlarmStatus) -> bool:
    """Standing in front of the operator: active, unacknowledged or latched, and not hidden."""
    return not hidden(s) and (s.active or s.state != "normal" or s.latched)


def state_kind(s: AlarmStatus) -> StateKind:
    """The row's state for the filter: out of service, suppressed, shelved first."""
    if s.removed is not None:
        return "removed"
    if s.suppressed:
        return "suppressed"
    if s.shelf is not None:
        return "shelved"
    if s.latched and not s.active and s.state == "ack":
        return "latched"
    return s.state


def _clock(ns: int) -> str:
    return time.strftime("%H:%M", time.localtime(ns / NS))


def state_text(s: AlarmStatus) -> str:
    """The state column in words (``Shelved until 14:05``, ``Latched — reset needed``)."""
    kind = state_kind(s)
    if kind == "shelved" and s.shelf is not None:
        if s.shelf.oneshot:
            return "Shelved until it clears"
        return f"Shelved until {_clock(s.shelf.until)}"
    words = STATE_KIND_WORDS[kind]
    if s.latched and kind in ("unack", "rtn_unack") and not s.active:
        words += " (latched)"
    if s.silenced and kind in ("unack", "rtn_unack"):
        words += " · silenced"
    return words


CONDITION_WORDS = {"hihi": "HH", "hi": "H", "lo": "L", "lolo": "LL", "roc": "rate"}


def _num(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"


def short_message(s: AlarmStatus, machine_name: str = "") -> str:
    """The message without its machine's name in front (the machine has a column of its own)."""
    text = s.message or s.id
    for name in (machine_name, s.machine):
        if name and text.startswith(f"{name}: "):
            return text[len(name) + 2 :]
    return text


def value_text(s: AlarmStatus) -> str:
    """``85.3 > 80 H``: the value against the limit it crossed (empty for discrete alarms)."""
    if s.value is None or (s.limit is None and s.condition in ("on", "comm")):
        return ""
    if s.limit is None:
        return _num(s.value)
    sign = "<" if s.condition in ("lo", "lolo") else ">"
    mark = CONDITION_WORDS.get(s.condition, "")
    return f"{_num(s.value)} {sign} {_num(s.limit)} {mark}".rstrip()


def who_text(s: AlarmStatus) -> str:
    """Who acknowledged, claimed, shelved or took it out of service."""
    parts: list[str] = []
    if s.acked_by:
        parts.append(f"ack {s.acked_by}")
    if s.claim is not None:
        parts.append(f"claimed by {s.claim.by}")
    if s.shelf is not None:
        parts.append(f"shelved by {s.shelf.by}: {s.shelf.reason}")
    if s.removed is not None:
        parts.append(f"removed by {s.removed.by}: {s.removed.reason}")
    return " · ".join(parts)


def since_text(ns: int, now_ns: int) -> str:
    """``42 s``, ``7 min``, ``3 h 05``: how long ago, for a banner."""
    s = max(0, (now_ns - ns) // NS)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60:02d}"


def urgency(s: AlarmStatus) -> tuple[int, int, int]:
    """Sort key, most urgent first: needing action, then by priority, then newest."""
    return (0 if unacknowledged(s) else 1, PRIORITY_RANK.get(s.priority, 99), -s.raised_at)


# -- the banner -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BannerFacts:
    """What the alarm banner says.

    ``top`` is the most urgent unacknowledged alarm (highest priority, newest first) or, when
    every current alarm is acknowledged, the most urgent current one. ``counts`` are the current
    alarms per priority (every priority, 0 included); ``unacked`` how many need acknowledging;
    ``flashing`` whether one of them is not silenced (silenced alarms are shown, not announced).
    """

    top: AlarmStatus | None
    counts: dict[str, int]
    unacked: int
    flashing: bool
    silenced: int

    @property
    def total(self) -> int:
        """Current alarms, all priorities."""
        return sum(self.counts.values())


def banner_facts(alarms: Iterable[AlarmStatus]) -> BannerFacts:
    """The banner's facts from a station's alarms (see :class:`BannerFacts`)."""
    shown = sorted((s for s in alarms if current(s)), key=urgency)
    counts = dict.fromkeys(PRIORITIES, 0)
    for s in shown:
        counts[s.priority] = counts.get(s.priority, 0) + 1
    unacked = [s for s in shown if unacknowledged(s)]
    return BannerFacts(
        top=shown[0] if shown else None,
        counts=counts,
        unacked=len(unacked),
        flashing=any(not s.silenced for s in unacked),
        silenced=sum(1 for s in unacked if s.silenced),
    )


# -- the table ------------------------------------------------------------------------------------


def row_key(s: AlarmStatus) -> tuple[str, int]:
    """One table row per occurrence: ``(alarm id, occurrence)``."""
    return (s.id, s.occurrence)


def merge(live: Iterable[AlarmStatus], history: Iterable[AlarmStatus]) -> list[AlarmStatus]:
    """Active and historical alarms in one list, one entry per occurrence (the live one wins).

    A live alarm back to normal whose occurrence the journal also returned is the same row;
    a live status without an occurrence number (never raised) is dropped unless it is hidden
    (a shelf or an out-of-service on a quiet alarm is still worth seeing).
    """
    out: dict[tuple[str, int], AlarmStatus] = {}
    for s in history:
        out[row_key(s)] = s
    for s in live:
        if s.occurrence == 0 and not (s.shelf or s.removed) and s.state == "normal":
            continue
        out[row_key(s)] = s
    return list(out.values())


@dataclass(frozen=True)
class AlarmFilter:
    """What the table shows: priorities, a machine/area/line, state kinds, a text (all: empty)."""

    priorities: frozenset[str] = frozenset()
    place: str = ""  # a machine id, an area or a line (``line-2``)
    states: frozenset[str] = frozenset()
    text: str = ""

    def accepts(self, s: AlarmStatus, machine_name: str = "") -> bool:
        """Whether the row passes every part of the filter."""
        if self.priorities and s.priority not in self.priorities:
            return False
        if self.place and self.place not in (s.machine, s.area, s.line):
            return False
        if self.states and state_kind(s) not in self.states:
            return False
        if self.text:
            words = self.text.casefold()
            hay = " ".join(
                (s.id, machine_name, s.message, s.area, s.line, who_text(s), s.note)
            ).casefold()
            return all(w in hay for w in words.split())
        return True


SortKey = Literal["urgency", "priority", "state", "machine", "message", "raised"]


def sort_alarms(
    alarms: Sequence[AlarmStatus],
    key: SortKey = "urgency",
    descending: bool = False,
    names: Mapping[str, str] | None = None,
) -> list[AlarmStatus]:
    """Sorted rows; ``urgency`` (needing action, priority, newest) is the default order."""
    names = names or {}
    match key:
        case "priority":
            ranked = sorted(alarms, key=lambda s: (PRIORITY_RANK.get(s.priority, 99), -s.raised_at))
        case "state":
            order = {k: i for i, k in enumerate(STATE_KINDS)}
            ranked = sorted(alarms, key=lambda s: (order[state_kind(s)], urgency(s)))
        case "machine":
            ranked = sorted(alarms, key=lambda s: (names.get(s.machine, s.machine), urgency(s)))
        case "message":
            ranked = sorted(alarms, key=lambda s: (s.message.casefold(), urgency(s)))
        case "raised":
            ranked = sorted(alarms, key=lambda s: -s.raised_at)
        case _:
            ranked = sorted(alarms, key=urgency)
    return ranked[::-1] if descending else ranked


# -- floods and the alarm load --------------------------------------------------------------------


def load_level(rate: int, in_flood: bool = False) -> LoadLevel:
    """The 10-minute rate against the targets: ≤ 1 acceptable, ≤ 2 manageable, then over."""
    if in_flood:
        return "flood"
    if rate <= ACCEPTABLE_PER_10MIN:
        return "acceptable"
    if rate <= MANAGEABLE_PER_10MIN:
        return "manageable"
    return "overloaded"


@dataclass
class FloodWatch:
    """A :class:`~copilot.alarms.flood.FloodMeter` fed from a station's alarms.

    :meth:`update` counts each occurrence's raise once (alarms suppressed by design are no
    load); the station's snapshot includes the alarms raised within the window, so a station
    that joins during a flood sees it. The flood is summed per line (``9 from Line 2``).
    """

    rule: FloodRule = field(default_factory=FloodRule)
    meter: FloodMeter = field(init=False)
    _seen: dict[tuple[str, int], int] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        """Start an empty meter with the rule."""
        self.meter = FloodMeter(self.rule)

    def update(self, alarms: Iterable[AlarmStatus], now_ns: int) -> None:
        """Count the raises not yet counted; forget those that have left the window."""
        horizon = now_ns - self.rule.window_ns
        fresh = sorted(
            (s for s in alarms if s.occurrence and not s.suppressed and s.raised_at > horizon),
            key=lambda s: s.raised_at,
        )
        for s in fresh:
            key = row_key(s)
            if key in self._seen:
                continue
            self._seen[key] = s.raised_at
            self.meter.add(s.raised_at, line_title(s.line) or s.area)
        self._seen = {k: t for k, t in self._seen.items() if t > horizon}

    def rate(self, now_ns: int) -> int:
        """Alarms raised in the trailing window."""
        return self.meter.rate(now_ns)

    def in_flood(self, now_ns: int) -> bool:
        """Whether this is a flood now (with the rule's hysteresis)."""
        return self.meter.in_flood(now_ns)

    def level(self, now_ns: int) -> LoadLevel:
        """The alarm load now (see :func:`load_level`)."""
        return load_level(self.rate(now_ns), self.in_flood(now_ns))

    def summary(self, now_ns: int) -> str:
        """``12 alarms in 10 min, 9 from Line 2``."""
        return self.meter.summary(now_ns)


def first_outs(alarms: Iterable[AlarmStatus]) -> list[AlarmStatus]:
    """Each machine's first-out alarm still standing, most urgent first (one per machine)."""
    best: dict[str, AlarmStatus] = {}
    for s in alarms:
        if not s.first_out or s.suppressed or (s.state == "normal" and not s.active):
            continue
        held = best.get(s.machine)
        if held is None or s.raised_at < held.raised_at:
            best[s.machine] = s
    return sorted(best.values(), key=lambda s: (PRIORITY_RANK.get(s.priority, 99), s.raised_at))


# -- KPIs from the journal's wire form ------------------------------------------------------------


def occurrence_of(s: AlarmStatus) -> Occurrence:
    """The journal row an ``ALARM_HIST`` status was made from (the hub's inverse mapping).

    The wire form does not say whether an occurrence was shelved at some point: ``shelved`` is
    true only if it is shelved in this status.
    """
    ended = s.updated if s.state == "normal" and not s.active else None
    return Occurrence(
        id=s.occurrence,
        alarm=s.id,
        machine=s.machine,
        area=s.area,
        line=s.line,
        tag=s.tag,
        condition=s.condition,
        priority=s.priority,
        message=s.message,
        raised_at=s.raised_at,
        cleared_at=s.cleared_at or None,
        acked_at=s.acked_at or None,
        acked_by=s.acked_by or None,
        ended_at=ended or None,
        value=s.value,
        limit=s.limit,
        suppressed=s.suppressed,
        shelved=s.shelf is not None,
        first_out=s.first_out,
        note=s.note,
    )


def occurrences(history: Iterable[AlarmStatus]) -> list[Occurrence]:
    """One :class:`Occurrence` per journaled occurrence (by occurrence number; last one wins)."""
    out: dict[int, Occurrence] = {}
    for s in history:
        if s.occurrence:
            out[s.occurrence] = occurrence_of(s)
    return list(out.values())
