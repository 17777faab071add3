"""What an alarm is (:class:`AlarmDef`) and what it is doing now (:class:`AlarmRecord`).

Definitions are compiled from a BIRTH and the site file; records are mutable, one per alarm,
owned by the engine. Both are msgspec Structs kept out of the garbage collector's sight
(``gc=False``: they hold no reference cycles): a plant has tens of thousands of them, and a
full collection that walked them all cost the hub's ingest ~15 % of its rate.

Times are ns UTC (``int``) everywhere, as on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from copilot.protocol import AlarmState, AlarmStatus, Claim, Priority, Shelf

COMM_TAG = "-"
"""The tag part of a communication-loss alarm's id (``<machine>/-/comm``)."""

EventName = Literal[
    "raised",
    "cleared",
    "returned",
    "acked",
    "shelved",
    "unshelved",
    "shelf_expired",
    "reset",
    "claimed",
    "unclaimed",
    "noted",
    "removed",
    "restored",
    "suppressed",
    "unsuppressed",
]
"""What happened to an alarm, as the journal's ``event`` table names it."""


def alarm_id(machine: str, tag: str, condition: str) -> str:
    """``<machine>/<tag>/<condition>``: stable across sessions and hub restarts."""
    return f"{machine}/{tag}/{condition}"


class AlarmDef(msgspec.Struct, frozen=True, gc=False):
    """One alarm as configured: what it watches, how urgent it is, how it behaves.

    ``alias`` is the tag's DATA alias (``-1`` for the link and for anomaly alarms).
    ``limit``/``clear`` (limit alarms): raised when ``direction * (value - limit) >= 0``, cleared
    once ``direction * (value - clear) < 0`` (``clear`` is the limit moved back by the
    deadband). ``on`` (discrete alarms): the values that are the alarm.
    """

    id: str
    machine: str
    tag: str
    condition: str
    priority: Priority
    message: str
    alias: int = -1
    limit: float | None = None
    clear: float | None = None
    direction: int = 0
    on: frozenset[int] = frozenset()
    roc: float | None = None
    on_delay_ns: int = 0
    off_delay_ns: int = 0
    latched: bool = False
    running_only: bool = False
    area: str = ""
    line: str = ""
    unit: str = ""


class AlarmRecord(msgspec.Struct, gc=False):
    """An alarm's live state: the ISA-18.2 state plus what hides it, who did what and when.

    ``raw`` is the condition before the delays (``raw_since`` when it last changed);
    ``active`` the condition after them. ``occurrence`` is the open occurrence's number
    (``0``: none open).
    """

    definition: AlarmDef
    state: AlarmState = "normal"
    raw: bool = False
    raw_since: int = 0
    active: bool = False
    latched: bool = False
    shelf: Shelf | None = None
    removed: Shelf | None = None
    suppressed: bool = False
    silenced: bool = False
    first_out: bool = False
    claim: Claim | None = None
    occurrence: int = 0
    occurrence_suppressed: bool = False
    raised_at: int = 0
    cleared_at: int = 0
    acked_at: int = 0
    acked_by: str = ""
    note: str = ""
    value: float | None = None
    updated: int = 0
    hold_until: int = 0  # after a mode change: the condition must hold past this to raise

    @property
    def id(self) -> str:
        """The alarm's id."""
        return self.definition.id

    @property
    def hidden(self) -> bool:
        """Shelved, suppressed by design or out of service: not presented as needing action."""
        return self.shelf is not None or self.removed is not None or self.suppressed

    @property
    def plain(self) -> bool:
        """Normal and nothing held on it: nothing to show, persist or restore."""
        return (
            self.state == "normal"
            and not self.latched
            and self.shelf is None
            and self.removed is None
            and self.claim is None
        )

    def status(self) -> AlarmStatus:
        """The wire form of this record (built when sent, so it is always current)."""
        d = self.definition
        return AlarmStatus(
            id=d.id,
            machine=d.machine,
            tag=d.tag,
            condition=d.condition,
            priority=d.priority,
            state=self.state,
            active=self.active,
            message=d.message,
            occurrence=self.occurrence,
            raised_at=self.raised_at,
            cleared_at=self.cleared_at,
            acked_at=self.acked_at,
            acked_by=self.acked_by,
            note=self.note,
            value=self.value,
            limit=d.limit,
            latched=self.latched,
            shelf=self.shelf,
            removed=self.removed,
            suppressed=self.suppressed,
            silenced=self.silenced,
            first_out=self.first_out,
            claim=self.claim,
            area=d.area,
            line=d.line,
            updated=self.updated,
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One transition or act, for the journal and the stations.

    ``occurrence`` is the occurrence it belongs to; ``opened``: this change started it;
    ``closed``: it ended occurrence ``closed`` (its number; ``0`` if none ended — with
    ``opened``, a recurrence ended the old one and began ``occurrence``). ``state``, ``value``,
    ``first_out``, ``suppressed`` and ``shelved`` are the record's as the change left it (the
    record itself moves on).
    """

    record: AlarmRecord
    event: EventName
    at: int
    who: str = ""
    note: str = ""
    opened: bool = False
    closed: int = 0
    occurrence: int = 0
    state: str = ""
    value: float | None = None
    first_out: bool = False
    suppressed: bool = False
    shelved: bool = False
