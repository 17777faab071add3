"""The alarm engine: definitions from BIRTH and the site file, batches in, transitions out.

Pure: no sockets, no files, no clock reads (every method takes the time), so the hub's alarm
service, tests and benchmarks drive it the same way. What it returns are
:class:`~copilot.alarms.model.Change` values, which the service journals and publishes.

* **Definitions.** Each tag with ``limits`` gets HIHI/HI/LO/LOLO alarms (priorities high,
  medium, medium, high unless its ``alarm`` says otherwise); a tag whose ``alarm.on`` lists
  values gets a discrete alarm; ``alarm.roc`` a rate-of-change alarm; every machine a
  communication-loss alarm (its agent went silent or its key was revoked; a clean shutdown is
  not an alarm). Anomaly alarms come from :meth:`AlarmEngine.external`.
* **Delays.** A condition must hold ``on_delay`` before it raises and be gone ``off_delay``
  before it clears; the deadband does the same in value.
* **Modes.** The ``state`` tag's label picks the policy from the site's mode table; low limits
  and ``running_only`` alarms mean something only while running. Leaving suppression, an alarm
  whose condition holds is raised only once it has held ``settle`` (the machine's start-up).
* **First out.** The first visible alarm of a machine with none active is marked; the mark
  stays on its occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from copilot.alarms import states
from copilot.alarms.config import AlarmConfig
from copilot.alarms.evaluate import LEVELS, ConditionTable, ModeChange, RawChange
from copilot.alarms.model import COMM_TAG, AlarmDef, AlarmRecord, Change, alarm_id
from copilot.protocol import AlarmAction, AlarmStatus, Birth, MachineInfo, Priority, TagSpec

DEFAULT_PRIORITIES: dict[str, Priority] = {
    "hihi": "high",
    "hi": "medium",
    "lo": "medium",
    "lolo": "high",
    "roc": "medium",
    "comm": "high",
}
_WORDS = {
    "hihi": "high-high",
    "hi": "high",
    "lo": "low",
    "lolo": "low-low",
    "roc": "changing fast",
}
RUNNING_ONLY_CONDITIONS = frozenset({"lo", "lolo"})
NS = 1_000_000_000


def _num(x: float) -> str:
    return f"{x:.6g}"


def _label(tag: TagSpec) -> str:
    text = tag.description.strip()
    if text:
        # "Guard door open (true) or closed (false)" → "Guard door open"
        return re.sub(r"\s*\(true\).*$", "", text)
    return tag.name.replace("_", " ").capitalize()


def definitions(info: MachineInfo, tags: Iterable[TagSpec]) -> list[AlarmDef]:
    """Every alarm of a machine whose (effective) tags are ``tags``, plus its link alarm."""
    out: list[AlarmDef] = []
    common = {"machine": info.id, "area": info.area, "line": info.line}
    for tag in tags:
        spec = tag.alarm
        prio = dict(spec.priorities) if spec else {}
        delays = {
            "on_delay_ns": (spec.on_delay_ms if spec else 0) * 1_000_000,
            "off_delay_ns": (spec.off_delay_ms if spec else 0) * 1_000_000,
            "latched": spec.latched if spec else False,
        }
        running_only = spec.running_only if spec else False
        label = _label(tag)
        unit = f" {tag.unit}" if tag.unit else ""
        limits = tag.limits
        for j, cond in enumerate(LEVELS):
            limit = getattr(limits, cond) if limits else None
            if limit is None:
                continue
            direction = 1 if j < 2 else -1
            text = f"{info.name}: {label} {_WORDS[cond]} (limit {_num(limit)}{unit})"
            if spec and spec.message:
                text = f"{info.name}: {spec.message} ({_WORDS[cond]}, limit {_num(limit)}{unit})"
            out.append(
                AlarmDef(
                    id=alarm_id(info.id, tag.name, cond),
                    tag=tag.name,
                    condition=cond,
                    priority=prio.get(cond, DEFAULT_PRIORITIES[cond]),
                    message=text,
                    alias=tag.alias,
                    limit=float(limit),
                    clear=float(limit) - direction * float(tag.deadband),
                    direction=direction,
                    running_only=running_only or cond in RUNNING_ONLY_CONDITIONS,
                    unit=tag.unit,
                    **common,  # type: ignore[arg-type]
                    **delays,  # type: ignore[arg-type]
                )
            )
        on = frozenset(v for v in spec.on if 0 <= v < 63) if spec else frozenset()
        if spec and on and tag.type in ("bool", "enum", "int"):
            if spec.message:
                text = f"{info.name}: {spec.message}"
            elif tag.type == "enum" and tag.labels:
                names = [tag.labels[v] for v in sorted(on) if v < len(tag.labels)]
                text = f"{info.name}: {label} {' or '.join(names)}".rstrip()
            else:
                text = f"{info.name}: {label}"
            out.append(
                AlarmDef(
                    id=alarm_id(info.id, tag.name, "on"),
                    tag=tag.name,
                    condition="on",
                    priority=prio.get("on", spec.priority),
                    message=text,
                    alias=tag.alias,
                    on=on,
                    running_only=running_only,
                    unit=tag.unit,
                    **common,  # type: ignore[arg-type]
                    **delays,  # type: ignore[arg-type]
                )
            )
        if spec and spec.roc is not None and spec.roc > 0:
            out.append(
                AlarmDef(
                    id=alarm_id(info.id, tag.name, "roc"),
                    tag=tag.name,
                    condition="roc",
                    priority=prio.get("roc", DEFAULT_PRIORITIES["roc"]),
                    message=f"{info.name}: {label} changing fast "
                    f"(more than {_num(spec.roc)}{unit}/s)",
                    alias=tag.alias,
                    roc=float(spec.roc),
                    running_only=running_only,
                    unit=f"{tag.unit}/s" if tag.unit else "/s",
                    **common,  # type: ignore[arg-type]
                    **delays,  # type: ignore[arg-type]
                )
            )
    out.append(
        AlarmDef(
            id=alarm_id(info.id, COMM_TAG, "comm"),
            tag=COMM_TAG,
            condition="comm",
            priority=DEFAULT_PRIORITIES["comm"],
            message=f"{info.name}: no data — its agent went silent",
            **common,  # type: ignore[arg-type]
        )
    )
    return out


@dataclass
class MachineAlarms:
    """One machine's definitions, compiled conditions and records."""

    info: MachineInfo
    table: ConditionTable
    records: list[AlarmRecord]
    mode: str | None = None


