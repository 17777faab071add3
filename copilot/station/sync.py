"""Keeping the station's picture in step with the hub (ZeroMQ Guide "Clone" pattern).

:class:`Sync` joins by subscribe-then-snapshot: updates that arrive before the snapshot ends
are held, and those not already in it are applied after. A hub sequence gap or a new hub epoch
marks every value Uncertain/resyncing, takes a new snapshot (at most one per
``resync_min_interval_ms``) and is counted; a silent hub (no message for ``liveness`` heartbeat
intervals — the interval the hub's heartbeats carry once one has arrived, else the one the
station was given) marks values Uncertain/comm_lost until it is back. It also owns the link's
state and why it is in it (:class:`~copilot.station.events.LinkChanged` with a ``cause``):
nothing answers, the hub refused the key, the handshake failed, the hub speaks another
protocol version.

Everything here runs on the I/O thread; it sends through ``send`` and tells the world through
``emit`` (the station's dispatch thread calls the listeners).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from copilot.protocol import (
    AlarmStatus,
    Birth,
    Body,
    CommandStatus,
    Data,
    Death,
    Header,
    Heartbeat,
    Quality,
    SnapshotEnd,
    SnapshotItem,
    SnapshotRequest,
)
from copilot.settings import StationSettings
from copilot.station.alarms import StationAlarms
from copilot.station.events import (
    AlarmsChanged,
    Event,
    LinkCause,
    LinkChanged,
    LinkState,
    MachinesChanged,
)
from copilot.station.gate import StationGate
from copilot.station.stats import StationStats
from copilot.station.store import StationStore

log = logging.getLogger(__name__)

MAX_HELD = 500_000  # updates held while a snapshot is on its way; past it they are dropped
MAX_SNAPSHOT_ITEMS = 100_000  # machines in one snapshot; past it they are dropped
SNAPSHOT_TIMEOUT_S = 3.0
MIN_HUB_HEARTBEAT_MS = 100  # a hub heartbeat interval is believed within these bounds
MAX_HUB_HEARTBEAT_MS = 60_000

_HANDSHAKE_CAUSES: frozenset[LinkCause] = frozenset(
    {"key_refused", "handshake_failed", "version_mismatch"}
)


class Sync:
    """The join/resync state machine and the link state (I/O thread only)."""

    def __init__(
        self,
        store: StationStore,
        stats: StationStats,
        settings: StationSettings,
        liveness_s: float,
        hub: str,
        send: Callable[[Body], bool],
        emit: Callable[[Event], None],
        on_status: Callable[[CommandStatus], object],
        failed: Callable[[str, str, Exception], None],
        *,
        liveness: int = 3,
        next_id: Callable[[], int] | None = None,
        alarms: StationAlarms | None = None,
        gate: StationGate | None = None,
    ) -> None:
        self.store = store
        self.gate = gate
        self.alarms = alarms if alarms is not None else StationAlarms()
        self.stats = stats
        self.settings = settings
        self.hub = hub
        self._liveness_s = liveness_s
        self._liveness = liveness
        self.hub_heartbeat_ms = 0  # the interval the hub says it sends heartbeats at (0: unsaid)
        self._next_id = next_id
        self._send = send
        self._emit = emit
        self._on_status = on_status
        self._failed = failed
        self.state = LinkState.CONNECTING
        self.state_since = time.time()
        self.cause: LinkCause = "starting"
        self.reason = "starting"
        self.hub_epoch = 0
        self.hub_seq = 0
        self._held: list[tuple[Header, Body]] = []
        self._snapshot: list[SnapshotItem] = []
        self._snapshot_alarms: list[AlarmStatus] = []
        self._snapshot_sent = 0.0
        self._snapshot_due = 0.0
        self._snapshot_id = 0
        self._snapshot_unsent = False
        self._last_resync = 0.0
        self._last_pub = 0.0  # monotonic time of the last update from the hub
        self._version_drops = 0

    # -- link state -----------------------------------------------------------------------------

    def set_state(self, state: LinkState, reason: str, cause: LinkCause) -> None:
        """Move the link to ``state`` (an event when the state or its cause changes)."""
        if state == self.state and cause == self.cause:
            return
        self.state = state
        self.cause = cause
        self.reason = reason
        self.state_since = time.time()
        log.info("station: link %s (%s)", state.value, reason)
        self._emit(LinkChanged(state, self.state_since, reason, cause))

    def _syncing(self, reason: str) -> None:
        if self.state != LinkState.LOST:
            self.set_state(LinkState.SYNCING, reason, "syncing")

    def handshake_failed(self, failures: list[str]) -> None:
        """The security handshake failed: say why, in the state a banner reads."""
        last = failures[-1]
        # HandshakeWatch words it; its sentence for a ZAP refusal is the one that says so.
        cause: LinkCause = "key_refused" if "refused this key" in last else "handshake_failed"
        self.set_state(LinkState.LOST, last, cause)
        self.stats.last_handshake_failure = last
        self.stats.handshake_failures += len(failures)

    # -- snapshots ------------------------------------------------------------------------------

    def request_snapshot(self, reason: str) -> None:
        """Hold updates and ask the hub for everything."""
        now = time.monotonic()
        self._held.clear()
        self._snapshot.clear()
        self._snapshot_alarms.clear()
        if self.gate is not None:
            self.gate.snapshot_started()
        self._snapshot_sent = now
        self._snapshot_due = 0.0
        self._last_resync = now
        self._snapshot_id = self._next_id() if self._next_id else self._snapshot_id + 1
        self._syncing(reason)
        self._snapshot_unsent = not self._send(SnapshotRequest(request_id=self._snapshot_id))

    def resync(self, reason: str) -> None:
        """Mark values Uncertain, hold updates, ask for a snapshot (rate-limited)."""
        self.stats.resyncs += 1
        self.store.set_link_quality(int(Quality.UNCERTAIN_RESYNCING))
        wait = self._last_resync + self.settings.resync_min_interval_ms / 1000 - time.monotonic()
        if wait > 0 and not self._snapshot_sent:
            self._held.clear()
            self._snapshot_due = time.monotonic() + wait
            self._syncing(reason)
            return
        self.request_snapshot(reason)

    def on_snapshot_item(self, item: SnapshotItem) -> None:
        """One machine of the snapshot we asked for (others' answers are ignored)."""
        if item.request_id != self._snapshot_id or not self._snapshot_sent:
            return
        if len(self._snapshot) < MAX_SNAPSHOT_ITEMS:
            self._snapshot.append(item)
        else:
            self.stats.counters.count("snapshot_too_many_items")

    def on_snapshot_alarm(self, status: AlarmStatus) -> None:
        """One alarm of the snapshot we asked for (others' answers are ignored)."""
        if status.request_id != self._snapshot_id or not self._snapshot_sent:
            return
        if len(self._snapshot_alarms) < MAX_SNAPSHOT_ITEMS:
            self._snapshot_alarms.append(status)
        else:
            self.stats.counters.count("snapshot_too_many_alarms")

    def on_snapshot_end(self, end: SnapshotEnd) -> None:
        """The snapshot is complete: apply it, then the held updates that follow it."""
        if end.request_id != self._snapshot_id or self._snapshot_sent == 0.0:
            return
        restarted = self.hub_epoch not in (0, end.hub_epoch)
        self.store.apply_snapshot(self._snapshot)
        self.alarms.apply_snapshot(self._snapshot_alarms)
        if self.gate is not None:
            self.gate.snapshot_done(restarted)
        self._snapshot_alarms = []
        self.stats.snapshots += 1
        self.hub_epoch = end.hub_epoch
        self.hub_seq = end.hub_seq
        held, self._held = self._held, []
        self._snapshot = []
        self._snapshot_sent = 0.0
        self._last_pub = max(self._last_pub, time.monotonic())
        self.set_state(LinkState.LIVE, f"snapshot of {end.count} machines", "live")
        self._emit(MachinesChanged(tuple(self.store.machine_ids())))
        self._emit(AlarmsChanged(tuple(self.alarms.all())))
        for i, (header, body) in enumerate(held):
            if header.hub_epoch != self.hub_epoch or header.hub_seq <= self.hub_seq:
                self.stats.stale_updates_dropped += 1
                continue
            if header.hub_seq != self.hub_seq + 1:
                self.stats.gaps += 1
                self.resync("updates were missed while joining")
                self._held.extend(held[i:])
                return
            try:
                self._apply(header, body)
            except Exception as exc:  # one bad update must not cost the ones behind it
                self._failed("applying", type(body).__name__, exc)

    # -- the update stream ----------------------------------------------------------------------

    @property
    def liveness_s(self) -> float:
        """How long the hub may stay silent before the link is LOST."""
        return self._liveness_s

    def hub_heartbeat(self, interval_ms: int) -> None:
        """The hub said it sends heartbeats every ``interval_ms``: silence is judged by that."""
        interval_ms = min(max(interval_ms, MIN_HUB_HEARTBEAT_MS), MAX_HUB_HEARTBEAT_MS)
        if interval_ms != self.hub_heartbeat_ms:
            self.hub_heartbeat_ms = interval_ms
            self._liveness_s = self._liveness * interval_ms / 1000
            log.info(
                "station: the hub sends heartbeats every %d ms; silent after %.1f s.",
                interval_ms,
                self._liveness_s,
            )

    def relinked(self, which: str) -> None:
        """A socket was replaced: a snapshot asked on the old DEALER is asked again."""
        if which == "dealer" and self._snapshot_sent:
            self._snapshot_unsent = True

    def on_update(self, header: Header, body: Body) -> None:
        """One message from the hub's update stream, in arrival order."""
        if isinstance(body, Heartbeat) and body.interval_ms > 0 and header.src == "hub":
            self.hub_heartbeat(body.interval_ms)
        self._last_pub = time.monotonic()
        self.stats.messages += 1
        latency_ms = (time.time_ns() - header.ts) / 1e6
        self.stats.latency_ms += (latency_ms - self.stats.latency_ms) * 0.05
        if self.state == LinkState.LOST:
            self.set_state(LinkState.SYNCING, "hub is back", "syncing")
            self.resync("hub is back")
        if self._snapshot_sent or self._snapshot_due:
            if len(self._held) < MAX_HELD:
                self._held.append((header, body))
            else:
                self.stats.counters.count("held_overflow")
            return
        if header.hub_epoch != self.hub_epoch:
            self.stats.gaps += 1
            self.resync("the hub restarted")
            self._held.append((header, body))
            return
        if header.hub_seq != self.hub_seq + 1:
            if header.hub_seq <= self.hub_seq:
                self.stats.stale_updates_dropped += 1
                return
            self.stats.gaps += 1
            log.warning(
                "station: missed %d update(s) from the hub; resynchronising.",
                header.hub_seq - self.hub_seq - 1,
            )
            self.resync("updates were missed")
            self._held.append((header, body))
            return
        self._apply(header, body)

    def _apply(self, header: Header, body: Body) -> None:
        # The sequence moves first: an update the store refuses is counted there, not a gap.
        self.hub_seq = header.hub_seq
        match body:
            case Data():
                if self.store.apply_data(header.src, header.epoch, body):
                    self.stats.samples += len(body.aliases) // 4
            case Birth():
                if self.store.apply_birth(body, header.epoch):
                    self._emit(MachinesChanged((body.machine.id,)))
            case Death(at=at):
                if self.store.apply_death(header.src, header.epoch, (at or header.ts) * 1e-9):
                    self._emit(MachinesChanged((header.src,)))
            case CommandStatus():
                self._on_status(body)
            case AlarmStatus():
                if self.alarms.apply(body):
                    self._emit(AlarmsChanged((body.id,)))
            case Heartbeat():
                pass
            case _:
                if self.gate is None or not self.gate.on_update(body):
                    self.stats.counters.count("unexpected_type")

    # -- housekeeping ---------------------------------------------------------------------------

    def tick(self, now: float, handshake_ok: bool | None) -> None:
        """Rates, liveness, due and timed-out snapshots, protocol mismatches (every 0.25 s)."""
        self.stats.update_rates(now)
        version_drops = self.stats.counters.by_reason.get("version", 0)
        if version_drops > self._version_drops and not self._last_pub:
            # The hub answers, but in a protocol version this station cannot read.
            self.set_state(
                LinkState.LOST,
                f"the hub at {self.hub} speaks another protocol version than this station "
                "(COP/1); update one of them.",
                "version_mismatch",
            )
        self._version_drops = version_drops
        silent = now - max(self._last_pub, self._snapshot_sent or 0.0)
        if self.state != LinkState.LOST and silent > self._liveness_s and self._last_pub:
            # Stale since the hub's last message, not since this check noticed it.
            self.store.set_link_quality(
                int(Quality.UNCERTAIN_COMM_LOST), since=time.time() - (now - self._last_pub)
            )
            self.set_state(LinkState.LOST, "no heartbeat from the hub", "hub_silent")
        elif self._snapshot_due and now >= self._snapshot_due:
            self.request_snapshot("resynchronising")
        elif self._snapshot_sent and self._snapshot_unsent:
            self._snapshot_unsent = not self._send(SnapshotRequest(request_id=self._snapshot_id))
        elif self._snapshot_sent and now - self._snapshot_sent > SNAPSHOT_TIMEOUT_S:
            self.request_snapshot("snapshot timed out; asking again")
            if not self._last_pub and not (
                self.cause in _HANDSHAKE_CAUSES and handshake_ok is not True
            ):
                self.set_state(
                    LinkState.CONNECTING,
                    f"nothing answers at {self.hub}: is the hub running, and is the address right?",
                    "no_answer",
                )
