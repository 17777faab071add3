"""The anomaly detectors in the hub: fed every sample, their alerts become anomaly alarms.

The :class:`~copilot.anomaly.AnomalyEngine` hears every machine's BIRTH and every DATA batch
(arrays, as ingested: no Python object per sample) and, on ticks, what time alone reveals
(dropouts, stuck signals). Each :class:`~copilot.anomaly.AlertChange` goes to the alarm service
as an alarm ``<machine>/<tag>/anomaly:<kind>`` (``-`` for the multivariate one) with the
advisory priority of ``hub.anomaly_priority`` — acknowledged, shelved and counted in floods like
any other alarm, with the detector's sentence as its message.

What the detectors learned survives a restart: the engine's state is saved to
``<data>/anomaly.db`` through the storage writer every ``SAVE_EVERY_S`` and when the hub stops,
and read back when it opens. ``ANOMALY_STATUS_REQ`` answers what each machine has learned
(``copilot anomaly status``, the machine view's detector panel) and the alerts of the last hour
as the detector explained them (:class:`~copilot.protocol.AnomalyAlert`: σ, since when,
confidence, top contributors, the mode — what the alarm's one sentence cannot carry).
``ANOMALY_FEEDBACK`` records an operator's verdict on an alert (useful / not useful / false
alarm) in ``anomaly.db``'s ``feedback`` table — answered once it is committed — and hands it to
the engine, which only ever moves that tag's detector toward fewer false alerts;
:func:`read_feedback` gives those rows to ``copilot alarms report``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

from copilot.anomaly import AlertChange, AnomalyConfig, AnomalyEngine
from copilot.anomaly.feedback import FeedbackRow
from copilot.hub.alarms import AlarmService
from copilot.hub.events import Event, MachineBorn, SamplesIngested
from copilot.hub.gate import GateService
from copilot.hub.service import Sender, Service
from copilot.hub.spread import Spread
from copilot.protocol import (
    AnomalyAlert,
    AnomalyFeedback,
    AnomalyStatusReply,
    AnomalyStatusRequest,
    Body,
    GateReply,
)
from copilot.settings import HubSettings
from copilot.storage import Connection, Migration, Writer, open_database

log = logging.getLogger(__name__)

SAVE_EVERY_S = 60.0
MIGRATIONS = (
    Migration(
        1,
        "CREATE TABLE learned (id INTEGER PRIMARY KEY CHECK (id = 1), saved_at INTEGER NOT NULL,"
        " state BLOB NOT NULL);",
        "what the anomaly detectors learned",
    ),
    Migration(2, lambda conn: _feedback_table(conn), "operators' verdicts on anomaly alerts"),
)
RECENT_S = 3600.0  # a cleared alert raised this long ago is still told of (``alerts``)


def read_feedback(conn: Connection, since: int, until: int, prefix: str = "") -> list[FeedbackRow]:
    """The verdicts given in ``[since, until)`` on machines whose id starts with ``prefix``."""
    rows = conn.execute(
        "SELECT at, machine, tag, detector, alarm, verdict, who, note FROM feedback "
        "WHERE at >= ? AND at < ? AND substr(machine, 1, ?) = ? ORDER BY at",
        (since, until, len(prefix), prefix),
    ).fetchall()
    return [FeedbackRow(*r) for r in rows]


@dataclass
class _Pending:
    """A feedback answer waiting for the commit of its row."""

    future: Future[None]
    identity: bytes
    reply: GateReply


def _feedback_table(conn: Connection) -> None:
    conn.execute(
        "CREATE TABLE feedback (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, machine TEXT NOT NULL,"
        " tag TEXT NOT NULL, detector TEXT NOT NULL, alarm TEXT NOT NULL, verdict TEXT NOT NULL,"
        " who TEXT NOT NULL, note TEXT NOT NULL, raised_at INTEGER NOT NULL)"
    )
    conn.execute("CREATE INDEX feedback_at ON feedback (at)")


def anomaly_path(data_path: Path) -> Path:
    """The detectors' saved state in a data folder."""
    return data_path / "anomaly.db"


