"""The hub's server: sockets, the poll loop, decoding, peers and what each key may say.

One thread owns two sockets: a ROUTER that agents, stations and the CLI dial into, and an XPUB
that republishes every machine's BIRTH/DATA/DEATH and command status with the hub's own
``(hub_epoch, hub_seq)`` (ZeroMQ Guide "Clone" pattern: snapshot on request + sequenced
updates + heartbeats). It is the only hub module that touches the transport (``copilot.bus``).

Before a message reaches the plant state or a service, the server asks its
:class:`~copilot.hub.peers.PeerBook` whether the sender may say it (``role``,
``foreign_machine``, ``machine_limit``, ``epoch_future``) and bounds sizes itself
(``too_large``, ``header_too_large``). Every refusal is counted by reason under the
sending key and, when it concerns a known machine, under that machine, and logged once per
(key, reason, machine). Revoking a key shuts down every connection of that key (both sockets
stay bound; nobody else reconnects).
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from copilot.alarms import AlarmConfig
from copilot.bus import (
    Bus,
    HandshakeWatch,
    Link,
    Poller,
    connection_id,
    cut,
    frame_of,
    hub_endpoints,
    limit_message_size,
    recv_body_from,
    recv_from,
    xpub,
)
from copilot.gate.policy import Policy
from copilot.hub.alarms import AlarmService
from copilot.hub.anomaly import AnomalyService
from copilot.hub.claims import AllowListBindings, Bindings, ClaimBook, claims_path
from copilot.hub.commands import CommandService
from copilot.hub.events import (
    Dropped,
    Event,
    MachineBorn,
    MachineOffline,
    RebirthRequested,
    SamplesIngested,
    SequenceGapped,
)
from copilot.hub.gate import GateService
from copilot.hub.history import HistoryService
from copilot.hub.loopwatch import LoopWatch
from copilot.hub.peers import Peer, PeerBook
from copilot.hub.plant import MachineState, PlantState
from copilot.hub.service import Sender, Service, ServiceHost
from copilot.proc import run_in_thread
from copilot.protocol import (
    TOPIC_HUB,
    AlarmStatus,
    Approval,
    ApprovalDecision,
    AuditQuery,
    Authority,
    AuthorityAct,
    Birth,
    Body,
    Codec,
    CommandRequest,
    Data,
    Death,
    ErrorReply,
    Header,
    Heartbeat,
    HistoryRequest,
    HubHealth,
    HubStatus,
    HubStatusRequest,
    Login,
    MachineHealth,
    MachinesReply,
    MachinesRequest,
    PeerHealth,
    RebirthRequest,
    SnapshotEnd,
    SnapshotRequest,
    machine_topic,
)
from copilot.settings import HubSettings

log = logging.getLogger(__name__)

MAX_LOGGED = 10_000
LOG_MACHINES_PER_REASON = 10  # a key refused for 5,000 machine ids logs 10 lines, counts all


# Reasons the hub fixes and accepts (the message goes on, changed) rather than refuses.
_CORRECTED_REASONS = frozenset({"heartbeat_clamped"})


@dataclass
class HubStats:
    """Counters for status output and tests."""

    received: int = 0
    published: int = 0
    samples: int = 0
    rebirth_requests: int = 0
    seq_gaps: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    drops: Counter[str] = field(default_factory=Counter)
    old_epoch_dropped: int = 0
    sessions_cut: int = 0
    connections_cut: int = 0


def default_services(
    settings: HubSettings,
    data_path: Path | None = None,
    alarm_config: AlarmConfig | None = None,
    policy: Policy | None = None,
) -> list[Service]:
    """The services every hub runs: history, command routing, the gate and alarms.

    ``data_path`` holds the alarm journal, people and the audit trail (``None``: alarms are
    kept in memory only, people too, and nothing is audited). The gate and alarms can be
    turned off in the settings (``gate``, ``alarms``).
    """
    commands = CommandService(settings)
    services: list[Service] = [HistoryService(settings), commands]
    gate = GateService(settings, commands, data_path, policy) if settings.gate else None
    if gate is not None:
        services.append(gate)
    if settings.alarms:
        alarms = AlarmService(settings, data_path, alarm_config, gate)
        services.append(alarms)
        if settings.anomaly:  # its alerts are alarms: it needs the alarm service
            services.append(AnomalyService(settings, alarms, data_path, gate))
    return services


def rss_mb() -> float:
    """Resident memory of this process in MB (``/proc/self/statm``, else peak RSS)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


