"""The plant as the hub knows it: sessions, tag tables, last values, rings, liveness.

:class:`PlantState` is plain Python driven by method calls — ``birth``, ``data``,
``heartbeat``, ``death``, ``check_liveness``… — each returning the events
(:mod:`copilot.hub.events`) that followed from it. It owns no socket and never calls the
server or a service: whoever drives it acts on the events. Who may speak for a machine is
decided before a message gets here (the server checks keys); what a message may contain is
checked here, each refusal returned as a :class:`Dropped` event with its reason.

History is kept per tag — full rate for ``history_full_s`` in rings that grow only for the tags
that send, then min/max per interval for ``history_hours``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgspec
import numpy as np

from copilot.hub.events import (
    Dropped,
    Event,
    MachineBorn,
    MachineOffline,
    MachineResumed,
    RebirthRequested,
    SamplesIngested,
    SequenceGapped,
)
from copilot.protocol import (
    Birth,
    Data,
    Death,
    Header,
    MachineSummary,
    Quality,
    SnapshotItem,
    valid_id,
)
from copilot.protocol.columns import ColumnError, pack, seconds, unpack
from copilot.series import BatchError, MinMax, SegmentRings, TagTable
from copilot.settings import HubSettings

log = logging.getLogger(__name__)

RING_INITIAL = 16
RING_MAX = 1 << 17


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
    rings: SegmentRings
    minmax: MinMax
    heartbeat_ms: int
    online: bool = True
    since: float = field(default_factory=time.time)
    last_heard: float = field(default_factory=time.monotonic)
    last_rebirth_req: float = 0.0
    state_alias: int | None = None
    messages: int = 0
    samples: int = 0
    rebirths: int = 0
    gaps: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    folded: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def name(self) -> str:
        """Human name of the machine."""
        return self.birth.machine.name

    @property
    def key(self) -> str:
        """The key (``role:name``) that speaks for this machine's session."""
        return self.user

    def _unfolded_from(self) -> np.ndarray:
        if self.folded.shape[0] != self.rings.size:
            self.folded = np.zeros(self.rings.size, dtype=np.int64)
        return self.folded

    def fold(self) -> None:
        """Add every sample not yet in the min/max tier to it."""
        aliases, t, v = self.rings.since(self._unfolded_from())
        self.minmax.append(aliases, t, v)
        self.folded = self.rings.total.copy()

    def record(self, aliases: np.ndarray, ts: np.ndarray, values: np.ndarray) -> None:
        """Append a batch to the rings without losing a sample the min/max tier has not taken.

        The history service folds every couple of seconds; a backlog arriving faster than a
        ring's worth per fold (old-stamped samples, so the rings do not grow for them) would
        overwrite samples before they were folded. When this batch may do that, the rings are
        folded first and the batch is folded as it is appended — whole arrays, no per-sample
        work; otherwise appending costs what it did.
        """
        counts = np.bincount(aliases, minlength=self.rings.size)
        if not self.rings.would_overwrite(self._unfolded_from(), counts):
            self.rings.append(aliases, ts, values, counts)
            return
        self.fold()
        self.rings.append(aliases, ts, values, counts)
        self.minmax.append(aliases, ts, values)
        self.folded = self.rings.total.copy()

    def gap(self, t: float) -> None:
        """A NaN at ``t`` in every tag that has samples: a gap in every trend."""
        aliases = np.flatnonzero(self.rings.cap).astype(np.int64)
        self.record(aliases, np.full(aliases.size, t), np.full(aliases.size, np.nan))


@dataclass
class PlantStats:
    """Counters over every machine."""

    samples: int = 0
    rebirth_requests: int = 0
    seq_gaps: int = 0
    old_epoch_dropped: int = 0


def _birth_strings(body: Birth) -> Iterable[str]:
    info = body.machine
    yield from (info.name, info.kind, info.line, info.area)
    for tag in body.tags:
        yield from (tag.name, tag.unit, tag.description)
        yield from tag.labels or ()
    for cmd in body.commands:
        yield from (cmd.name, cmd.label, cmd.description)
        yield from cmd.interlocks
        yield from cmd.permissives
        for arg in cmd.args:
            yield from (arg.name, arg.unit, arg.description)
            yield from arg.choices or ()


