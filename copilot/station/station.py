"""The Qt-free station client that the dashboard sits on: one hub, one picture of the plant.

:class:`Station` puts the parts together: a :class:`~copilot.station.link.HubLink` (sockets and
the one I/O thread that owns them), a :class:`~copilot.station.sync.Sync` (snapshot, held
updates, resync, link state), :class:`~copilot.station.commands.Commands` (send, query, status
order) and the :class:`~copilot.station.store.StationStore` views read on their own timer.

A history answer the hub sends in parts is joined by a
:class:`~copilot.station.history.HistoryAssembler` (one :class:`HistoryArrived` per request);
the hub's health (``HUB_STATUS``) is asked for on request and, if
``StationSettings.hub_status_every_s`` says so, every so often while the link is live; the
latest answer is kept (:attr:`Station.hub_status`) for a status bar.

Listeners get only low-rate events (:mod:`copilot.station.events`). They are called on a
dispatch thread (a :class:`~copilot.station.worker.Worker`), in order, never on the I/O thread:
a slow or broken listener cannot stall the sockets. A listener that raises is logged with the
event it got, counted in ``stats.listener_errors``, and the others still hear the event.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from copilot.bus import Bus, Link
from copilot.protocol import (
    AlarmAct,
    AlarmAction,
    AlarmActReply,
    AlarmHistory,
    AlarmQuery,
    AlarmStatus,
    AnomalyFeedback,
    AnomalyStatusReply,
    AnomalyStatusRequest,
    AnomalyVerdict,
    Approval,
    Authority,
    AuthorityAction,
    Body,
    Codec,
    Command,
    CommandStatus,
    ErrorReply,
    Grant,
    Header,
    HistoryReply,
    HistoryRequest,
    HubStatus,
    HubStatusRequest,
    Origin,
    Scalar,
    Session,
    Signature,
    SnapshotEnd,
    SnapshotItem,
    VoiceFacts,
)
from copilot.settings import StationSettings
from copilot.station.alarms import AlarmRequests, StationAlarms
from copilot.station.commands import Commands
from copilot.station.events import (
    AlarmActed,
    AlarmHistoryArrived,
    AnomalyStatusArrived,
    Event,
    HistoryArrived,
    HubStatusArrived,
    LinkCause,
    LinkState,
)
from copilot.station.frames import FrameGate
from copilot.station.gate import StationGate
from copilot.station.history import HistoryAssembler
from copilot.station.link import HubLink
from copilot.station.stats import StationStats
from copilot.station.store import Reading, StationStore
from copilot.station.sync import Sync
from copilot.station.worker import Worker

log = logging.getLogger(__name__)

T = TypeVar("T")

EVENT_INBOX = 10_000  # events waiting for listeners; past it new ones are dropped and counted
HUB_STATUS_TIMEOUT_S = 10.0  # an unanswered hub status request is asked again after this


class Station:
    """Client of one hub. Start it, read :attr:`store`, stop it.

    Asking the hub: :meth:`request_history` (one :class:`HistoryArrived` per request, however
    many parts), :meth:`send_command`/:meth:`query_command` (:class:`CommandUpdated`),
    :meth:`request_hub_status` (:class:`HubStatusArrived`; the latest is :attr:`hub_status`,
    its drop total :attr:`hub_drops`). The link: :attr:`state`, :attr:`link_cause`,
    :attr:`link_reason`, :attr:`liveness_s` (from the hub's own heartbeat interval,
    :attr:`hub_heartbeat_ms`, once it said it), :attr:`stats`.
    """

    def __init__(
        self,
        bus: Bus,
        hub: str,
        settings: StationSettings | None = None,
        heartbeat_ms: int = 1000,
        liveness: int = 3,
        name: str = "station",
    ) -> None:
        self.bus = bus
        self.settings = settings or StationSettings()
        self.hub = hub
        self.name = name
        self.stats = StationStats()
        self.store = StationStore(
            self.settings.ring_samples,
            self.stats.counters,
            self.settings.max_tags_per_machine,
            ring_seconds=self.settings.ring_seconds,
        )
        self._listeners: list[Callable[[Event], None]] = []
        self._logged_listeners: set[str] = set()
        self._dispatch: Worker[Event] = Worker(
            f"station-events-{name}", self._deliver, maxsize=EVENT_INBOX
        )
        self._link = HubLink(bus, hub, self.settings, name, self.stats.counters)
        self.router_ep, self.pub_ep = self._link.router_ep, self._link.pub_ep
        self.commands = Commands(self.store, self._link.submit, self._emit)
        self._ids = itertools.count(1)  # request ids: history and snapshots share them
        self.history = HistoryAssembler()
        self._hub_status: HubStatusArrived | None = None
        self._status_asked = 0.0  # monotonic time of the unanswered hub status request, or 0
        self._status_next = 0.0  # when the station asks by itself next (monotonic)
        self.alarms = StationAlarms()
        self._alarm_requests = AlarmRequests(self._link.submit, lambda: next(self._ids))
        self.gate = StationGate(
            self.store, self._link.submit, self._emit, lambda: next(self._ids), self._apply_status
        )
        self.sync = Sync(
            self.store,
            self.stats,
            self.settings,
            liveness * heartbeat_ms / 1000,
            hub,
            self._link.send,
            self._emit,
            self.commands.apply,
            self._link.failed,
            liveness=liveness,
            next_id=lambda: next(self._ids),
            alarms=self.alarms,
            gate=self.gate,
        )
        self._stopped = False
        self._alarms_prune = 0.0

    # -- public API (any thread) --------------------------------------------------------------

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener(event)`` for every low-rate event, on the dispatch thread."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Connect and run the I/O thread (and the thread that calls the listeners)."""
        self._dispatch.start()
        self._link.start(_Handler(self))

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the I/O thread, close its sockets, deliver the events already queued."""
        if self._stopped:
            return
        self._stopped = True
        self._link.stop(timeout)
        self._dispatch.stop(drain=True)
        self._dispatch.join(timeout)

    def request_history(
        self,
        machine: str,
        tags: list[str],
        since: float,
        until: float = 0.0,
        max_points: int = 4000,
    ) -> int:
        """Ask the hub for history (times in s); the answer comes as one :class:`HistoryArrived`.

        Returns the request's id, which the event carries. However many parts the hub answers
        in, listeners hear once, with the whole answer (or the ``ERROR`` that answered it).
        """
        request_id = next(self._ids)
        for failed in self.history.expect(request_id, machine):
            self._emit(failed)
        self._link.submit(
            HistoryRequest(
                machine=machine,
                tags=tags,
                since=int(since * 1e9),
                until=int(until * 1e9),
                max_points=max_points,
                request_id=request_id,
            )
        )
        return request_id

    def request_hub_status(self) -> None:
        """Ask the hub for its health; the answer comes as :class:`HubStatusArrived`.

        The latest answer is also kept in :attr:`hub_status`.
        """
        self._status_asked = time.monotonic()
        self._link.submit(HubStatusRequest())

    @property
    def hub_status(self) -> HubStatusArrived | None:
        """The hub's latest health report (``None`` until one arrived), with when it came."""
        return self._hub_status

    @property
    def hub_drops(self) -> int | None:
        """Messages the hub dropped, all reasons, per its latest report (``None``: no report)."""
        return None if self._hub_status is None else self._hub_status.drops

    @property
    def hub_heartbeat_ms(self) -> int:
        """The hub's heartbeat interval as it said on the wire (0 until it said so)."""
        return self.sync.hub_heartbeat_ms

    @property
    def liveness_s(self) -> float:
        """How long the hub may be silent before the link is LOST (follows the hub's interval)."""
        return self.sync.liveness_s

    def send_command(
        self,
        machine: str,
        name: str,
        args: dict[str, Scalar] | None = None,
        *,
        ttl_s: float = 10.0,
        origin: Origin = "api",
        operator: str = "",
        cmd_id: str | None = None,
    ) -> str:
        """Send a command through the hub; follow it with :class:`CommandUpdated` events."""
        return self.commands.send(
            machine, name, args, ttl_s=ttl_s, origin=origin, operator=operator, cmd_id=cmd_id
        )

    def act_on_alarms(
        self,
        action: AlarmAction,
        ids: Sequence[str],
        who: str = "",
        *,
        note: str = "",
        duration_s: float = 0.0,
        oneshot: bool = False,
    ) -> int:
        """Ask the hub to acknowledge, shelve, claim… alarms; answered by :class:`AlarmActed`.

        The hub records the person logged in on this station (:meth:`login`); ``who`` counts
        only on a hub that runs without the gate. Returns the request id the answer carries.
        """
        session = self.gate.session
        return self._alarm_requests.act(
            action,
            ids,
            who,
            note=note,
            duration_s=duration_s,
            oneshot=oneshot,
            token=session.token if session is not None else "",
        )

    # -- people and the command gate (copilot.station.gate) ------------------------------------

    def login(self, user: str, secret: str) -> int:
        """Log a person in through the hub: :class:`SessionChanged` or :class:`GateAnswered`."""
        return self.gate.login(user, secret)

    def logout(self, reason: str = "user") -> None:
        """End this station's session (``user``, ``idle`` lock, ``switch`` user)."""
        self.gate.logout(reason)

    @property
    def session(self) -> Session | None:
        """Who is logged in here, as the hub said (``None``: nobody)."""
        return self.gate.session

    def keep_session_alive(self) -> bool:
        """Someone touched the station: keep the hub's idle clock in step (throttled)."""
        return self.gate.keep_alive()

    def grant(self, machine: str, name: str) -> Grant | None:
        """What the logged-in person may do with a command (tier, allowed, why not)."""
        return self.gate.grant(machine, name)

    def request_command(
        self,
        machine: str,
        name: str,
        args: dict[str, Scalar] | None = None,
        *,
        origin: Origin = "touch",
        confirmed: bool = False,
        sign: Signature | None = None,
        ttl_s: float = 10.0,
        cmd_id: str | None = None,
        voice: VoiceFacts | None = None,
    ) -> str:
        """Ask the gate to run a command as the logged-in person; follow :class:`CommandUpdated`.

        ``voice`` carries what the recogniser heard (origin ``voice``) into the hub's audit.
        """
        return self.gate.request(
            machine,
            name,
            args,
            origin=origin,
            confirmed=confirmed,
            sign=sign,
            ttl_s=ttl_s,
            cmd_id=cmd_id,
            voice=voice,
        )

    def cancel_command(self, cmd_id: str) -> int:
        """Withdraw a command of yours still awaiting approval (:class:`GateAnswered`)."""
        return self.gate.cancel(cmd_id)

    def decide_approval(self, cmd_id: str, approve: bool, secret: str = "", note: str = "") -> int:
        """Approve (PIN again) or deny a two-person command (:class:`GateAnswered`)."""
        return self.gate.decide(cmd_id, approve, secret, note)

    @property
    def approvals(self) -> dict[str, Approval]:
        """Two-person approvals, pending and recently decided, by command id."""
        return self.gate.approvals

    @property
    def authority(self) -> dict[str, Authority]:
        """Who holds control of which scope (``machine:<id>``, ``area:<name>``)."""
        return self.gate.authority

    def act_on_authority(self, scope: str, act: AuthorityAction, note: str = "") -> int:
        """Take, release, request, grant, refuse or override control (:class:`GateAnswered`)."""
        return self.gate.act_on_authority(scope, act, note)

    def query_audit(
        self,
        since: int = 0,
        until: int = 0,
        machine: str = "",
        user: str = "",
        kind: str = "",
        limit: int = 500,
    ) -> int:
        """Ask for audit rows, newest first (:class:`AuditArrived`)."""
        return self.gate.query_audit(since, until, machine, user, kind, limit)

    # -- the anomaly detectors ----------------------------------------------------------------

    def query_anomaly_status(self, machine: str = "") -> int:
        """What the hub's detectors learned (:class:`AnomalyStatusArrived`); the request id."""
        request_id = next(self._ids)
        self._link.submit(AnomalyStatusRequest(machine=machine, request_id=request_id))
        return request_id

    def anomaly_feedback(self, alarm: str, verdict: AnomalyVerdict, note: str = "") -> int:
        """Mark an anomaly alarm useful, not useful or a false alarm (:class:`GateAnswered`)."""
        return self.gate.ask(
            lambda token, rid: AnomalyFeedback(
                token=token, alarm=alarm, verdict=verdict, note=note, request_id=rid
            )
        )

    def _apply_status(self, status: CommandStatus) -> object:
        return self.commands.apply(status)

    def query_alarms(
        self, since: int = 0, until: int = 0, prefix: str = "", limit: int = 500
    ) -> int:
        """Ask the hub's alarm journal (ns times); answered by :class:`AlarmHistoryArrived`."""
        return self._alarm_requests.query(since, until, prefix, limit)

    def query_command(self, cmd_id: str) -> None:
        """Ask where a command stands (after a reconnect: ask, never resend)."""
        self.commands.query(cmd_id)

    @property
    def frames(self) -> FrameGate:
        """Views mark their frames here; the I/O thread holds off while one is drawn."""
        return self._link.frames

    def pause_io(self, seconds: float) -> None:
        """Fault injection: stop reading the sockets for ``seconds``, as a stalled station would."""
        self._link.pause(seconds)

    def readings(self, machine: str) -> list[Reading]:
        """Shortcut to :meth:`StationStore.readings`."""
        return self.store.readings(machine)

    def worker(self, name: str, handler: Callable[[T], None], maxsize: int = 100) -> Worker[T]:
        """A :class:`Worker` whose failures reach this station's listeners as events.

        The caller starts and stops it (audio capture, speech, text-to-speech...).
        """
        return Worker(name, handler, maxsize=maxsize, on_error=self._emit)

    # -- link state, for views and tests --------------------------------------------------------

    @property
    def state(self) -> LinkState:
        """The link's state."""
        return self.sync.state

    @property
    def state_since(self) -> float:
        """Wall-clock time the link entered its state."""
        return self.sync.state_since

    @property
    def link_reason(self) -> str:
        """Why the link is in its state, as a sentence for people."""
        return self.sync.reason

    @property
    def link_cause(self) -> LinkCause:
        """Why the link is in its state, as a closed set for code."""
        return self.sync.cause

    @property
    def hub_epoch(self) -> int:
        """The hub session the picture belongs to."""
        return self.sync.hub_epoch

    @property
    def hub_seq(self) -> int:
        """The last hub update applied."""
        return self.sync.hub_seq

    @property
    def error(self) -> BaseException | None:
        """What ended the I/O thread, if anything did (``None`` while it runs)."""
        return self._link.error

    @property
    def sub(self) -> Link | None:
        """The update socket (owned by the I/O thread)."""
        return self._link.sub

    @property
    def dealer(self) -> Link | None:
        """The control socket (owned by the I/O thread)."""
        return self._link.dealer

    @property
    def _codec(self) -> Codec:
        return self._link.codec  # tests read its drop counters

    @property
    def _thread(self) -> threading.Thread | None:
        return self._link.thread  # tests check the I/O thread is alive

    # -- events ---------------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        if not self._dispatch.submit(event):
            self.stats.events_dropped += 1

    def _deliver(self, event: Event) -> None:
        """On the dispatch thread: every listener hears the event, whatever the others do."""
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                self.stats.listener_errors += 1
                key = f"{getattr(listener, '__qualname__', listener)!s}/{type(event).__name__}"
                if key not in self._logged_listeners and len(self._logged_listeners) < 100:
                    self._logged_listeners.add(key)
                    log.exception("station listener %s failed on %.300r", key, event)


