"""The alarm service: the engine fed from every batch, its journal, acts, queries, snapshots.

Alarm state lives here, in the hub, so an acknowledgement on one station is seen on all: each
change is published on ``a/<machine>/`` under the hub's ``(hub_epoch, hub_seq)`` and every
alarm that is not plainly normal (or was raised within ``alarm_recent_s``, for the stations'
flood meters) is part of a station's snapshot.

Durability: transitions are journaled through the journal's writer thread (no fsync on the
hub's loop). A person's act (``ALARM_ACT``) is answered — and its result published — only once
the journal has committed it, so an acknowledgement a station was told about survives a
``kill -9`` of the hub. On start the journal's ``state`` table brings back every alarm that was
active, acknowledged, latched, shelved (with its expiry) or out of service.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import msgspec

from copilot.alarms import AlarmConfig, FloodMeter, journal_path, read_occurrences
from copilot.alarms.engine import AlarmEngine
from copilot.alarms.journal import MIGRATIONS, Occurrence
from copilot.alarms.model import Change
from copilot.hub.events import (
    Event,
    MachineBorn,
    MachineOffline,
    MachineResumed,
    SamplesIngested,
)
from copilot.hub.gate import GateService
from copilot.hub.service import Sender, Service
from copilot.protocol import (
    TOPIC_ALARM,
    AlarmAct,
    AlarmActReply,
    AlarmHistory,
    AlarmQuery,
    AlarmStatus,
    Body,
    Priority,
    alarm_topic,
)
from copilot.settings import HubSettings
from copilot.storage import Connection, WriteFailed, Writer, open_database

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0
_encode = msgspec.msgpack.Encoder().encode
_decode_status = msgspec.msgpack.Decoder(AlarmStatus).decode


@dataclass
class _Pending:
    """A reply (and the statuses to publish) waiting for the journal's commit."""

    future: Future[object]
    identity: bytes
    reply: Body
    publish: list[str]


def _occurrence_status(o: Occurrence) -> AlarmStatus:
    """An occurrence from the journal in the wire form the stations already know."""
    state = "normal" if o.ended_at else ("ack" if o.acked_at else "unack")
    if not o.ended_at and o.cleared_at and not o.acked_at:
        state = "rtn_unack"
    return AlarmStatus(
        id=o.alarm,
        machine=o.machine,
        tag=o.tag,
        condition=o.condition,
        priority=o.priority,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        active=not o.cleared_at and not o.ended_at,
        message=o.message,
        occurrence=o.id,
        raised_at=o.raised_at,
        cleared_at=o.cleared_at or 0,
        acked_at=o.acked_at or 0,
        acked_by=o.acked_by or "",
        note=o.note,
        value=o.value,
        limit=o.limit,
        suppressed=o.suppressed,
        first_out=o.first_out,
        area=o.area,
        line=o.line,
        updated=o.ended_at or o.acked_at or o.cleared_at or o.raised_at,
    )