class PlantState:
    """Sessions and tag state of every machine; methods return the events they caused."""

    def __init__(
        self,
        settings: HubSettings,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.wall = wall
        self.mono = mono
        self.machines: dict[str, MachineState] = {}
        self.stats = PlantStats()
        self._asked: dict[bytes, float] = {}
        self._fold_next = 0  # the machine the next fold_some starts at

    # -- sessions -----------------------------------------------------------------------------

    def _check_birth(self, header: Header, body: Birth) -> str:
        """The reason to refuse this BIRTH, or ''."""
        s = self.settings
        mid = body.machine.id
        if not valid_id(mid) or mid != header.src:
            return "bad_birth"
        if len(body.tags) > s.max_tags_per_machine:
            return "too_many_tags"
        if len(body.commands) > s.max_commands_per_machine:
            return "too_many_commands"
        if any(len(text) > s.max_string_len for text in _birth_strings(body)):
            return "string_too_long"
        aliases = [t.alias for t in body.tags]
        names = [t.name for t in body.tags]
        if (
            len(set(aliases)) != len(aliases)
            or len(set(names)) != len(names)
            or (aliases and (min(aliases) < 0 or max(aliases) >= max(64, 4 * len(aliases))))
        ):
            return "bad_birth"
        return ""

    def birth(
        self, identity: bytes, user: str, header: Header, body: Birth, raw: bytes
    ) -> list[Event]:
        """A machine starts a session (or repeats its BIRTH)."""
        mid = body.machine.id
        reason = self._check_birth(header, body)
        if reason:
            log.warning("hub: BIRTH of %r from %s refused (%s).", mid[:64], user or "-", reason)
            return [Dropped(reason, mid if mid in self.machines else "")]
        old = self.machines.get(mid)
        if old is not None and header.epoch < old.epoch:
            self.stats.old_epoch_dropped += 1
            old.drops["old_epoch"] += 1
            return [Dropped("old_epoch", mid)]
        events: list[Event] = []
        s = self.settings
        heartbeat_ms = min(max(body.heartbeat_ms, s.min_heartbeat_ms), s.max_heartbeat_ms)
        if heartbeat_ms != body.heartbeat_ms:
            events.append(Dropped("heartbeat_clamped", mid, detail=str(body.heartbeat_ms)))
            body.heartbeat_ms = heartbeat_ms
            raw = msgspec.msgpack.encode(body)  # stations see the interval the hub enforces
        table = TagTable(body.tags)
        layout = sorted((t.alias, t.name) for t in body.tags)
        if old is not None and sorted((t.alias, t.name) for t in old.birth.tags) == layout:
            rings, minmax = old.rings, old.minmax  # same tags: the history carries on
        else:
            # A reply shows full rate from the first min/max interval boundary the rings hold
            # (so the tiers meet without overlap): the rings keep one interval more than
            # ``history_full_s`` for the reply to show at least that much.
            keep_s = float(s.history_full_s + s.history_minmax_interval_s)
            rings = SegmentRings(table.size, RING_INITIAL, keep_s=keep_s, max_capacity=RING_MAX)
            buckets = max(1, s.history_hours * 3600 // s.history_minmax_interval_s)
            minmax = MinMax(table.size, s.history_minmax_interval_s, int(buckets))
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
            heartbeat_ms=heartbeat_ms,
            since=self.wall(),
            last_heard=self.mono(),
        )
        if old is not None:
            state.messages, state.samples, state.drops = old.messages, old.samples, old.drops
            state.rebirths, state.gaps = old.rebirths + 1, old.gaps
            if rings is old.rings:
                state.folded = old.folded  # what the min/max tier already holds
        state.messages += 1
        state.state_alias = table.by_name.get("state")
        self.machines[mid] = state
        log.info("hub: %s (%s) is online, session %d", mid, body.machine.name, header.epoch)
        events.append(MachineBorn(mid, header.epoch, header.seq, body, raw, old is not None))
        return events

    def _session(self, identity: bytes, header: Header) -> tuple[MachineState | None, list[Event]]:
        """The machine whose current session sent this; else ask for a BIRTH (rate-limited)."""
        state = self.machines.get(header.src)
        if state is not None and state.epoch == header.epoch:
            state.messages += 1
            return state, []
        if state is not None and header.epoch < state.epoch:
            self.stats.old_epoch_dropped += 1
            state.drops["old_epoch"] += 1
            return None, [Dropped("old_epoch", header.src)]
        now = self.mono()
        if now - self._asked.get(identity, -1e18) < self.settings.rebirth_min_interval_ms / 1000:
            return None, []
        self._asked[identity] = now
        self.stats.rebirth_requests += 1
        return None, [RebirthRequested(identity, header.src, "unknown session")]

    def _sequence(self, state: MachineState, identity: bytes, header: Header) -> list[Event]:
        """Check ``header.seq``; a ``seq_backwards`` drop means: apply nothing."""
        if header.seq <= state.seq:
            state.drops["seq_backwards"] += 1
            return [Dropped("seq_backwards", state.birth.machine.id)]
        state.last_heard = self.mono()
        state.identity = identity  # the agent may have reconnected (same key, checked before)
        events: list[Event] = []
        if header.seq != state.seq + 1:
            self.stats.seq_gaps += 1
            state.gaps += 1
            events.append(SequenceGapped(state.birth.machine.id, state.seq + 1, header.seq))
            events.extend(self._rebirth(state, f"sequence gap before {header.seq}"))
        state.seq = header.seq
        return events

    def _rebirth(self, state: MachineState, reason: str, force: bool = False) -> list[Event]:
        now = self.mono()
        interval = self.settings.rebirth_min_interval_ms / 1000
        if not force and now - state.last_rebirth_req < interval:
            return []
        state.last_rebirth_req = now
        self.stats.rebirth_requests += 1
        return [RebirthRequested(state.identity, state.birth.machine.id, reason)]

    def _resume(self, state: MachineState) -> list[Event]:
        state.online = True
        mid = state.birth.machine.id
        return [
            MachineResumed(mid, state.epoch),
            *self._rebirth(state, "session resumed after a timeout", force=True),
        ]

    def heard(self, identity: bytes, header: Header) -> tuple[MachineState | None, list[Event]]:
        """Any message of a session (heartbeat, command status): liveness and order.

        Returns the session's state when the message is in order, else ``None``.
        """
        state, events = self._session(identity, header)
        if state is None:
            return None, events
        seq_events = self._sequence(state, identity, header)
        events.extend(seq_events)
        if any(isinstance(e, Dropped) for e in seq_events):
            return None, events
        if not state.online:
            events.extend(self._resume(state))
        return state, events

    def heartbeat(self, identity: bytes, header: Header) -> list[Event]:
        """A machine's heartbeat."""
        return self.heard(identity, header)[1]

    def data(
        self, identity: bytes, header: Header, body: Data, raw: bytes | memoryview
    ) -> list[Event]:
        """A DATA batch: checked, bounded in time, applied, and returned as an event.

        ``raw`` is the body as received (a view of the received frame, on the hub); it is
        forwarded unchanged unless samples were refused or text cut, then re-packed.
        """
        state, events = self._session(identity, header)
        if state is None:
            return events
        mid = header.src
        if not state.online:
            state.identity = identity
            state.last_heard = self.mono()
            return events + self._resume(state)
        seq_events = self._sequence(state, identity, header)
        events.extend(seq_events)
        if any(isinstance(e, Dropped) for e in seq_events):
            return events
        s = self.settings
        try:
            aliases, values, ts_ns, quality = unpack(body)
            if aliases.shape[0] > s.max_data_columns:
                state.drops["too_many_columns"] += 1
                return [*events, Dropped("too_many_columns", mid)]
            state.table.check(aliases)
        except (BatchError, ColumnError):
            state.drops["bad_data"] += 1
            events.append(Dropped("bad_data", mid))
            return events + self._rebirth(state, "DATA does not match BIRTH")
        repack = False
        now_ns = int(self.wall() * 1e9)
        future = ts_ns > now_ns + int(s.max_clock_skew_s * 1e9)
        zero = ts_ns <= 0
        bad = future | zero
        if bad.any():
            for reason, mask in (("samples_future", future), ("samples_zero", zero)):
                n = int(mask.sum())
                if n:
                    state.drops[reason] += n
                    events.append(Dropped(reason, mid, count=n))
            keep = ~bad
            renumber = np.cumsum(keep) - 1  # old sample index → index among the kept ones
            text = {int(renumber[i]): v for i, v in body.text.items() if keep[i]}
            aliases, values, ts_ns = aliases[keep], values[keep], ts_ns[keep]
            quality = quality[keep] if quality is not None else None
            body = Data(aliases=b"", values=b"", ts=b"", text=text)
            repack = True
            if aliases.size == 0:
                return events
        if body.text and any(len(v) > s.max_string_len for v in body.text.values()):
            body.text = {i: v[: s.max_string_len] for i, v in body.text.items()}
            state.drops["string_too_long"] += 1
            events.append(Dropped("string_too_long", mid))
            repack = True
        ts = seconds(ts_ns)
        state.table.apply(aliases, values, ts, quality, body.text, checked=True)
        if repack:
            raw = msgspec.msgpack.encode(pack(aliases, values, ts_ns, quality, body.text))
        ring_values = values if quality is None else np.where(quality >= 0x80, np.nan, values)
        state.record(aliases, ts, ring_values)
        n = int(aliases.shape[0])
        state.samples += n
        self.stats.samples += n
        events.append(
            SamplesIngested(mid, header.epoch, header.seq, aliases, ts, values, quality, raw)
        )
        return events

    def death(self, header: Header, body: Death) -> list[Event]:
        """A machine ends its session."""
        state = self.machines.get(header.src)
        if state is None or state.epoch != header.epoch:
            self.stats.old_epoch_dropped += 1
            if state is not None:
                state.drops["old_epoch"] += 1
            return [Dropped("old_epoch", header.src if state is not None else "")]
        if not state.online:
            return []
        log.info("hub: %s ended its session (%s)", header.src, body.reason)
        return self.mark_offline(state, body.reason)

    def mark_offline(self, state: MachineState, reason: str) -> list[Event]:
        """Mark every tag Bad/stale and leave a gap in every trend."""
        state.online = False
        state.since = self.wall()
        state.table.mark_all(int(Quality.BAD_STALE))
        state.gap(state.since)
        mid = state.birth.machine.id
        return [MachineOffline(mid, state.epoch, state.seq, reason, state.since)]

    def revoke(self, user: str) -> list[Event]:
        """The key ``user`` was revoked: its machines go offline."""
        events: list[Event] = []
        for state in self.machines.values():
            if state.user == user and state.online:
                events.extend(self.mark_offline(state, "revoked"))
        return events

    # -- periodic work ------------------------------------------------------------------------

    def check_liveness(self, now: float) -> list[Event]:
        """Machines that missed ``liveness`` heartbeats (their clamped interval) go offline."""
        events: list[Event] = []
        for state in self.machines.values():
            limit = self.settings.liveness * state.heartbeat_ms / 1000
            if state.online and now - state.last_heard > limit:
                log.warning(
                    "hub: %s missed %d heartbeats; its values are now stale.",
                    state.birth.machine.id,
                    self.settings.liveness,
                )
                events.extend(self.mark_offline(state, "timeout"))
        return events

    def fold_some(self, count: int) -> int:
        """Fold ``count`` machines, taking up where the last call stopped; how many were folded.

        At plant scale folding every machine at once held the loop ~0.1–0.6 s; a caller that
        folds a few machines each tick folds each one as often with no long slice.
        """
        states = list(self.machines.values())
        count = min(count, len(states))
        for i in range(count):
            states[(self._fold_next + i) % len(states)].fold()
        self._fold_next = (self._fold_next + count) % len(states) if states else 0
        return count

    def prune(self, now: float) -> None:
        """Forget rebirth rate-limit entries older than the rate limit itself."""
        horizon = now - self.settings.rebirth_min_interval_ms / 1000
        self._asked = {k: t for k, t in self._asked.items() if t > horizon}

    # -- reading ------------------------------------------------------------------------------

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

    def summaries(self, limit: int = 0, max_len: int = 128) -> list[MachineSummary]:
        """Every machine as ``copilot machines`` shows it (strings cut to ``max_len``)."""
        out: list[MachineSummary] = []
        for mid, state in sorted(self.machines.items()):
            if limit and len(out) >= limit:
                break
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
                    name=info.name[:max_len],
                    kind=info.kind[:max_len],
                    line=info.line[:max_len],
                    area=info.area[:max_len],
                    state=status[:max_len],
                )
            )
        return out