@dataclass
class ActResult:
    """What :meth:`AlarmEngine.act` did: ids acted on, refusals (one sentence each), changes."""

    done: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)


class AlarmEngine:
    """Every alarm of the plant, evaluated from what the hub ingests."""

    def __init__(
        self,
        config: AlarmConfig | None = None,
        *,
        settle_s: float = 15.0,
        max_shelve_s: float = 8 * 3600.0,
        first_occurrence: int = 1,
    ) -> None:
        self.config = config or AlarmConfig()
        self.settle_ns = int(settle_s * NS)
        self.max_shelve_ns = int(max_shelve_s * NS)
        self.records: dict[str, AlarmRecord] = {}
        self.machines: dict[str, MachineAlarms] = {}
        self._next_occurrence = first_occurrence
        self._pending: set[str] = set()  # raw condition differs from active: delays running
        self._timed: set[str] = set()  # alarms on a timed shelf
        self.evaluated = 0

    def _new_occurrence(self) -> int:
        n = self._next_occurrence
        self._next_occurrence += 1
        return n

    # -- definitions ----------------------------------------------------------------------------

    def on_birth(self, birth: Birth, at: int) -> list[Change]:
        """A machine (re)started its session: (re)compile its alarms; keep their states."""
        info = birth.machine
        tags = [t for t in (self.config.effective(info, t) for t in birth.tags) if t is not None]
        defs = definitions(info, tags)
        state_tag = next((t for t in birth.tags if t.name == "state" and t.type == "enum"), None)
        size = max((t.alias for t in birth.tags), default=-1) + 1
        table = ConditionTable(
            defs,
            size,
            state_alias=state_tag.alias if state_tag else -1,
            state_labels=tuple(state_tag.labels or ()) if state_tag else (),
        )
        records: list[AlarmRecord] = []
        for d in defs:
            rec = self.records.get(d.id)
            if rec is None:
                rec = AlarmRecord(d)
                self.records[d.id] = rec
            else:
                rec.definition = d
            records.append(rec)
        old = self.machines.get(info.id)
        m = MachineAlarms(info, table, records)
        if old is not None:
            m.mode = old.mode
            table.mode = old.mode
        # The new session's first values decide the conditions: start from the records' view.
        for rec in records:
            d = rec.definition
            if d.condition in LEVELS and d.alias >= 0:
                table.set_raw(d.alias, LEVELS.index(d.condition), rec.raw)
            elif d.condition == "on" and d.alias >= 0:
                table.on_raw[d.alias] = rec.raw
            elif d.condition == "roc" and d.alias >= 0:
                table.roc_raw[d.alias] = rec.raw
        self.machines[info.id] = m
        comm = self.records[alarm_id(info.id, COMM_TAG, "comm")]
        return self._raw(m, comm, False, at, None)

    # -- conditions ------------------------------------------------------------------------------

    def on_samples(
        self,
        machine: str,
        aliases: npt.NDArray[np.int64],
        times_s: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        qualities: npt.NDArray[np.uint8] | None,
    ) -> list[Change]:
        """One DATA batch as the hub applied it (times in float seconds)."""
        m = self.machines.get(machine)
        if m is None or aliases.size == 0:
            return []
        self.evaluated += int(aliases.size)
        raw, modes = m.table.evaluate(aliases, times_s, values, qualities)
        out: list[Change] = []
        # A mode change applies before the conditions of the same instant (they are judged in
        # the new mode); ``raw`` is in time order already.
        events: list[RawChange | ModeChange] = (
            sorted([*modes, *raw], key=lambda e: (e.at, isinstance(e, RawChange)))
            if modes
            else [*raw]
        )
        for ev in events:
            if isinstance(ev, ModeChange):
                out += self._mode(m, ev.mode, ev.at)
            else:  # the first records of a machine are its definitions, in the same order
                out += self._raw(m, m.records[ev.index], ev.active, ev.at, ev.value)
        if self._pending:
            out += self._due(round(float(times_s.max()) * 1e9), machine)
        return out

    def on_link(self, machine: str, lost: bool, at: int) -> list[Change]:
        """The machine's agent went silent or was cut (``lost``), or spoke again."""
        m = self.machines.get(machine)
        if m is None:
            return []
        return self._raw(m, self.records[alarm_id(machine, COMM_TAG, "comm")], lost, at, None)

    def external(
        self,
        machine: str,
        name: str,
        active: bool,
        at: int,
        *,
        priority: Priority = "low",
        message: str = "",
        value: float | None = None,
        tag: str = COMM_TAG,
    ) -> list[Change]:
        """An alarm raised by another subsystem (the anomaly detectors: ``anomaly:<name>``)."""
        m = self.machines.get(machine)
        if m is None:
            return []
        condition = name if name.startswith("anomaly:") else f"anomaly:{name}"
        aid = alarm_id(machine, tag, condition)
        rec = self.records.get(aid)
        if rec is None:
            if not active:
                return []
            d = AlarmDef(
                id=aid,
                machine=machine,
                tag=tag,
                condition=condition,
                priority=priority,
                message=message or f"{m.info.name}: {condition}",
                area=m.info.area,
                line=m.info.line,
            )
            rec = AlarmRecord(d)
            self.records[aid] = rec
            m.records.append(rec)
        return self._raw(m, rec, active, at, value)

    def _raw(
        self, m: MachineAlarms, rec: AlarmRecord, active: bool, at: int, value: float | None
    ) -> list[Change]:
        """The raw condition of ``rec`` is now ``active``: apply at once or start its delay."""
        if rec.raw != active:
            rec.raw = active
            rec.raw_since = at
        if active:
            rec.value = value if value is not None else rec.value
        if rec.raw == rec.active:
            self._pending.discard(rec.id)
            return []
        delay = rec.definition.on_delay_ns if active else rec.definition.off_delay_ns
        due = rec.raw_since + delay
        if active:
            due = max(due, rec.hold_until)
        if at >= due:
            self._pending.discard(rec.id)
            return self._condition(m, rec, active, at)
        self._pending.add(rec.id)
        return []

    def _condition(self, m: MachineAlarms, rec: AlarmRecord, active: bool, at: int) -> list[Change]:
        visible_before = self._visible_active(m)
        changes = states.condition(rec, active, at, rec.value, self._new_occurrence)
        if changes and changes[0].opened and not rec.hidden and not visible_before:
            rec.first_out = True
            changes[0] = replace(changes[0], first_out=True)
        return changes

    @staticmethod
    def _visible_active(m: MachineAlarms) -> bool:
        return any(r.active and not r.hidden and r.state != "normal" for r in m.records)

    def _due(self, now: int, machine: str | None = None) -> list[Change]:
        out: list[Change] = []
        for aid in list(self._pending):
            rec = self.records.get(aid)
            if rec is None:
                self._pending.discard(aid)
                continue
            if machine is not None and rec.definition.machine != machine:
                continue
            m = self.machines.get(rec.definition.machine)
            if m is None:
                continue
            out += self._raw(m, rec, rec.raw, now, None)
        return out

    # -- modes -----------------------------------------------------------------------------------

    def _mode(self, m: MachineAlarms, mode: str, at: int) -> list[Change]:
        m.mode = mode
        policy = self.config.policy(mode)
        out: list[Change] = []
        for rec in m.records:
            d = rec.definition
            if d.condition == "comm":
                continue
            suppressed = policy == "suppressed" or (
                policy == "running_only_suppressed" and d.running_only
            )
            rec.silenced = policy == "silenced"
            hold = at + max(self.settle_ns, d.on_delay_ns)
            out += states.suppress(rec, suppressed, at, hold)
            if not suppressed and rec.raw and not rec.active:
                rec.hold_until = max(rec.hold_until, hold)
                self._pending.add(rec.id)
        return out

    # -- time ------------------------------------------------------------------------------------

    def tick(self, now: int) -> list[Change]:
        """Delays that ran out and shelves that expired, at ``now`` (ns UTC)."""
        out = self._due(now) if self._pending else []
        for aid in list(self._timed):
            rec = self.records.get(aid)
            shelf = rec.shelf if rec is not None else None
            if rec is None or shelf is None or shelf.oneshot or not shelf.until:
                self._timed.discard(aid)
            elif now >= shelf.until:
                self._timed.discard(aid)
                out += states.unshelve(rec, "", now, expired=True)
        return out

    def _track(self, rec: AlarmRecord) -> None:
        if rec.shelf is not None and not rec.shelf.oneshot and rec.shelf.until:
            self._timed.add(rec.id)
        else:
            self._timed.discard(rec.id)

    # -- people's acts ----------------------------------------------------------------------------

    def act(
        self,
        action: AlarmAction,
        ids: Sequence[str],
        who: str,
        now: int,
        *,
        note: str = "",
        duration_s: float = 0.0,
        oneshot: bool = False,
    ) -> ActResult:
        """Do ``action`` to each alarm in ``ids``; refusals are per alarm, in one sentence."""
        result = ActResult()
        if not who.strip():
            for aid in ids:
                result.refused[aid] = "Say who is acting (a name is required)."
            return result
        until = 0
        if action == "shelve" and not oneshot:
            if duration_s <= 0:
                for aid in ids:
                    result.refused[aid] = "Give the shelf a duration, or shelve it one-shot."
                return result
            until = now + min(int(duration_s * NS), self.max_shelve_ns)
        for aid in ids:
            rec = self.records.get(aid)
            if rec is None:
                result.refused[aid] = f"There is no alarm {aid}."
                continue
            try:
                changes = self._act_one(rec, action, who, now, note, until, oneshot)
            except states.RefusedError as exc:
                result.refused[aid] = str(exc)
                continue
            self._track(rec)
            result.done.append(aid)
            result.changes += changes
        return result

    def _act_one(
        self,
        rec: AlarmRecord,
        action: AlarmAction,
        who: str,
        now: int,
        note: str,
        until: int,
        oneshot: bool,
    ) -> list[Change]:
        match action:
            case "ack":
                return states.acknowledge(rec, who, note, now)
            case "shelve":
                return states.shelve(rec, who, note, now, until, oneshot)
            case "unshelve":
                return states.unshelve(rec, who, now)
            case "reset":
                return states.reset(rec, who, now)
            case "claim":
                return states.claim(rec, who, now)
            case "unclaim":
                return states.unclaim(rec, who, now)
            case "note":
                return states.add_note(rec, who, note, now)
            case "remove":
                return states.remove(rec, who, note, now)
            case "restore":
                return states.restore(rec, who, now)
        raise states.RefusedError(f"Unknown action {action!r}.")

    # -- state for stations and restarts -----------------------------------------------------------

    def statuses(self, prefix: str = "", recent_since: int = 0) -> list[AlarmStatus]:
        """Every alarm that is not plainly normal (or was raised since ``recent_since``)."""
        return [
            rec.status()
            for rec in self.records.values()
            if rec.definition.machine.startswith(prefix)
            and (not rec.plain or (recent_since and rec.raised_at >= recent_since))
        ]

    def restore_state(self, saved: Iterable[AlarmStatus], next_occurrence: int) -> None:
        """Take back the alarms a previous run left not normal (from the journal)."""
        self._next_occurrence = max(self._next_occurrence, next_occurrence)
        for s in saved:
            d = AlarmDef(
                id=s.id,
                machine=s.machine,
                tag=s.tag,
                condition=s.condition,
                priority=s.priority,
                message=s.message,
                limit=s.limit,
                area=s.area,
                line=s.line,
            )
            self.records[s.id] = AlarmRecord(
                d,
                state=s.state,
                raw=s.active,
                active=s.active,
                latched=s.latched,
                shelf=s.shelf,
                removed=s.removed,
                suppressed=s.suppressed,
                silenced=s.silenced,
                first_out=s.first_out,
                claim=s.claim,
                occurrence=s.occurrence,
                raised_at=s.raised_at,
                cleared_at=s.cleared_at,
                acked_at=s.acked_at,
                acked_by=s.acked_by,
                note=s.note,
                value=s.value,
                updated=s.updated,
            )
            self._track(self.records[s.id])

    def counts(self) -> dict[str, int]:
        """Alarms by state, for the hub's status."""
        out = {"defined": len(self.records), "unack": 0, "ack": 0, "rtn_unack": 0}
        out.update(shelved=0, suppressed=0, removed=0, evaluated_samples=self.evaluated)
        for rec in self.records.values():
            if rec.state != "normal":
                out[rec.state] += 1
            out["shelved"] += rec.shelf is not None
            out["suppressed"] += rec.suppressed
            out["removed"] += rec.removed is not None
        return out