class AlarmService(Service):
    """Runs the :class:`AlarmEngine` in the hub and keeps its journal."""

    name = "alarms"
    handles = (AlarmAct, AlarmQuery)
    topics = (TOPIC_ALARM,)

    def __init__(
        self,
        settings: HubSettings,
        data_path: Path | None = None,
        config: AlarmConfig | None = None,
        gate: GateService | None = None,
    ) -> None:
        self.settings = settings
        self.gate = gate  # who acts is the person logged in through the gate, when there is one
        self.path = journal_path(data_path) if data_path is not None else None
        self.engine = AlarmEngine(
            config,
            settle_s=settings.alarm_settle_s,
            max_shelve_s=settings.alarm_max_shelve_s,
        )
        self.writer: Writer | None = None
        self.write_errors = 0
        self.acts = 0
        self.refused = 0
        self._pending: list[_Pending] = []
        self.flood = FloodMeter()  # the plant's alarm load; per area in status()
        self._next_prune = 0.0

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the journal (a newer file: StorageError, one sentence) and restore the state."""
        if self.path is None or self.writer is not None:
            return
        reader = open_database(self.path, MIGRATIONS)
        try:
            saved = [_decode_status(bytes(b)) for (b,) in reader.execute("SELECT body FROM state")]
            top = reader.execute("SELECT COALESCE(MAX(id), 0) FROM occurrence").fetchone()[0]
        finally:
            reader.close()
        self.engine.restore_state(saved, int(top) + 1)
        self.writer = Writer(self.path, MIGRATIONS, "alarms", on_error=self._failed)
        if saved:
            log.info("hub: %d alarm(s) restored from %s.", len(saved), self.path)

    def close(self) -> None:
        """Commit what is queued and stop the journal's writer."""
        if self.writer is not None:
            self.writer.close()

    def _failed(self, failure: WriteFailed) -> None:
        self.write_errors += 1  # logged by the writer; called on its thread

    # -- events ---------------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Feed the engine from what the plant state did."""
        match event:
            case SamplesIngested():  # the hot path: no clock read, samples carry their times
                changes = self.engine.on_samples(
                    event.machine, event.aliases, event.times, event.values, event.qualities
                )
            case MachineBorn():
                changes = self.engine.on_birth(event.birth, time.time_ns())
            case MachineResumed():
                changes = self.engine.on_link(event.machine, False, time.time_ns())
            case MachineOffline():
                if event.reason == "shutdown":  # a planned stop is not a lost link
                    return
                at = int(event.at * 1e9) if event.at else time.time_ns()
                changes = self.engine.on_link(event.machine, True, at)
            case _:
                return
        if changes:
            self._journal(changes)
            self._publish({c.record.id for c in changes})

    def tick(self, now: float) -> None:
        """Delays and shelves that ran out; replies whose journal entries are committed."""
        changes = self.engine.tick(time.time_ns())
        if changes:
            self._journal(changes)
            self._publish({c.record.id for c in changes})
        self._answer_committed()
        if now >= self._next_prune and self.writer is not None:
            self._next_prune = now + PRUNE_EVERY_S
            self._prune()

    def _prune(self) -> None:
        """Forget ended occurrences (and their events) older than the retention."""
        assert self.writer is not None
        horizon = time.time_ns() - int(self.settings.alarm_journal_days * 86_400e9)

        def prune(conn: Connection) -> None:
            conn.execute(
                "DELETE FROM event WHERE at < ? AND (occurrence IS NULL OR occurrence IN "
                "(SELECT id FROM occurrence WHERE ended_at IS NOT NULL AND ended_at < ?))",
                (horizon, horizon),
            )
            conn.execute(
                "DELETE FROM occurrence WHERE ended_at IS NOT NULL AND ended_at < ?", (horizon,)
            )

        self.writer.call(prune, "alarm journal retention")

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
        tag: str = "-",
    ) -> None:
        """An alarm another service raises or clears (the anomaly detectors).

        Journaled and published like any other; it obeys acknowledgement, shelving and flood.
        """
        changes = self.engine.external(
            machine, name, active, at, priority=priority, message=message, value=value, tag=tag
        )
        if changes:
            self._journal(changes)
            self._publish({c.record.id for c in changes})

    # -- messages -------------------------------------------------------------------------------

    def handle(self, sender: Sender, body: Body) -> Sequence[Event]:
        """``ALARM_ACT``: act, journal, answer once durable. ``ALARM_QUERY``: the journal."""
        if isinstance(body, AlarmAct):
            self._act(sender, body)
        elif isinstance(body, AlarmQuery):
            self._query(sender, body)
        return ()

    def _act(self, sender: Sender, act: AlarmAct) -> None:
        limit = self.settings.max_string_len
        ids = [i[:limit] for i in act.ids[: self.settings.max_reply_items]]
        refusal = ""
        session = None
        early: dict[str, str] = {}  # ids refused before the engine (outside the areas)
        if self.gate is not None:
            # The person is the one logged in through the gate; what the station wrote in
            # ``who`` is ignored. Out of service is an engineer's (or supervisor's) act.
            session = self.gate.identify(sender, act.token)
            if session is None:
                refusal = "Log in on this station to act on alarms."
            elif act.action in ("remove", "restore") and not session.has("Engineer", "Supervisor"):
                refusal = "Taking alarms out of service is for an Engineer or a Supervisor."
            elif not session.has("Operator", "Engineer", "Supervisor"):
                refusal = "Your role may look at alarms but not act on them."
            who = session.name if session is not None else ""
            areas = self.gate.areas_of(sender.key)
            if areas and not refusal:
                outside = {i for i in ids if self._area_of(i) not in areas}
                if outside:
                    self.refused += len(outside)
                    ids = [i for i in ids if i not in outside]
                    words = "This station may not act on alarms of machines outside its areas."
                    early = dict.fromkeys(sorted(outside), words)
        else:
            who = act.who.strip()[:limit]
            if sender.role == "station" or sender.header.src.startswith(("station:", "cli:")):
                who = who or sender.header.src  # a hub without the gate: as the station says
            # Without people in the hub, only the hub host's own CLI key may take alarms out.
            local_cli = sender.key == "station:cli" or (
                sender.key == "insecure" and sender.header.src.startswith("cli:")
            )
            if act.action in ("remove", "restore") and not local_cli:
                refusal = (
                    "Taking alarms out of service is an engineer's act: use "
                    "`copilot alarms` on the hub's host."
                )
        if refusal:
            reply = AlarmActReply(request_id=act.request_id, refused=dict.fromkeys(ids, refusal))
            self.refused += len(ids)
            self.publisher.reply(sender.identity, reply)
            return
        result = self.engine.act(
            act.action,
            ids,
            who,
            time.time_ns(),
            note=act.note[:limit],
            duration_s=act.duration_s,
            oneshot=act.oneshot,
        )
        self.acts += len(result.done)
        self.refused += len(result.refused)
        if self.gate is not None and session is not None and result.done:
            machines = sorted({i.split("/", 1)[0] for i in result.done})
            self.gate.record(
                "alarm_act",
                session,
                machine=machines[0] if len(machines) == 1 else "",
                outcome=act.action,
                ids=result.done,
                note=act.note[:limit],
            )
        reply = AlarmActReply(
            request_id=act.request_id, done=result.done, refused={**early, **result.refused}
        )
        publish = sorted({c.record.id for c in result.changes})
        self._journal(result.changes)
        if self.writer is None:
            self._publish(publish)
            self.publisher.reply(sender.identity, reply)
            return
        marker: Future[object] = self.writer.call(lambda conn: None, "alarm act committed")
        self._pending.append(_Pending(marker, sender.identity, reply, publish))

    def _area_of(self, alarm_id: str) -> str:
        """The area of the machine an alarm id names (``''`` if the hub does not know it)."""
        state = self.plant.machines.get(alarm_id.partition("/")[0])
        return state.birth.machine.area if state is not None else ""

    def _query(self, sender: Sender, query: AlarmQuery) -> None:
        limit = max(1, min(query.limit, self.settings.max_reply_items))
        areas = self.gate.areas_of(sender.key) if self.gate is not None else frozenset()
        if query.live:
            alarms = self.engine.statuses(query.prefix[: self.settings.max_string_len])
            alarms = [a for a in alarms if not areas or a.area in areas]
            reply = AlarmHistory(
                request_id=query.request_id, alarms=alarms[:limit], more=len(alarms) > limit
            )
            self.publisher.reply(sender.identity, reply)
            return
        if self.writer is None:
            self.publisher.reply(sender.identity, AlarmHistory(request_id=query.request_id))
            return

        def read(conn: Connection) -> object:
            rows = read_occurrences(
                conn, query.since, query.until, query.prefix, limit + 1, newest_first=True
            )
            shown = [_occurrence_status(o) for o in rows[:limit]]
            return AlarmHistory(
                request_id=query.request_id,
                alarms=[a for a in shown if not areas or a.area in areas],
                more=len(rows) > limit,
            )

        self._pending.append(
            _Pending(self.writer.call(read, "alarm query"), sender.identity, AlarmHistory(0), [])
        )

    def _answer_committed(self) -> None:
        if not self._pending:
            return
        waiting: list[_Pending] = []
        for p in self._pending:
            if not p.future.done():
                waiting.append(p)
                continue
            error = p.future.exception()
            if error is not None:
                log.error("hub: the alarm journal failed: %s", error)
                if isinstance(p.reply, AlarmActReply):
                    why = "The alarm journal could not record it; try again."
                    p.reply = AlarmActReply(
                        request_id=p.reply.request_id,
                        refused=dict.fromkeys([*p.reply.done, *p.reply.refused], why),
                    )
            elif isinstance(p.reply, AlarmHistory):
                result = p.future.result()
                if isinstance(result, AlarmHistory):
                    p.reply = result
            self._publish(p.publish)
            self.publisher.reply(p.identity, p.reply)
        self._pending = waiting

    # -- snapshots and status -------------------------------------------------------------------

    def snapshot(self, prefix: str) -> Sequence[Body]:
        """Every alarm of ``prefix`` that is not plainly normal, and the recently raised."""
        recent = time.time_ns() - int(self.settings.alarm_recent_s * 1e9)
        return self.engine.statuses(prefix, recent)[: self.settings.max_reply_items]

    def status(self) -> dict[str, int]:
        """Alarms by state, acts, refusals, journal errors."""
        out = self.engine.counts()
        out.update(acts=self.acts, refused=self.refused, journal_errors=self.write_errors)
        now = time.time_ns()
        out["raised_last_10min"] = self.flood.rate(now)
        out["in_flood"] = int(self.flood.in_flood(now))
        for area, n in list(self.flood.by_area(now).items())[:20]:
            out[f"raised_last_10min:{area or '-'}"] = n
        return out

    # -- journal and publishing -----------------------------------------------------------------

    def _publish(self, ids: Sequence[str] | set[str]) -> None:
        for aid in ids:
            rec = self.engine.records.get(aid)
            if rec is not None:
                self.publisher.publish(alarm_topic(rec.definition.machine), rec.status())

    def _journal(self, changes: Sequence[Change]) -> None:
        for c in changes:
            if c.opened and not c.suppressed:
                self.flood.add(c.at, c.record.definition.area or c.record.definition.line)
        if self.writer is None or not changes:
            return
        rows = [_rows(c) for c in changes]
        states = {c.record.id: c.record for c in changes}
        saved = [(aid, None if r.plain else _encode(r.status())) for aid, r in states.items()]

        def write(conn: Connection) -> None:
            for statements in rows:
                for sql, params in statements:
                    conn.execute(sql, params)
            for aid, body in saved:
                if body is None:
                    conn.execute("DELETE FROM state WHERE alarm = ?", (aid,))
                else:
                    conn.execute(
                        "INSERT OR REPLACE INTO state (alarm, body) VALUES (?, ?)", (aid, body)
                    )

        self.writer.call(write, "alarm transitions")


