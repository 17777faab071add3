"""The hub: the plant's single source of truth for machine state.

One thread owns two sockets: a ROUTER that agents, stations and the CLI dial into, and a PUB
that republishes every machine's BIRTH/DATA/DEATH and command status with the hub's own
``(hub_epoch, hub_seq)`` (ZeroMQ Guide "Clone" pattern: snapshot on request + sequenced
updates + heartbeats). It keeps the last value of every tag and its history — full rate for
``history_full_s``, then min/max per interval for ``history_hours`` — marks a machine's tags
Bad/stale when its session ends or misses ``liveness`` heartbeats, asks for a rebirth on a
sequence gap or unknown alias (rate-limited), and routes commands to machines that are online,
never queueing one for a machine that is not.

Malformed messages are counted by reason and dropped; a message of a kind the sender's role
may not send is refused and counted. Revoking a key cuts the holder's open session.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from copilot.bus import Bus, HandshakeWatch, Link, Poller, hub_endpoints
from copilot.proc import run_in_thread
from copilot.protocol import (
    TOPIC_HUB,
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
    MachinesReply,
    MachinesRequest,
    MachineSummary,
    Quality,
    RebirthRequest,
    Series,
    SnapshotEnd,
    SnapshotItem,
    SnapshotRequest,
    command_topic,
    machine_topic,
    valid_id,
)
from copilot.protocol.columns import ColumnError, pack, seconds, unpack
from copilot.series import BatchError, MinMax, Rings, TagTable
from copilot.settings import HubSettings

log = logging.getLogger(__name__)

AGENT_MESSAGES = (Birth, Data, Death, Heartbeat, CommandStatus)
CLIENT_MESSAGES = (
    SnapshotRequest,
    HistoryRequest,
    MachinesRequest,
    Command,
    CommandQuery,
    Heartbeat,
)


@dataclass
class MachineState:
    """Everything the hub knows about one machine's current session."""

    birth: Birth
    birth_bytes: bytes
    epoch: int
    seq: int
    identity: bytes
    user: str
    table: TagTable
    rings: Rings
    minmax: MinMax
    online: bool = True
    since: float = field(default_factory=time.time)
    last_heard: float = field(default_factory=time.monotonic)
    last_rebirth_req: float = 0.0
    state_alias: int | None = None

    folded: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def name(self) -> str:
        """Human name of the machine."""
        return self.birth.machine.name

    def fold(self) -> None:
        """Add every sample not yet in the min/max tier to it."""
        if self.folded.shape[0] != self.rings.size:
            self.folded = np.zeros(self.rings.size, dtype=np.int64)
        aliases, t, v = self.rings.since(self.folded)
        self.minmax.append(aliases, t, v)
        self.folded = self.rings.total.copy()


@dataclass
class CommandRecord:
    """A command the hub routed, and who asked for it."""

    cmd: Command
    requester: bytes
    status: CommandStatus


@dataclass
class HubStats:
    """Counters for status output and tests."""

    received: int = 0
    published: int = 0
    samples: int = 0
    rebirth_requests: int = 0
    seq_gaps: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    old_epoch_dropped: int = 0
    sessions_cut: int = 0


