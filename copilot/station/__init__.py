"""The Qt-free station client that the dashboard sits on.

One I/O thread owns a SUB (the hub's updates) and a DEALER (snapshots, history, commands).
It joins by subscribe-then-snapshot: updates that arrive before the snapshot ends are held and
those not already in it are applied after. A hub sequence gap or a new hub epoch marks every
value Uncertain/resyncing, takes a new snapshot (rate-limited) and is counted; a silent hub
(no heartbeat for ``liveness`` intervals) marks values Uncertain/comm_lost until it is back.

State goes into a :class:`StationStore` that views read on their own timer. Listeners get
only low-rate events (:class:`LinkChanged`, :class:`MachinesChanged`, :class:`CommandUpdated`,
:class:`HistoryArrived`), called on the I/O thread; a Qt bridge re-emits them as a queued
signal. Other threads hand work to the I/O thread through a queue and a wake-up pipe.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import logging
import os
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from copilot.bus import Bus, HandshakeWatch, Link, Poller, hub_endpoints
from copilot.proc import run_in_thread
from copilot.protocol import (
    Birth,
    Body,
    Codec,
    Command,
    CommandQuery,
    CommandStatus,
    Data,
    Death,
    ErrorReply,
    Header,
    Heartbeat,
    HistoryReply,
    HistoryRequest,
    Origin,
    Quality,
    Scalar,
    SnapshotEnd,
    SnapshotItem,
    SnapshotRequest,
)
from copilot.settings import StationSettings
from copilot.station.store import MachineSnapshot, Reading, StationStore

log = logging.getLogger(__name__)

__all__ = [
    "CommandUpdated",
    "Event",
    "HistoryArrived",
    "LinkChanged",
    "LinkState",
    "MachineSnapshot",
    "MachinesChanged",
    "Reading",
    "Station",
    "StationStats",
    "StationStore",
]


# Lifecycle order: a status never moves a command backwards (times come from different clocks).
_STATE_RANK = {
    "SENT": 0,
    "ACCEPTED": 1,
    "EXECUTING": 2,
    "COMPLETED": 3,
    "FAILED": 3,
    "REJECTED": 3,
    "EXPIRED": 3,
    "CANCELLED": 3,
    "UNKNOWN": 3,
}


class LinkState(enum.Enum):
    """The station's link to the hub."""

    CONNECTING = "connecting"
    SYNCING = "syncing"
    LIVE = "live"
    LOST = "lost"


@dataclass(frozen=True)
class LinkChanged:
    """The link to the hub changed state (with a sentence for the status bar)."""

    state: LinkState
    since: float
    reason: str


@dataclass(frozen=True)
class MachinesChanged:
    """Machines were born, died or were replaced by a snapshot."""

    machine_ids: tuple[str, ...]


@dataclass(frozen=True)
class CommandUpdated:
    """A command moved in its lifecycle."""

    status: CommandStatus


@dataclass(frozen=True)
class HistoryArrived:
    """The hub answered a history request."""

    request_id: int
    reply: HistoryReply | ErrorReply


Event = LinkChanged | MachinesChanged | CommandUpdated | HistoryArrived


@dataclass
class StationStats:
    """Link health for the status bar and tests."""

    messages: int = 0
    samples: int = 0
    gaps: int = 0
    resyncs: int = 0
    snapshots: int = 0
    stale_updates_dropped: int = 0
    latency_ms: float = 0.0
    rate_msgs_s: float = 0.0
    rate_samples_s: float = 0.0
    handshake_failures: int = 0
    last_handshake_failure: str = ""
    _window: deque[tuple[float, int, int]] = field(default_factory=lambda: deque(maxlen=64))