def _rows(c: Change) -> list[tuple[str, tuple[object, ...]]]:
    """The SQL one change needs: the occurrence row it opens or updates, and its event row."""
    d = c.record.definition
    occ = c.occurrence
    out: list[tuple[str, tuple[object, ...]]] = []
    if c.opened:
        if c.closed:  # a recurrence: the old occurrence ended, a new one began
            out.append(("UPDATE occurrence SET ended_at = ? WHERE id = ?", (c.at, c.closed)))
        out.append(
            (
                "INSERT OR REPLACE INTO occurrence (id, alarm, machine, area, line, tag, "
                "condition, priority, message, raised_at, value, limit_value, suppressed, "
                "shelved, first_out) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    occ,
                    d.id,
                    d.machine,
                    d.area,
                    d.line,
                    d.tag,
                    d.condition,
                    d.priority,
                    d.message,
                    c.at,
                    c.value,
                    d.limit,
                    int(c.suppressed),
                    int(c.shelved),
                    int(c.first_out),
                ),
            )
        )
    elif occ:
        match c.event:
            case "cleared":
                out.append(("UPDATE occurrence SET cleared_at = ? WHERE id = ?", (c.at, occ)))
            case "acked" | "reset":
                out.append(
                    (
                        "UPDATE occurrence SET acked_at = COALESCE(acked_at, ?), "
                        "acked_by = COALESCE(acked_by, ?), note = CASE WHEN ? != '' THEN ? "
                        "ELSE note END WHERE id = ?",
                        (c.at, c.who, c.note, c.note, occ),
                    )
                )
            case "shelved":
                out.append(("UPDATE occurrence SET shelved = 1 WHERE id = ?", (occ,)))
            case "noted":
                out.append(("UPDATE occurrence SET note = ? WHERE id = ?", (c.note, occ)))
            case _:
                pass
        if c.closed:
            out.append(
                (
                    "UPDATE occurrence SET ended_at = ?, cleared_at = COALESCE(cleared_at, ?) "
                    "WHERE id = ?",
                    (c.at, c.at, c.closed),
                )
            )
    out.append(
        (
            "INSERT INTO event (occurrence, alarm, machine, area, at, event, who, note, state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (occ or None, d.id, d.machine, d.area, c.at, c.event, c.who, c.note, c.state),
        )
    )
    return out