class Hub:
    """The hub process's core. :meth:`run` blocks; :meth:`start` runs it on a thread."""

    def __init__(self, bus: Bus, settings: HubSettings, bind: str | None = None) -> None:
        self.bus = bus
        self.settings = settings
        self.address = bind or settings.bind
        self.router_ep, self.pub_ep = hub_endpoints(self.address)
        self.codec = Codec()
        self.machines: dict[str, MachineState] = {}
        self.commands: dict[str, CommandRecord] = {}
        self.stats = HubStats()
        self.hub_epoch = time.time_ns()
        self.hub_seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.router: Link | None = None
        self.pub: Link | None = None
        self._watch: HandshakeWatch | None = None
        self._users: dict[bytes, str] = {}
        self._allow_mtime = 0.0
        self.error: BaseException | None = None
        self._last_fold = 0.0
        self._asked: dict[bytes, float] = {}
        self.on_tick: Callable[[Hub], None] | None = None
        self._enc_header = self.codec.encode_header

    # -- lifecycle ----------------------------------------------------------------------------

    def open(self) -> None:
        """Bind both sockets (raises :class:`copilot.bus.BusError` with a clear sentence)."""
        self.router = self.bus.router(self.router_ep)
        self.pub = self.bus.pub(self.pub_ep, sndhwm=self.settings.sndhwm)
        if not self.bus.security.insecure:
            self._watch = self.bus.watch(self.router, "hub")
            if self.bus.gatekeeper is not None:
                self._allow_mtime = self.bus.security.keys.allowlist_mtime()  # type: ignore[union-attr]
        log.info(
            "hub %s listening on %s (control) and %s (updates), %s",
            self.hub_epoch,
            self.router_ep,
            self.pub_ep,
            self.bus.security.label(),
        )

    def _reopen(self) -> None:
        """Close and rebind both sockets: every peer reconnects and passes ZAP again."""
        assert self.router is not None and self.pub is not None
        if self._watch is not None:
            self._watch.close()
            self.bus.forget(self._watch.link)
        self.bus.forget(self.router)
        self.bus.forget(self.pub)
        self._users.clear()
        deadline = time.monotonic() + 2.0
        while True:
            try:
                self.open()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def run(self) -> None:
        """Serve until :meth:`request_stop`."""
        if self.router is None:
            self.open()
        heartbeat_s = self.settings.heartbeat_ms / 1000
        next_hb = time.monotonic()
        next_check = time.monotonic() + 0.1
        next_keys = time.monotonic() + 1.0
        poller, polled = Poller(), None
        while not self._stop.is_set():
            assert self.router is not None
            if polled is not self.router:  # first pass, or the sockets were rebound
                poller, polled = Poller([self.router]), self.router
            for _ in poller.poll(min(next_hb, next_check) - time.monotonic()):
                self._drain_router()
            now = time.monotonic()
            if now >= next_hb:
                next_hb = now + heartbeat_s
                self._heartbeat()
            if now >= next_check:
                next_check = now + 0.1
                self._check_liveness(now)
                self._fold_history(now)
                if self.on_tick is not None:
                    self.on_tick(self)
            if now >= next_keys:
                next_keys = now + 1.0
                if self._watch is not None:
                    self._watch.drain()
                self._check_revocations()

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

    # -- publishing ---------------------------------------------------------------------------

    def _publish(self, topic: bytes, src: str, epoch: int, seq: int, body: bytes) -> None:
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
        self.pub.send([topic, b"COP1", self._enc_header(header), body], block=False)
        self.stats.published += 1

    def _reply(self, identity: bytes, body: Body) -> bool:
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
        self._publish(TOPIC_HUB, "hub", self.hub_epoch, 0, self.codec.encode_body(Heartbeat()))
        for state in self.machines.values():
            if state.online:
                self._reply(state.identity, Heartbeat())

    # -- receiving ----------------------------------------------------------------------------

    def _drain_router(self) -> None:
        assert self.router is not None
        secure = not self.bus.security.insecure
        for _ in range(2000):
            got = self.router.recv_with_user() if secure else self.router.recv()
            if got is None:
                return
            if secure:
                assert isinstance(got, tuple)
                frames, user = got
            else:
                assert isinstance(got, list)
                frames, user = got, ""
            self.stats.received += 1
            if len(frames) < 2:
                self.codec.drops.count("frame_count")
                continue
            identity = frames[0]
            if user:
                self._users[identity] = user
            decoded = self.codec.decode(frames[1:])
            if decoded is None:
                continue
            header, body = decoded
            try:
                self._dispatch(identity, user, header, body, frames[3])
            except Exception:  # one bad message must never stop the hub
                self.codec.drops.count("handler_error")
                log.exception("hub: error handling %s from %s", type(body).__name__, header.src)

    def _role_allows(self, user: str, body: Body) -> bool:
        if self.bus.security.insecure:
            return True
        role = user.partition(":")[0]
        if role == "agent":
            return isinstance(body, AGENT_MESSAGES)
        if role == "station":
            return isinstance(body, CLIENT_MESSAGES)
        return False

    def _dispatch(self, identity: bytes, user: str, header: Header, body: Body, raw: bytes) -> None:
        if not self._role_allows(user, body):
            self.stats.refused[f"{user or 'anonymous'}:{type(body).__name__}"] += 1
            log.warning("hub: %s may not send %s; dropped.", user, type(body).__name__)
            return
        match body:
            case Data():
                self._on_data(identity, header, body, raw)
            case Heartbeat():
                if header.src.startswith(("station:", "cli:")):
                    return
                state = self._session(identity, header)
                if state is not None:
                    self._check_seq(state, header)
                    if not state.online:
                        self._revive(state, identity)
            case Birth():
                self._on_birth(identity, user, header, body, raw)
            case Death():
                self._on_death(header, body)
            case CommandStatus():
                self._on_command_status(identity, header, body)
            case SnapshotRequest(prefix=prefix, request_id=request_id):
                self._send_snapshot(identity, prefix, request_id)
            case HistoryRequest():
                self._reply(identity, self.history(body))
            case MachinesRequest():
                self._reply(identity, MachinesReply(machines=self.summaries()))
            case Command():
                self._on_command(identity, body)
            case CommandQuery():
                self._on_query(identity, body)
            case _:
                self.codec.drops.count("unexpected_type")

    def _on_birth(
        self, identity: bytes, user: str, header: Header, body: Birth, raw: bytes
    ) -> None:
        mid = body.machine.id
        if not valid_id(mid) or mid != header.src:
            self.codec.drops.count("bad_birth")
            log.warning("hub: BIRTH with invalid machine id %r from %s dropped.", mid, header.src)
            return
        old = self.machines.get(mid)
        if old is not None and header.epoch < old.epoch:
            self.stats.old_epoch_dropped += 1
            return
        aliases = [t.alias for t in body.tags]
        names = [t.name for t in body.tags]
        if (
            len(set(aliases)) != len(aliases)
            or len(set(names)) != len(names)
            or (aliases and (min(aliases) < 0 or max(aliases) >= max(64, 4 * len(aliases))))
        ):
            self.codec.drops.count("bad_birth")
            log.warning("hub: BIRTH of %s has duplicate or sparse aliases/names; dropped.", mid)
            return
        table = TagTable(body.tags)
        keep = self.settings.history_full_s
        rings = Rings(table.size, 256, keep_s=float(keep), max_capacity=1 << 17)
        buckets = max(
            1, self.settings.history_hours * 3600 // self.settings.history_minmax_interval_s
        )
        minmax = MinMax(table.size, self.settings.history_minmax_interval_s, int(buckets))
        if old is not None and [t.name for t in old.birth.tags] == [t.name for t in body.tags]:
            rings, minmax = old.rings, old.minmax
        state = MachineState(
            birth=body,
            birth_bytes=raw,
            epoch=header.epoch,
            seq=header.seq,
            identity=identity,
            user=user,
            table=table,
            rings=rings,
            minmax=minmax,
        )
        state.state_alias = table.by_name.get("state")
        self.machines[mid] = state
        log.info("hub: %s (%s) is online, session %d", mid, body.machine.name, header.epoch)
        self._publish(machine_topic(mid), mid, header.epoch, header.seq, raw)

    def _revive(self, state: MachineState, identity: bytes) -> None:
        state.online = True
        state.identity = identity
        self._request_rebirth(state, "session resumed after a timeout", force=True)

    def _request_rebirth(self, state: MachineState, reason: str, force: bool = False) -> None:
        now = time.monotonic()
        if (
            not force
            and now - state.last_rebirth_req < self.settings.rebirth_min_interval_ms / 1000
        ):
            return
        state.last_rebirth_req = now
        self.stats.rebirth_requests += 1
        self._reply(state.identity, RebirthRequest(reason=reason))

    def _check_seq(self, state: MachineState, header: Header) -> None:
        if header.seq != state.seq + 1:
            self.stats.seq_gaps += 1
            state.seq = header.seq
            self._request_rebirth(state, f"sequence gap before {header.seq}")
        else:
            state.seq = header.seq

    def _session(self, identity: bytes, header: Header) -> MachineState | None:
        """The machine whose current session sent this; else ask for a BIRTH (rate-limited)."""
        state = self.machines.get(header.src)
        if state is not None and state.epoch == header.epoch:
            state.last_heard = time.monotonic()
            state.identity = identity  # the agent may have reconnected
            return state
        if state is not None and header.epoch < state.epoch:
            self.stats.old_epoch_dropped += 1
            return None
        now = time.monotonic()
        if now - self._asked.get(identity, 0.0) >= self.settings.rebirth_min_interval_ms / 1000:
            self._asked[identity] = now
            if len(self._asked) > 10_000:
                self._asked.clear()
            self.stats.rebirth_requests += 1
            self._reply(identity, RebirthRequest(reason="unknown session"))
        return None

    def _on_data(self, identity: bytes, header: Header, body: Data, raw: bytes) -> None:
        state = self._session(identity, header)
        if state is None:
            return
        if not state.online:
            self._revive(state, identity)
            return
        self._check_seq(state, header)
        try:
            aliases, values, ts_ns, quality = unpack(body)
            ts = seconds(ts_ns)
            state.table.apply(aliases, values, ts, quality, body.text)
        except (BatchError, ColumnError):
            self.codec.drops.count("bad_data")
            self._request_rebirth(state, "DATA does not match BIRTH")
            return
        if quality is not None:
            values = np.where(quality >= 0x80, np.nan, values)
        state.rings.append(aliases, ts, values)
        self.stats.samples += aliases.shape[0]
        self._publish(machine_topic(header.src), header.src, header.epoch, header.seq, raw)

    def _mark_offline(self, state: MachineState, reason: str) -> None:
        state.online = False
        state.since = time.time()
        state.table.mark_all(int(Quality.BAD_STALE))
        state.rings.append_all(state.since)
        death = Death(reason=reason, at=time.time_ns())  # type: ignore[arg-type]
        mid = state.birth.machine.id
        self._publish(
            machine_topic(mid), mid, state.epoch, state.seq, self.codec.encode_body(death)
        )
        for record in self.commands.values():
            if record.cmd.machine == mid and record.status.state in (
                "SENT",
                "ACCEPTED",
                "EXECUTING",
            ):
                self._set_status(
                    record,
                    CommandStatus(
                        cmd_id=record.cmd.cmd_id,
                        machine=mid,
                        state="UNKNOWN",
                        cause="offline",
                        message=f"{state.name} went offline before reporting the result.",
                        at=time.time_ns(),
                    ),
                )

    def _on_death(self, header: Header, body: Death) -> None:
        state = self.machines.get(header.src)
        if state is None or state.epoch != header.epoch:
            self.stats.old_epoch_dropped += 1
            return
        if state.online:
            log.info("hub: %s ended its session (%s)", header.src, body.reason)
            self._mark_offline(state, body.reason)

    def _fold_history(self, now: float, every_s: float = 2.0) -> None:
        """Fold samples into the min/max tier in bulk, off the per-message path."""
        if now - self._last_fold < every_s:
            return
        self._last_fold = now
        for state in self.machines.values():
            state.fold()

    def _check_liveness(self, now: float) -> None:
        for state in self.machines.values():
            limit = self.settings.liveness * state.birth.heartbeat_ms / 1000
            if state.online and now - state.last_heard > limit:
                log.warning(
                    "hub: %s missed %d heartbeats; its values are now stale.",
                    state.birth.machine.id,
                    self.settings.liveness,
                )
                self._mark_offline(state, "timeout")

    def _check_revocations(self) -> None:
        gate = self.bus.gatekeeper
        if gate is None or self.bus.security.keys is None:
            return
        mtime = self.bus.security.keys.allowlist_mtime()
        if mtime == self._allow_mtime:
            return
        self._allow_mtime = mtime
        allowed = {f"{k.role}:{k.name}" for k in gate.allowlist().keys}
        cut = {user for user in self._users.values() if user not in allowed}
        if not cut:
            return
        log.warning("hub: key(s) revoked: %s; cutting their sessions.", ", ".join(sorted(cut)))
        self.stats.sessions_cut += len(cut)
        for state in self.machines.values():
            if state.user in cut and state.online:
                self._mark_offline(state, "revoked")
        self._reopen()

    # -- snapshots, history, listings ---------------------------------------------------------

    def snapshot_item(self, state: MachineState) -> SnapshotItem:
        """One machine's full state for a snapshot."""
        table = state.table
        aliases = np.asarray([t.alias for t in state.birth.tags], dtype=np.int64)
        text = {i: table.text[int(a)] for i, a in enumerate(aliases) if int(a) in table.text}
        return SnapshotItem(
            birth=state.birth,
            epoch=state.epoch,
            online=state.online,
            since=int(state.since * 1e9),
            values=pack(
                aliases,
                table.value[aliases],
                np.round(table.ts[aliases] * 1e9).astype(np.int64),
                table.quality[aliases],
                text,
            ),
        )

    def _send_snapshot(self, identity: bytes, prefix: str, request_id: int = 0) -> None:
        count = 0
        for mid, state in self.machines.items():
            if mid.startswith(prefix):
                item = self.snapshot_item(state)
                item.request_id = request_id
                self._reply(identity, item)
                count += 1
        end = SnapshotEnd(
            hub_epoch=self.hub_epoch, hub_seq=self.hub_seq, count=count, request_id=request_id
        )
        self._reply(identity, end)

    def summaries(self) -> list[MachineSummary]:
        """Every machine as ``copilot machines`` shows it."""
        out = []
        for mid, state in sorted(self.machines.items()):
            info = state.birth.machine
            status = "online"
            if not state.online:
                status = "offline"
            elif state.state_alias is not None:
                shown = state.table.display_value(state.state_alias)
                status = str(shown) if shown is not None else "online"
            out.append(
                MachineSummary(
                    id=mid,
                    name=info.name,
                    kind=info.kind,
                    line=info.line,
                    area=info.area,
                    state=status,
                )
            )
        return out

    def history(self, req: HistoryRequest) -> HistoryReply | ErrorReply:
        """Samples of some tags between two times: full rate where held, else min/max."""
        state = self.machines.get(req.machine)
        if state is None:
            return ErrorReply(code="unknown_machine", message=f"No machine {req.machine!r}.")
        since = req.since * 1e-9
        until = (req.until or time.time_ns()) * 1e-9
        state.fold()
        max_points = max(2, min(req.max_points, 200_000))
        series = []
        for name in req.tags:
            alias = state.table.by_name.get(name)
            if alias is None:
                series.append(Series(tag=name, t=[], v=[], tier="none"))
                continue
            t, v = state.rings.window(alias, since)
            keep = t <= until
            t, v = t[keep], v[keep]
            oldest = float(t[0]) if t.size else until
            tier = "full"
            if since < oldest - state.minmax.interval:
                bt, bmin, bmax = state.minmax.window(alias, since, oldest - state.minmax.interval)
                half = state.minmax.interval / 2
                mt = np.empty(bt.size * 2)
                mv = np.empty(bt.size * 2)
                mt[0::2], mt[1::2] = bt, bt + half
                mv[0::2], mv[1::2] = bmin, bmax
                t, v = np.concatenate((mt, t)), np.concatenate((mv, v))
                tier = "mixed" if keep.any() else "minmax"
            if t.size > max_points:
                t, v = _peak_decimate(t, v, max_points)
            series.append(
                Series(
                    tag=name,
                    t=(t * 1e9).astype(np.int64).tolist(),
                    v=v.tolist(),
                    tier=tier,  # type: ignore[arg-type]
                )
            )
        return HistoryReply(machine=req.machine, series=series, request_id=req.request_id)

    # -- commands -----------------------------------------------------------------------------

    def _set_status(self, record: CommandRecord, status: CommandStatus) -> None:
        record.status = status
        body = self.codec.encode_body(status)
        self._publish(command_topic(status.machine), "hub", self.hub_epoch, 0, body)
        if record.requester:
            self._reply(record.requester, status)

    def _on_command(self, identity: bytes, cmd: Command) -> None:
        existing = self.commands.get(cmd.cmd_id)
        if existing is not None:
            self._reply(identity, existing.status)
            return
        now = time.time_ns()
        record = CommandRecord(
            cmd=cmd,
            requester=identity,
            status=CommandStatus(cmd_id=cmd.cmd_id, machine=cmd.machine, state="SENT", at=now),
        )
        self.commands[cmd.cmd_id] = record
        self._prune_commands()
        state = self.machines.get(cmd.machine)

        def refuse(state_: str, cause: str, message: str) -> None:
            self._set_status(
                record,
                CommandStatus(
                    cmd_id=cmd.cmd_id,
                    machine=cmd.machine,
                    state=state_,  # type: ignore[arg-type]
                    cause=cause,
                    message=message,
                    at=time.time_ns(),
                ),
            )

        if state is None:
            known = ", ".join(sorted(self.machines)[:8]) or "none yet"
            refuse(
                "REJECTED",
                "unknown_machine",
                f"No machine named {cmd.machine!r} is known to the hub (known: {known}).",
            )
            return
        if not state.online:
            since = time.strftime("%H:%M:%S", time.localtime(state.since))
            refuse(
                "REJECTED",
                "offline",
                f"{state.name} is offline since {since}; the command was not sent.",
            )
            return
        if now > cmd.not_after:
            refuse(
                "EXPIRED",
                "expired",
                f"{cmd.name} for {state.name} expired before it could be sent.",
            )
            return
        if not self._reply(state.identity, cmd):
            refuse("REJECTED", "offline", f"{state.name} cannot be reached; nothing was sent.")
            return
        self._set_status(record, record.status)

    def _on_command_status(self, identity: bytes, header: Header, status: CommandStatus) -> None:
        state = self.machines.get(header.src)
        if state is None or status.machine != header.src:
            self.codec.drops.count("bad_status")
            return
        if state.epoch == header.epoch:
            self._session(identity, header)
            self._check_seq(state, header)
        record = self.commands.get(status.cmd_id)
        if record is None:
            record = CommandRecord(
                cmd=Command(cmd_id=status.cmd_id, machine=status.machine, name="?", not_after=0),
                requester=b"",
                status=status,
            )
            self.commands[status.cmd_id] = record
        self._set_status(record, status)

    def _on_query(self, identity: bytes, query: CommandQuery) -> None:
        record = self.commands.get(query.cmd_id)
        if record is not None:
            record.requester = identity
            self._reply(identity, record.status)
            state = self.machines.get(record.cmd.machine)
            if record.status.state == "UNKNOWN" and state is not None and state.online:
                self._reply(state.identity, query)
            return
        self._reply(
            identity,
            CommandStatus(
                cmd_id=query.cmd_id,
                machine=query.machine,
                state="UNKNOWN",
                cause="not_found",
                message="The hub has no record of this command.",
                at=time.time_ns(),
            ),
        )

    def _prune_commands(self, keep: int = 10_000) -> None:
        if len(self.commands) > keep:
            for cmd_id in list(self.commands)[: len(self.commands) - keep]:
                del self.commands[cmd_id]


def _peak_decimate(t: np.ndarray, v: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep min and max of each of ``max_points // 2`` buckets (NaN gaps survive)."""
    buckets = max(1, max_points // 2)
    size = math.ceil(t.size / buckets)
    pad = buckets * size - t.size
    tp = np.concatenate((t, np.full(pad, t[-1])))
    vp = np.concatenate((v, np.full(pad, np.nan)))
    tb = tp.reshape(buckets, size)
    vb = vp.reshape(buckets, size)
    all_nan = np.isnan(vb).all(axis=1)
    filled = np.where(np.isnan(vb), np.inf, vb)
    imin = filled.argmin(axis=1)
    filled = np.where(np.isnan(vb), -np.inf, vb)
    imax = filled.argmax(axis=1)
    rows = np.arange(buckets)
    first = np.minimum(imin, imax)
    second = np.maximum(imin, imax)
    out_t = np.empty(buckets * 2)
    out_v = np.empty(buckets * 2)
    out_t[0::2], out_t[1::2] = tb[rows, first], tb[rows, second]
    out_v[0::2], out_v[1::2] = vb[rows, first], vb[rows, second]
    out_v[0::2][all_nan] = np.nan
    out_v[1::2][all_nan] = np.nan
    return out_t, out_v