class _Handler:
    """What the I/O thread calls: routes each message to the part that owns it."""

    def __init__(self, station: Station) -> None:
        self._station = station
        self._sync = station.sync
        self._commands = station.commands
        self._link = station._link

    def on_start(self) -> None:
        self._sync.request_snapshot("joining")

    def on_update(self, header: Header, body: Body) -> None:
        self._sync.on_update(header, body)

    def on_reply(self, header: Header, body: Body) -> None:
        station = self._station
        match body:
            case SnapshotItem():
                self._sync.on_snapshot_item(body)
            case SnapshotEnd():
                self._sync.on_snapshot_end(body)
            case HistoryReply():
                whole = station.history.on_reply(body)
                if whole is not None:
                    station._emit(whole)
            case ErrorReply():
                answered = station.history.on_error(body)
                if answered is not None:
                    station._emit(answered)
                    return
                station.stats.hub_errors += 1
                station.stats.last_hub_error = body.message[:500]
                log.warning("station: hub says %s", body.message[:500])
                if body.request_id == 0:  # a hub that does not say which request failed
                    station._emit(HistoryArrived(0, body))
            case HubStatus():
                station.stats.hub_statuses += 1
                station._status_asked = 0.0
                station._hub_status = HubStatusArrived(body, time.time())
                station._emit(station._hub_status)
            case CommandStatus():
                station.gate.on_reply(body)
                self._commands.apply(body)
            case AlarmStatus():
                self._sync.on_snapshot_alarm(body)
            case AlarmActReply():
                station._emit(AlarmActed(body))
            case AlarmHistory():
                station._emit(AlarmHistoryArrived(body))
            case AnomalyStatusReply():
                station._emit(
                    AnomalyStatusArrived(body.request_id, tuple(body.machines), tuple(body.alerts))
                )
            case _:
                if not station.gate.on_reply(body):
                    station.stats.counters.count("unexpected_type")

    def on_unsent(self, body: Body) -> None:
        if self._station.gate.unsent(body):
            return
        if isinstance(body, Command):
            self._commands.unsent(body)
        elif isinstance(body, AlarmAct):
            why = "The hub cannot be reached; nothing was done."
            reply = AlarmActReply(request_id=body.request_id, refused=dict.fromkeys(body.ids, why))
            self._station._emit(AlarmActed(reply))
        elif isinstance(body, AlarmQuery):
            self._station._emit(AlarmHistoryArrived(AlarmHistory(request_id=body.request_id)))
        elif isinstance(body, HistoryRequest):
            station = self._station
            lost = station.history.on_error(
                ErrorReply(
                    code="hub_unreachable",
                    message="The hub cannot be reached; the history request was not sent.",
                    request_id=body.request_id,
                )
            )
            if lost is not None:
                station._emit(lost)
        elif isinstance(body, HubStatusRequest):
            self._station._status_asked = 0.0

    def on_handshake_failures(self, failures: list[str]) -> None:
        self._sync.handshake_failed(failures)

    def on_relink(self, which: str) -> None:
        station = self._station
        station.stats.redials += 1
        self._sync.relinked(which)
        if which == "dealer":  # what the old socket asked for will not be answered
            for lost in station.history.abandon(
                "The connection to the hub was replaced; ask for the history again."
            ):
                station._emit(lost)
            station._status_asked = 0.0

    def tick(self, now: float) -> None:
        station = self._station
        self._sync.tick(now, self._link.handshake_ok)
        for late in station.history.expire(now):
            station._emit(late)
        self._ask_hub_status(now)
        if now >= station._alarms_prune:
            station._alarms_prune = now + 30.0
            station.alarms.prune()

    def _ask_hub_status(self, now: float) -> None:
        """Ask for the hub's health every ``hub_status_every_s`` while live (one at a time)."""
        station = self._station
        every = station.settings.hub_status_every_s
        if every <= 0 or self._sync.state != LinkState.LIVE or now < station._status_next:
            return
        if station._status_asked and now - station._status_asked < HUB_STATUS_TIMEOUT_S:
            return  # the last one is still on its way: never more than one outstanding
        station._status_next = now + every
        if self._link.send(HubStatusRequest()):
            station._status_asked = now