class Station:
    """Client of one hub. Start it, read :attr:`store`, stop it."""

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
        self.router_ep, self.pub_ep = hub_endpoints(hub)
        self.store = StationStore(self.settings.ring_samples)
        self.stats = StationStats()
        self.state = LinkState.CONNECTING
        self.state_since = time.time()
        self.hub_epoch = 0
        self.hub_seq = 0
        self._liveness_s = liveness * heartbeat_ms / 1000
        self._codec = Codec()
        self._listeners: list[Callable[[Event], None]] = []
        self._requests: queue.SimpleQueue[Body] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pause_until = 0.0
        self._ids = itertools.count(1)
        self._held: list[tuple[Header, Body]] = []
        self._snapshot: list[SnapshotItem] = []
        self._snapshot_sent = 0.0
        self._snapshot_due = 0.0
        self._snapshot_id = 0
        self._snapshot_unsent = False
        self._last_resync = 0.0
        self._last_pub = 0.0
        self.sub: Link | None = None
        self.dealer: Link | None = None
        self._watch: HandshakeWatch | None = None
        self.error: BaseException | None = None

    # -- public API (any thread) --------------------------------------------------------------

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener(event)`` on the I/O thread for every low-rate event."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Connect and run the I/O thread."""
        self._thread = run_in_thread(self._run, "station-io", self)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the I/O thread and close its sockets."""
        if self._stop.is_set():
            return  # already stopped: the wake-up fds may belong to someone else by now
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("station I/O thread did not stop within %.1f s", timeout)
                return  # keep the fds open: the thread may still poll them
        os.close(self._wake_r)
        os.close(self._wake_w)

    def request_history(
        self,
        machine: str,
        tags: list[str],
        since: float,
        until: float = 0.0,
        max_points: int = 4000,
    ) -> int:
        """Ask the hub for history (times in s); the answer comes as :class:`HistoryArrived`."""
        request_id = next(self._ids)
        self._submit(
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
        now = time.time_ns()
        cmd = Command(
            cmd_id=cmd_id or uuid.uuid4().hex,
            machine=machine,
            name=name,
            args=args or {},
            not_after=now + int(ttl_s * 1e9),
            issued_at=now,
            origin=origin,
            operator=operator,
        )
        if cmd.cmd_id not in self.store.commands:
            self.store.apply_command_status(
                CommandStatus(cmd_id=cmd.cmd_id, machine=machine, state="SENT", at=now)
            )
        self._submit(cmd)
        return cmd.cmd_id

    def query_command(self, cmd_id: str) -> None:
        """Ask where a command stands (after a reconnect: ask, never resend)."""
        self._submit(CommandQuery(cmd_id=cmd_id))

    def pause_io(self, seconds: float) -> None:
        """Fault injection: stop reading the sockets for ``seconds``, as a stalled station would."""
        self._pause_until = time.monotonic() + seconds
        self._wake()

    def readings(self, machine: str) -> list[Reading]:
        """Shortcut to :meth:`StationStore.readings`."""
        return self.store.readings(machine)

    # -- I/O thread ---------------------------------------------------------------------------

    def _submit(self, body: Body) -> None:
        self._requests.put(body)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the I/O thread
                log.exception("station listener failed on %s", type(event).__name__)

    def _set_state(self, state: LinkState, reason: str) -> None:
        if state == self.state:
            return
        self.state = state
        self.state_since = time.time()
        log.info("station: link %s (%s)", state.value, reason)
        self._emit(LinkChanged(state, self.state_since, reason))

    def _run(self) -> None:
        self.sub = self.bus.sub(
            self.pub_ep, rcvhwm=self.settings.rcvhwm, rcvbuf=self.settings.rcvbuf_bytes
        )
        self.sub.subscribe(b"")
        self.dealer = self.bus.dealer(self.router_ep)
        if not self.bus.security.insecure:
            self._watch = self.bus.watch(self.dealer, f"station {self.name}")
        poller = Poller([self.sub, self.dealer])
        poller.register_fd(self._wake_r)
        self._request_snapshot("joining")
        next_check = time.monotonic() + 0.25
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now < self._pause_until:
                    self._stop.wait(self._pause_until - now)
                    continue
                ready = poller.poll(max(0.0, next_check - now))
                self._drain_wake()
                self._drain_requests()
                if self.dealer in ready:
                    self._drain_dealer()
                if self.sub in ready:
                    self._drain_sub()
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + 0.25
                    self._housekeeping(now)
        finally:
            self.bus.forget(self.sub)
            self.bus.forget(self.dealer)
            if self._watch is not None:
                self._watch.close()
                self.bus.forget(self._watch.link)

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _header(self) -> Header:
        return Header(src=f"station:{self.name}", epoch=0, seq=0, ts=time.time_ns())

    def _send(self, body: Body) -> bool:
        assert self.dealer is not None
        if self.dealer.send(self._codec.frames(self._header(), body), block=False):
            return True
        if True:
            log.debug("station: hub unreachable; %s not sent.", type(body).__name__)
            if isinstance(body, Command):
                status = CommandStatus(
                    cmd_id=body.cmd_id,
                    machine=body.machine,
                    state="REJECTED",
                    cause="hub_unreachable",
                    message="The hub cannot be reached; the command was not sent.",
                    at=time.time_ns(),
                )
                self.store.apply_command_status(status)
                self._emit(CommandUpdated(status))
        return False

    def _drain_requests(self) -> None:
        while True:
            try:
                body = self._requests.get_nowait()
            except queue.Empty:
                return
            self._send(body)

    def _request_snapshot(self, reason: str) -> None:
        now = time.monotonic()
        self._held.clear()
        self._snapshot.clear()
        self._snapshot_sent = now
        self._snapshot_due = 0.0
        self._last_resync = now
        self._snapshot_id += 1
        if self.state != LinkState.LOST:
            self._set_state(LinkState.SYNCING, reason)
        self._snapshot_unsent = not self._send(SnapshotRequest(request_id=self._snapshot_id))

    def _resync(self, reason: str) -> None:
        """Mark values Uncertain, hold updates, ask for a snapshot (rate-limited)."""
        self.stats.resyncs += 1
        self.store.set_link_quality(int(Quality.UNCERTAIN_RESYNCING))
        wait = self._last_resync + self.settings.resync_min_interval_ms / 1000 - time.monotonic()
        if wait > 0 and not self._snapshot_sent:
            self._held.clear()
            self._snapshot_due = time.monotonic() + wait
            self._set_state(LinkState.SYNCING, reason)
            return
        self._request_snapshot(reason)

    def _drain_dealer(self) -> None:
        assert self.dealer is not None
        for _ in range(10_000):
            frames = self.dealer.recv()
            if frames is None:
                return
            decoded = self._codec.decode(frames)
            if decoded is None:
                continue
            _, body = decoded
            match body:
                case SnapshotItem():
                    if body.request_id == self._snapshot_id and self._snapshot_sent:
                        self._snapshot.append(body)
                case SnapshotEnd():
                    if body.request_id == self._snapshot_id:
                        self._finish_snapshot(body)
                case HistoryReply() | ErrorReply():
                    request_id = body.request_id if isinstance(body, HistoryReply) else 0
                    if isinstance(body, ErrorReply):
                        log.warning("station: hub says %s", body.message)
                    self._emit(HistoryArrived(request_id, body))
                case CommandStatus():
                    self._on_command_status(body)
                case _:
                    self._codec.drops.count("unexpected_type")

    def _finish_snapshot(self, end: SnapshotEnd) -> None:
        if self._snapshot_sent == 0.0:
            return
        self.store.apply_snapshot(self._snapshot)
        self.stats.snapshots += 1
        self.hub_epoch = end.hub_epoch
        self.hub_seq = end.hub_seq
        held, self._held = self._held, []
        self._snapshot = []
        self._snapshot_sent = 0.0
        self._last_pub = max(self._last_pub, time.monotonic())
        self._set_state(LinkState.LIVE, f"snapshot of {end.count} machines")
        self._emit(MachinesChanged(tuple(self.store.machine_ids())))
        for i, (header, body) in enumerate(held):
            if header.hub_epoch != self.hub_epoch or header.hub_seq <= self.hub_seq:
                self.stats.stale_updates_dropped += 1
                continue
            if header.hub_seq != self.hub_seq + 1:
                self.stats.gaps += 1
                self._resync("updates were missed while joining")
                self._held.extend(held[i:])
                return
            self._apply(header, body)

    def _drain_sub(self) -> None:
        assert self.sub is not None
        for _ in range(10_000):
            frames = self.sub.recv()
            if frames is None:
                return
            if len(frames) != 4:
                self._codec.drops.count("frame_count")
                continue
            decoded = self._codec.decode(frames[1:])
            if decoded is None:
                continue
            header, body = decoded
            self._last_pub = time.monotonic()
            self.stats.messages += 1
            latency_ms = (time.time_ns() - header.ts) / 1e6
            self.stats.latency_ms += (latency_ms - self.stats.latency_ms) * 0.05
            if self.state == LinkState.LOST:
                self._set_state(LinkState.SYNCING, "hub is back")
                self._resync("hub is back")
            if self._snapshot_sent or self._snapshot_due:
                if len(self._held) < 500_000:
                    self._held.append((header, body))
                continue
            if header.hub_epoch != self.hub_epoch:
                self.stats.gaps += 1
                self._resync("the hub restarted")
                self._held.append((header, body))
                continue
            if header.hub_seq != self.hub_seq + 1:
                if header.hub_seq <= self.hub_seq:
                    self.stats.stale_updates_dropped += 1
                    continue
                self.stats.gaps += 1
                log.warning(
                    "station: missed %d update(s) from the hub; resynchronising.",
                    header.hub_seq - self.hub_seq - 1,
                )
                self._resync("updates were missed")
                self._held.append((header, body))
                continue
            self._apply(header, body)

    def _apply(self, header: Header, body: Body) -> None:
        self.hub_seq = header.hub_seq
        match body:
            case Data():
                if self.store.apply_data(header.src, header.epoch, body):
                    self.stats.samples += len(body.aliases) // 4
            case Birth():
                self.store.apply_birth(body, header.epoch)
                self._emit(MachinesChanged((body.machine.id,)))
            case Death(at=at):
                if self.store.apply_death(header.src, header.epoch, (at or header.ts) * 1e-9):
                    self._emit(MachinesChanged((header.src,)))
            case CommandStatus():
                self._on_command_status(body)
            case Heartbeat():
                pass
            case _:
                self._codec.drops.count("unexpected_type")

    def _on_command_status(self, status: CommandStatus) -> None:
        known = self.store.commands.get(status.cmd_id)
        if known is not None and (
            known == status or _STATE_RANK[status.state] < _STATE_RANK[known.state]
        ):
            return  # a repeat (reply and update stream both carry it) or an older step
        self.store.apply_command_status(status)
        self._emit(CommandUpdated(status))

    def _housekeeping(self, now: float) -> None:
        stats = self.stats
        stats._window.append((now, stats.messages, stats.samples))
        if len(stats._window) >= 2:
            t0, m0, s0 = stats._window[0]
            span = now - t0
            if span > 0:
                stats.rate_msgs_s = (stats.messages - m0) / span
                stats.rate_samples_s = (stats.samples - s0) / span
        if self._watch is not None:
            failures = self._watch.drain()
            if failures:
                stats.handshake_failures += len(failures)
                stats.last_handshake_failure = failures[-1]
                self._set_state(LinkState.LOST, failures[-1])
        silent = now - max(self._last_pub, self._snapshot_sent or 0.0)
        if self.state != LinkState.LOST and silent > self._liveness_s and self._last_pub:
            self.store.set_link_quality(int(Quality.UNCERTAIN_COMM_LOST))
            self._set_state(LinkState.LOST, "no heartbeat from the hub")
        elif self._snapshot_due and now >= self._snapshot_due:
            self._request_snapshot("resynchronising")
        elif self._snapshot_sent and self._snapshot_unsent:
            self._snapshot_unsent = not self._send(SnapshotRequest())
        elif self._snapshot_sent and now - self._snapshot_sent > 3.0:
            self._request_snapshot("snapshot timed out; asking again")
            if not self._last_pub:
                self._set_state(LinkState.CONNECTING, "waiting for the hub")