class AnomalyService(Service):
    """Runs the anomaly engine on what the hub ingests; alerts go to the alarm service."""

    name = "anomaly"
    handles = (AnomalyStatusRequest, AnomalyFeedback)

    def __init__(
        self,
        settings: HubSettings,
        alarms: AlarmService,
        data_path: Path | None = None,
        gate: GateService | None = None,
    ) -> None:
        self.settings = settings
        self.alarms = alarms
        self.gate = gate
        self.path = anomaly_path(data_path) if data_path is not None else None
        self.engine = AnomalyEngine(AnomalyConfig(warmup_s=settings.anomaly_warmup_s))
        self.writer: Writer | None = None
        self.alerts = 0
        self.cleared = 0
        self.feedback: dict[str, int] = {}  # verdicts given, by verdict
        self.looked = 0  # samples the detectors saw
        self.skipped = 0  # samples between two looks (decimated, see _ingest)
        self._due: dict[str, float] = {}  # machine → the sample time of its next look
        self.loop_ns = 0  # time the hub's loop spent here (detectors, alerts), perf_counter
        self.recent: dict[str, AnomalyAlert] = {}  # alarm id → the alert as explained
        self._pending: list[_Pending] = []
        self._next_save = 0.0
        # Each machine snapshotted once per half save period, a few a tick (see tick).
        self._snapshots = Spread(SAVE_EVERY_S / 2, max_gap_s=1.0)

    def open(self) -> None:
        """Read back what the detectors had learned (none yet: they learn from scratch)."""
        if self.path is None:
            return
        reader = open_database(self.path, MIGRATIONS)
        try:
            row = reader.execute("SELECT state FROM learned WHERE id = 1").fetchone()
        finally:
            reader.close()
        if row is not None:
            self.engine.restore(bytes(row[0]))
            log.info("hub: the anomaly detectors' baselines restored from %s.", self.path)
        self.writer = Writer(self.path, MIGRATIONS, "anomaly")

    def close(self) -> None:
        """Save what was learned, then stop the writer."""
        self._save()
        if self.writer is not None:
            self.writer.close()

    def _save(self, fresh: bool = True) -> None:
        """Write what was learned: ``fresh`` snapshots every machine now (on close)."""
        if self.writer is None:
            return
        # Fresh: everything now, on this thread (the hub is stopping). Else the machines'
        # latest snapshots, each encoded as it was made, joined on the writer's thread.
        fresh_blob = self.engine.state() if fresh else None
        parts = None if fresh else self.engine.snapshot_parts()
        at = time.time_ns()

        def save(conn: Connection) -> None:
            blob = fresh_blob if parts is None else AnomalyEngine.encode_parts(parts)
            conn.execute(
                "INSERT INTO learned (id, saved_at, state) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET saved_at = excluded.saved_at, "
                "state = excluded.state",
                (at, blob),
            )

        self.writer.call(save, "anomaly baselines")

    def on_event(self, event: Event) -> None:
        """Births restart a machine's detectors; batches feed them (arrays, no clock read).

        Most batches arrive between a machine's looks and are skipped after one comparison;
        only the work on the others is timed, on ``perf_counter``: the thread's CPU clock
        (``thread_time_ns``) measured ~0.8 µs a read alone but cost the hub's loop ~9 % of its
        time at plant scale, read twice per look.
        """
        match event:
            case SamplesIngested():
                n = event.aliases.shape[0]
                if n == 0:
                    return
                if float(event.times[-1]) < self._due.get(event.machine, 0.0):
                    self.skipped += n
                    return
                started = time.perf_counter_ns()
                self._ingest(event)
                self.loop_ns += time.perf_counter_ns() - started
            case MachineBorn():
                started = time.perf_counter_ns()
                self._raise(self.engine.on_birth(event.birth, time.time_ns()))
                self.loop_ns += time.perf_counter_ns() - started
            case _:
                pass

    def _ingest(self, event: SamplesIngested) -> None:
        """At most one look a second per machine, at each tag's latest sample of the batch.

        The detectors judge minutes of behaviour, not 10 Hz ripple: a look every
        ``anomaly_every_s`` keeps their cost a few percent of the hub's loop at full load
        (every sample costs ~2 µs in the engine; a machine's batch, once a second, ~0.5 ms).
        """
        n = event.aliases.shape[0]  # > 0 and due: on_event has skipped the others
        last_t = float(event.times[-1])
        self._due[event.machine] = last_t + self.settings.anomaly_every_s
        # The last occurrence of each alias (batches are in time order).
        _, first_from_end = np.unique(event.aliases[::-1], return_index=True)
        pick = np.sort(n - 1 - first_from_end)
        self.looked += pick.shape[0]
        self.skipped += n - pick.shape[0]
        quality = event.qualities[pick] if event.qualities is not None else None
        ts_ns = (event.times[pick] * 1e9).astype(np.int64)
        self._raise(
            self.engine.on_samples(
                event.machine, event.aliases[pick], ts_ns, event.values[pick], quality
            )
        )

    def tick(self, now: float) -> Sequence[Event] | None:
        """What time alone reveals (dropouts, stuck signals); save the baselines now and then."""
        started = time.perf_counter_ns()
        self._raise(self.engine.tick(time.time_ns()))
        self._answer_committed()
        # The machines are snapshotted a few a tick, so that a save only encodes them: at
        # plant scale snapshotting all at once held the loop ~0.2 s every SAVE_EVERY_S.
        count = self._snapshots.due(now, len(self.engine.machines))
        if count:
            self.engine.dump_some(count)
        if now >= self._next_save:
            self._next_save = now + SAVE_EVERY_S
            self._save(fresh=False)
            self._forget(time.time_ns())
        self.loop_ns += time.perf_counter_ns() - started
        return None

    def _raise(self, changes: Sequence[AlertChange]) -> None:
        modes: dict[str, str] = {}  # a machine's mode, worked out once per batch of changes
        for c in changes:
            if c.active:
                self.alerts += 1
            else:
                self.cleared += 1
            self._remember(c, modes)
            self.alarms.external(
                c.machine,
                c.name,
                c.active,
                c.at_ns,
                priority=self.settings.anomaly_priority,
                message=c.message,
                value=c.sigma,
                tag=c.tag or "-",
            )

    def _remember(self, c: AlertChange, modes: dict[str, str]) -> None:
        """Keep the alert as the detector explained it (active, or cleared within RECENT_S).

        A flood of changes (every tag of a machine at once) costs one status of that machine,
        and forgetting old cleared alerts is the tick's work (:meth:`_forget`), not each raise's.
        """
        tag = c.tag or "-"
        alarm = f"{c.machine}/{tag}/anomaly:{c.name}"
        known = self.recent.get(alarm)
        if not c.active:
            if known is not None:
                self.recent[alarm] = msgspec.structs.replace(known, active=False)
            return
        if c.machine not in modes:
            status = self.engine.status(c.machine)
            modes[c.machine] = status[0].mode if status else ""
        self.recent[alarm] = AnomalyAlert(
            alarm=alarm,
            machine=c.machine,
            detector=c.name.partition(":")[0],
            tag=tag,
            at=c.at_ns,
            since=c.since_ns,
            message=c.message,
            mode=modes[c.machine],
            sigma=c.sigma,
            confidence=c.confidence,
            signals=list(c.signals),
        )

    def _forget(self, now_ns: int) -> None:
        """Drop the cleared alerts raised more than RECENT_S ago."""
        old = now_ns - int(RECENT_S * 1e9)
        for key, a in list(self.recent.items()):
            if not a.active and a.at < old:
                del self.recent[key]

    def _alerts(self, machine: str | None, allowed: set[str]) -> list[AnomalyAlert]:
        old = time.time_ns() - int(RECENT_S * 1e9)
        picked = [
            a
            for a in self.recent.values()
            if (machine is None or a.machine == machine)
            and a.machine in allowed
            and (a.active or a.at >= old)
        ]
        picked.sort(key=lambda a: -a.at)
        return picked[: self.settings.max_reply_items]

    def handle(self, sender: Sender, body: Body) -> Sequence[Event]:
        """``ANOMALY_STATUS_REQ``: what was learned. ``ANOMALY_FEEDBACK``: a person's verdict."""
        if isinstance(body, AnomalyStatusRequest):
            machine = body.machine[:64] or None
            learned = self.engine.status(machine)[: self.settings.max_reply_items]
            areas = self.gate.areas_of(sender.key) if self.gate is not None else frozenset()
            machines = [s for s in learned if not areas or self._area(s.machine) in areas]
            allowed = {m for m in self.plant.machines if not areas or self._area(m) in areas}
            self.publisher.reply(
                sender.identity,
                AnomalyStatusReply(
                    request_id=body.request_id,
                    machines=machines,
                    alerts=self._alerts(machine, allowed),
                ),
            )
        elif isinstance(body, AnomalyFeedback):
            self._feedback(sender, body)
        return ()

    def _area(self, machine: str) -> str:
        state = self.plant.machines.get(machine)
        return state.birth.machine.area if state is not None else ""

    def _feedback(self, sender: Sender, body: AnomalyFeedback) -> None:
        machine, _, rest = body.alarm[:256].partition("/")
        tag, _, condition = rest.partition("/")
        session = self.gate.identify(sender, body.token) if self.gate is not None else None

        def answer(ok: bool, code: str, message: str) -> None:
            self.publisher.reply(
                sender.identity,
                GateReply(request_id=body.request_id, ok=ok, code=code, message=message),
            )

        if self.gate is not None and session is None:
            answer(False, "not_authenticated", "Log in to give feedback on an alert.")
            return
        if not condition.startswith("anomaly:") or machine not in self.plant.machines:
            answer(False, "not_found", "That is not an anomaly alarm of a known machine.")
            return
        name = condition.removeprefix("anomaly:")
        self.engine.feedback(machine, name, body.verdict)
        self.feedback[body.verdict] = self.feedback.get(body.verdict, 0) + 1
        known = self.recent.get(body.alarm[:256])
        if known is not None:
            self.recent[known.alarm] = msgspec.structs.replace(known, verdict=body.verdict)
        who = session.name if session is not None else ""
        row = (
            time.time_ns(),
            machine,
            tag,
            name.partition(":")[0],
            body.alarm[:256],
            body.verdict,
            who,
            body.note[:1024],
            known.at if known is not None else 0,
        )
        if self.gate is not None and session is not None:
            self.gate.record(
                "anomaly_feedback",
                session,
                machine=machine,
                outcome=body.verdict,
                alarm=body.alarm[:256],
                tag=tag,
                note=body.note[:1024],
            )
        text = f"Thank you: {name} on {machine} marked {body.verdict.replace('_', ' ')}."
        if self.writer is None:
            answer(True, "ok", text)
            return
        future = self.writer.submit(
            "INSERT INTO feedback (at, machine, tag, detector, alarm, verdict, who, note, "
            "raised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        reply = GateReply(request_id=body.request_id, ok=True, code="ok", message=text)
        self._pending.append(_Pending(future, sender.identity, reply))

    def _answer_committed(self) -> None:
        """Feedback answers whose rows are committed (or failed: then say it was not kept)."""
        waiting: list[_Pending] = []
        for p in self._pending:
            if not p.future.done():
                waiting.append(p)
                continue
            reply = p.reply
            if p.future.exception() is not None:
                log.error("hub: the anomaly feedback could not be stored: %s", p.future.exception())
                reply = GateReply(
                    request_id=reply.request_id,
                    ok=False,
                    code="storage",
                    message="The feedback could not be stored; try again.",
                )
            self.publisher.reply(p.identity, reply)
        self._pending = waiting

    def status(self) -> dict[str, int]:
        """Alerts raised and cleared since the hub started."""
        return {
            "alerts": self.alerts,
            "cleared": self.cleared,
            "samples_looked_at": self.looked,
            "samples_between_looks": self.skipped,
            "loop_us": self.loop_ns // 1000,
            **{f"feedback_{k}": v for k, v in self.feedback.items()},
        }