class Hub:
    """The hub process's core. :meth:`run` blocks; :meth:`start` runs it on a thread."""

    def __init__(
        self,
        bus: Bus,
        settings: HubSettings,
        bind: str | None = None,
        services: Sequence[Service] | None = None,
        bindings: Bindings | None = None,
        claims: ClaimBook | None = None,
        data_path: Path | None = None,
    ) -> None:
        self.bus = bus
        self.settings = settings
        self.address = bind or settings.bind
        self.router_ep, self.pub_ep = hub_endpoints(self.address)
        self.codec = Codec()
        self.plant = PlantState(settings)
        self.stats = HubStats()
        self.data_path = data_path
        if data_path is None and bus.security.keys is not None:
            data_path = bus.security.keys.dir.parent
        self.hub_epoch = next_epoch(data_path / "hub-epoch" if data_path else None)
        self.hub_seq = 0
        self.started = time.monotonic()
        # Any thread may wake the loop (a worker finished, a journal committed): one byte on a
        # pipe the poller watches, at most one byte pending at a time.
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._woken = threading.Event()
        self.watch = LoopWatch()
        self.services = ServiceHost(
            default_services(settings, data_path) if services is None else services,
            self.plant,
            self,
            self.wake,
            self.watch,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.router: Link | None = None
        self.pub: Link | None = None
        self._watch: HandshakeWatch | None = None
        self.secure = not bus.security.insecure
        self.book = PeerBook(settings, self.secure, bindings, claims, connection_id)
        self._logged: set[tuple[str, str, str]] = set()
        self._logged_pairs: Counter[tuple[str, str]] = Counter()
        self._allow_seen: object = None
        self._allowed: set[str] = set()
        self.error: BaseException | None = None
        self._enc_header = self.codec.encode_header

    @property
    def peers(self) -> dict[str, Peer]:
        """Every key the hub has heard from, by ``role:name``."""
        return self.book.peers

    @property
    def machines(self) -> dict[str, MachineState]:
        """Every machine the hub knows, by id."""
        return self.plant.machines

    # -- lifecycle ----------------------------------------------------------------------------

    def open(self) -> None:
        """Bind both sockets (raises :class:`copilot.bus.BusError` or ``KeyFileError``).

        Secure, the hub's database (``hub.db``, first claims) is opened first: one written by a
        newer release raises :class:`copilot.storage.StorageError` before anything is bound.
        """
        if self.secure:
            keys = self.bus.security.keys
            assert keys is not None
            keys.load_allowlist()  # unreadable: KeyFileError with one sentence, before binding
            if self.book.claims is None:
                self.book.claims = ClaimBook(claims_path(self.data_path or keys.dir.parent))
        try:
            self.services.open()
            self._bind()
        except BaseException:
            self.services.close()
            if self.book.claims is not None:
                self.book.claims.close()  # no writer thread outlives a hub that never ran
            raise

    def _bind(self) -> None:
        largest = 2 * self.settings.max_message_bytes
        # A peer's unread queue is bounded in bytes: a fast or hostile agent is slowed down by
        # TCP back-pressure (its own bounded backlog takes over) instead of growing the hub.
        self.router = self.bus.router(
            self.router_ep, rcvhwm=max(4, self.settings.queue_bytes_per_peer // largest)
        )
        # Up to twice the limit a message is read and counted as too_large; beyond, libzmq
        # drops the connection before buffering it (the peer reconnects).
        limit_message_size(self.router, largest)
        self.pub = xpub(
            self.bus,
            self.pub_ep,
            sndhwm=self.settings.sndhwm,
            sndbuf=self.settings.pub_sndbuf_bytes,
        )
        if self.secure:
            self._watch = self.bus.watch(self.router, "hub")
            gate = self.bus.gatekeeper
            if self.book.bindings is None and gate is not None:
                self.book.bindings = AllowListBindings(gate.allowlist)
        log.info(
            "hub %s listening on %s (control) and %s (updates), %s",
            self.hub_epoch,
            self.router_ep,
            self.pub_ep,
            self.bus.security.label(),
        )

    def run(self) -> None:
        """Serve until :meth:`request_stop`."""
        if self.router is None:
            self.open()
        assert self.router is not None and self.pub is not None
        heartbeat_s = self.settings.heartbeat_ms / 1000
        next_hb = time.monotonic()
        next_check = time.monotonic() + 0.1
        next_keys = time.monotonic() + 1.0
        poller = Poller([self.router, self.pub])
        poller.register_fd(self._wake_r)
        watch = self.watch
        clock = watch.clock
        watch.watch_gc()
        try:
            while not self._stop.is_set():
                for link in poller.poll(min(next_hb, next_check) - time.monotonic()):
                    started = clock()
                    if link is self.router:
                        self._drain_router()
                        watch.since("router", started)
                    else:
                        self._drain_subscriptions()
                        watch.since("subscriptions", started)
                if self._woken.is_set():
                    started = clock()
                    self._serve_wake()
                    watch.since("wake", started)
                now = time.monotonic()
                started = clock()
                if now >= next_hb:
                    next_hb = now + heartbeat_s
                    self._heartbeat()
                    watch.since("heartbeat", started)
                if now >= next_check:
                    next_check = now + 0.1
                    self._tick(now)
                if now >= next_keys:
                    next_keys = now + 0.25  # a revoked key is cut within ~0.25 s
                    started = clock()
                    if self._watch is not None:
                        self._watch.drain()
                    self._check_revocations()
                    self.book.forget_closed()
                    watch.since("keys", started)
        finally:
            watch.unwatch_gc()
            self.services.close()
            if self.book.claims is not None:
                self.book.claims.close()
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _serve_wake(self) -> None:
        self._woken.clear()
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_r, 64)
        self._act(self.services.wake())

    def wake(self) -> None:
        """Have the loop call the services' ``on_wake`` soon (safe from any thread)."""
        if not self._woken.is_set():
            self._woken.set()
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_w, b"w")

    def start(self) -> None:
        """Bind now, then serve on a background thread."""
        self.open()
        self._thread = run_in_thread(self.run, "hub", self)

    def request_stop(self) -> None:
        """Ask the loop to return."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background thread."""
        if self._thread is not None:
            self._thread.join(timeout)

    # -- publishing (the services' Publisher) -------------------------------------------------

    def _send_pub(
        self, topic: bytes, src: str, epoch: int, seq: int, body: bytes | memoryview
    ) -> None:
        """Publish under the hub's next ``hub_seq``; a view of a received frame goes as is."""
        assert self.pub is not None
        self.hub_seq += 1
        header = Header(
            src=src,
            epoch=epoch,
            seq=seq,
            ts=time.time_ns(),
            hub_epoch=self.hub_epoch,
            hub_seq=self.hub_seq,
        )
        self.pub.send([topic, b"COP1", self._enc_header(header), frame_of(body)], block=False)
        self.stats.published += 1

    def publish(self, topic: bytes, body: Body) -> None:
        """Publish ``body`` from the hub itself, under its ``(hub_epoch, hub_seq)``."""
        self._send_pub(topic, "hub", self.hub_epoch, 0, self.codec.encode_body(body))

    def reply(self, identity: bytes, body: Body) -> bool:
        """Send ``body`` to one peer of the ROUTER; ``False`` if it cannot be routed now."""
        assert self.router is not None
        header = Header(
            src="hub",
            epoch=self.hub_epoch,
            seq=0,
            ts=time.time_ns(),
            hub_epoch=self.hub_epoch,
            hub_seq=self.hub_seq,
        )
        return self.router.send([identity, *self.codec.frames(header, body)], block=False)

    def _heartbeat(self) -> None:
        beat = Heartbeat(interval_ms=self.settings.heartbeat_ms)
        self.publish(TOPIC_HUB, beat)
        for state in self.plant.machines.values():
            if state.online:
                self.reply(state.identity, beat)

    # -- events -------------------------------------------------------------------------------

    def _act(self, events: Iterable[Event], peer: Peer | None = None) -> None:
        """Do what the wire needs for each event, count drops, then tell the services."""
        events = list(events)
        for event in events:
            match event:
                case SamplesIngested(machine=mid, epoch=epoch, seq=seq, raw=raw):
                    self.stats.samples += int(event.aliases.shape[0])
                    self._send_pub(machine_topic(mid), mid, epoch, seq, raw)
                case MachineBorn(machine=mid, epoch=epoch, seq=seq, raw=raw):
                    if peer is not None:
                        self.book.claim(peer, mid)
                    self._send_pub(machine_topic(mid), mid, epoch, seq, raw)
                case MachineOffline(machine=mid, epoch=epoch, seq=seq, reason=reason, at=at):
                    death = Death(reason=reason, at=int(at * 1e9))  # type: ignore[arg-type]
                    body = self.codec.encode_body(death)
                    self._send_pub(machine_topic(mid), mid, epoch, seq, body)
                case RebirthRequested(identity=identity, reason=reason):
                    self.stats.rebirth_requests += 1
                    self.reply(identity, RebirthRequest(reason=reason))
                case SequenceGapped():
                    self.stats.seq_gaps += 1
                case Dropped():
                    self._count(peer, event.reason, event.machine, event.count, event.detail)
                case _:
                    pass
        self.services.emit(events)

    def _count(
        self, peer: Peer | None, reason: str, machine: str = "", n: int = 1, detail: str = ""
    ) -> None:
        """Count a refusal under the hub, the peer and the machine; log it once per triple."""
        self.stats.drops[reason] += n
        if reason == "old_epoch":
            self.stats.old_epoch_dropped += n
        key = peer.key if peer is not None else "-"
        if peer is not None:
            peer.drops[reason] += n
        state = self.plant.machines.get(machine) if machine else None
        if state is not None and reason in _SENDER_REASONS:
            state.drops[reason] += n  # the plant counts its own reasons itself
        triple = (key, reason, machine)
        if triple in self._logged or len(self._logged) >= MAX_LOGGED:
            return
        self._logged.add(triple)
        pair = (key, reason)
        self._logged_pairs[pair] += 1
        shown = self._logged_pairs[pair]
        if shown > LOG_MACHINES_PER_REASON:
            return
        log.warning(
            "hub: %s %s from key %s%s%s (counted from now on, logged once%s).",
            "corrected" if reason in _CORRECTED_REASONS else "refused",
            reason,
            key,
            f" for machine {machine!r}" if machine else "",
            f" ({detail})" if detail else "",
            "; further machines for this key and reason are only counted"
            if shown == LOG_MACHINES_PER_REASON
            else "",
        )

    # -- receiving ----------------------------------------------------------------------------

    def _drain_subscriptions(self) -> None:
        """Subscription frames tell which key holds which update-stream connection."""
        assert self.pub is not None
        now = time.monotonic()
        for _ in range(1000):
            got = recv_from(self.pub, self.secure)
            if got is None:
                return
            _frames, user, fd = got
            if user:
                self.book.peer(user, fd, now)

    def _drain_router(self) -> None:
        assert self.router is not None
        now = time.monotonic()
        limit = self.settings.max_message_bytes
        for i in range(2000):
            if i & 63 == 63 and self._woken.is_set():
                self._serve_wake()  # work another thread finished waits no longer than 64 msgs
            # The body stays in its received frame (a view, no copy); a DATA batch that is
            # applied as it came is forwarded in that same frame (see _send_pub).
            got = recv_body_from(self.router, self.secure)
            if got is None:
                return
            heads, raw, user, fd = got
            self.stats.received += 1
            if not heads:
                self.codec.drops.count("frame_count")
                continue
            identity = heads[0]
            peer = self.book.peer(user, fd, now)
            peer.identities[identity] = now
            peer.messages += 1
            if len(heads) == 3 and len(heads[2]) > self.settings.max_header_bytes:
                self._count(peer, "header_too_large")
                continue
            if len(heads) == 3 and len(raw) > limit:
                self._count(peer, "too_large")
                continue
            decoded = self.codec.decode([*heads[1:], raw])
            if decoded is None:
                continue
            header, body = decoded
            try:
                self._dispatch(peer, identity, header, body, raw)
            except Exception:  # one bad message must never stop the hub
                self.codec.drops.count("handler_error")
                log.exception(
                    "hub: error handling %s from %s (key %s)",
                    type(body).__name__,
                    header.src[:64],
                    peer.key,
                )

    def _dispatch(
        self, peer: Peer, identity: bytes, header: Header, body: Body, raw: bytes | memoryview
    ) -> None:
        reason = self.book.refusal(peer, header, body, self.plant.machines, time.time_ns())
        if reason:
            mid = header.src if header.src in self.plant.machines else ""
            self._count(peer, reason, mid, detail=type(body).__name__)
            if reason == "role":
                self.stats.refused[f"{peer.key}:{type(body).__name__}"] += 1
            return
        plant = self.plant
        match body:
            case Data():
                self._act(plant.data(identity, header, body, raw), peer)
            case Heartbeat():
                if peer.role == "station" or header.src.startswith(("station:", "cli:")):
                    return
                self._act(plant.heartbeat(identity, header), peer)
            case Birth():
                self._act(plant.birth(identity, peer.key, header, body, bytes(raw)), peer)
            case Death():
                self._act(plant.death(header, body), peer)
            case SnapshotRequest(prefix=prefix, request_id=request_id):
                self._send_snapshot(identity, prefix, request_id, peer)
            case MachinesRequest():
                items = self.plant.summaries(limit=self.settings.max_reply_items)
                areas = self.services.areas_of(peer.key)
                items = [m for m in items if not areas or m.area in areas]
                self.reply(identity, MachinesReply(machines=items))
            case HistoryRequest() if not self._visible(
                self.services.areas_of(peer.key), body.machine
            ):
                self._count(peer, "area_not_visible", detail="HistoryRequest")
                message = f"This station may not see {body.machine!r}: it is outside its areas."
                self.reply(
                    identity,
                    ErrorReply(code="not_authorised", message=message, request_id=body.request_id),
                )
            case HubStatusRequest():
                self.reply(identity, self.status_reply())
            case _ if self.services.handles(type(body)):
                sender = Sender(identity, peer.key, peer.role, header)
                self._act(self.services.handle(sender, body), peer)
            case Login() | CommandRequest() | AuthorityAct() | ApprovalDecision() | AuditQuery():
                self.reply(
                    identity,
                    ErrorReply(
                        code="no_gate",
                        message="This hub runs without the command gate (copilot hub --no-gate): "
                        "nobody logs in; stations send plain CMD.",
                        request_id=getattr(body, "request_id", 0),
                    ),
                )
            case _:
                self.codec.drops.count("unexpected_type")

    # -- periodic work ------------------------------------------------------------------------

    def _tick(self, now: float) -> None:
        started = self.watch.clock()
        self._act(self.plant.check_liveness(now))
        self.plant.prune(now)
        self.book.prune(now)
        self.watch.since("tick:plant", started)
        self._act(self.services.tick(now))

    def _check_revocations(self) -> None:
        """Cut every connection of a key no longer on the allow-list (checked every 0.25 s).

        Checked against every known peer each time, not only when the file changes: a
        connection of a revoked key that shows up later (it was admitted just before) is cut
        as soon as it is seen.
        """
        gate = self.bus.gatekeeper
        if gate is None or self.bus.security.keys is None:
            return
        allow = gate.allowlist()  # re-read only when the file changed
        error = getattr(gate, "error", None)  # set by bus/ when a changed file is unusable
        if isinstance(error, Exception):
            # Never run on a stale list (a revocation would not apply): stop, in one sentence.
            raise error
        if allow is not self._allow_seen:
            self._allow_seen = allow
            self._allowed = {f"{k.role}:{k.name}" for k in allow.keys}
        revoked = self.book.revoke(self._allowed)
        if not revoked:
            return
        names = ", ".join(peer.key for peer, _ in revoked)
        log.warning("hub: key(s) revoked: %s; cutting their connections.", names)
        for peer, fds in revoked:
            self.stats.sessions_cut += 1
            self.stats.connections_cut += sum(cut(fd) for fd in fds)
            self._act(self.plant.revoke(peer.key))

    # -- snapshots and status -----------------------------------------------------------------

    def _visible(self, areas: frozenset[str], machine: str) -> bool:
        """Whether a key limited to ``areas`` (empty: none) may see ``machine``."""
        if not areas:
            return True
        state = self.plant.machines.get(machine)
        return state is not None and state.birth.machine.area in areas

    def _send_snapshot(self, identity: bytes, prefix: str, request_id: int, peer: Peer) -> None:
        count = 0
        limit = self.settings.max_message_bytes
        areas = self.services.areas_of(peer.key)
        for mid, state in self.plant.machines.items():
            if not mid.startswith(prefix) or not self._visible(areas, mid):
                continue
            item = self.plant.snapshot_item(state)
            item.request_id = request_id
            encoded = len(self.codec.encode_body(item))
            for cut_to in (64, 0):  # text values are cut at ingest; this is the last resort
                if encoded <= limit:
                    break
                self._count(peer, "snapshot_item_too_large", mid)
                item.values.text = {i: v[:cut_to] for i, v in item.values.text.items() if cut_to}
                encoded = len(self.codec.encode_body(item))
            if encoded > limit:
                continue
            self.reply(identity, item)
            count += 1
        for body in self.services.snapshot(prefix):
            machine = getattr(body, "machine", None)
            if isinstance(machine, str) and not self._visible(areas, machine):
                continue
            if isinstance(body, AlarmStatus):
                body.request_id = request_id  # so the station can tell the answers apart
            elif isinstance(body, Approval | Authority):
                body = msgspec.structs.replace(body, request_id=request_id)  # the service's own
            self.reply(identity, body)
        end = SnapshotEnd(
            hub_epoch=self.hub_epoch,
            hub_seq=self.hub_seq,
            count=count,
            request_id=request_id,
            areas=sorted(areas),
        )
        self.reply(identity, end)

    def status_reply(self) -> HubStatus:
        """The hub's health, bounded to ``max_reply_bytes``."""
        drops = Counter(self.codec.drops.as_dict())
        drops.update(self.stats.drops)
        loop_slow, loop_worst_ms = self.watch.status()
        hub = HubHealth(
            epoch=self.hub_epoch,
            uptime_s=round(time.monotonic() - self.started, 3),
            rss_mb=round(rss_mb(), 1),
            heartbeat_ms=self.settings.heartbeat_ms,
            received=self.stats.received,
            published=self.stats.published,
            samples=self.stats.samples,
            drops=dict(drops),
            service_errors=dict(self.services.errors),
            services=self.services.status(),
            loop_slow=loop_slow,
            loop_worst_ms=loop_worst_ms,
        )
        machines = [
            MachineHealth(
                id=mid,
                name=state.name[:64],
                online=state.online,
                key=state.user or "insecure",
                epoch=state.epoch,
                messages=state.messages,
                samples=state.samples,
                drops=dict(state.drops),
                rebirths=state.rebirths,
                gaps=state.gaps,
            )
            for mid, state in sorted(self.plant.machines.items())
        ]
        peers = [
            PeerHealth(
                key=peer.key,
                role=peer.role,
                connections=peer.connections,
                messages=peer.messages,
                drops=dict(peer.drops),
                refused_claims=peer.refused_claims,
                machines=sorted(peer.machines)[:100],
            )
            for peer in sorted(self.peers.values(), key=lambda p: p.key)
        ]
        reply = HubStatus(hub=hub, machines=machines, peers=peers)
        limit = self.settings.max_reply_bytes
        while len(msgspec.msgpack.encode(reply)) > limit and (reply.machines or reply.peers):
            reply.truncated = True
            reply.machines = reply.machines[: len(reply.machines) // 2]
            reply.peers = reply.peers[: len(reply.peers) // 2]
        return reply


# Reasons the server decides (about who sent a message); the plant counts its own per machine.
_SENDER_REASONS = frozenset(
    {"role", "foreign_machine", "machine_limit", "epoch_future", "snapshot_item_too_large"}
)


def next_epoch(path: Path | None) -> int:
    """A new hub epoch: now in ns, but always above the last one even if the clock stepped back.

    The last epoch is kept in ``path`` (written once at start, before the loop runs).
    """
    epoch = time.time_ns()
    if path is None:
        return epoch
    with contextlib.suppress(OSError, ValueError):  # first start or unreadable: the clock
        epoch = max(epoch, int(path.read_text(encoding="ascii").strip() or 0) + 1)
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(str(epoch), encoding="ascii")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("hub: cannot keep the hub epoch in %s: %s", path, exc)
    return epoch
