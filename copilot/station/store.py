"""The station's picture of the plant: conflated per-tag state and recent samples.

The I/O thread writes through the ``apply_*`` methods; views read with :meth:`StationStore.reading`,
:meth:`StationStore.window` and :meth:`StationStore.machines` on their own timer. One lock guards
both sides; reads copy what they return, so a view never sees a half-applied batch.

Quality as shown is the source quality made worse by what the station knows: the machine is
offline (Bad/stale), the value is older than its ``max_age_ms`` (Uncertain/stale), the hub link
is lost (Uncertain/comm_lost) or a resync is under way (Uncertain/resyncing).

Memory follows what arrives, not what a BIRTH claims: tags are numbered densely (a huge alias
costs nothing) and a tag's ring is allocated with its first sample, short at first
(:class:`~copilot.station.rings.TagRings`). Whatever cannot be applied is counted by reason in
:attr:`StationStore.drops` and skipped; the store never raises into the I/O loop for bad input.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from copilot.protocol import (
    FINAL_STATES,
    Birth,
    CommandSpec,
    CommandStatus,
    Data,
    DropCounters,
    MachineInfo,
    Quality,
    SnapshotItem,
    TagSpec,
    Value,
    severity_of,
)
from copilot.protocol.columns import ColumnError, seconds, unpack
from copilot.series import F64, I64, BatchError, TagTable
from copilot.station.rings import TagRings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    """What an operator sees for one tag right now."""

    machine: str
    tag: str
    value: Value
    quality: int
    ts: float
    spec: TagSpec
    stale_since: float | None = None

    @property
    def good(self) -> bool:
        """Whether the value can be trusted."""
        return severity_of(self.quality) == 0


@dataclass(frozen=True)
class MachineSnapshot:
    """A copy of one machine's state for a view."""

    info: MachineInfo
    tags: list[TagSpec]
    commands: list[CommandSpec]
    online: bool
    since: float
    epoch: int
    last_update: float


class RefusedError(ValueError):
    """A message the store cannot apply; ``reason`` is the drop counter it is counted under."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


_MAX_ALIAS = 2**32  # DATA carries aliases as u32


class MachineView:
    """One machine as the station knows it (guarded by the store's lock).

    Tags are numbered densely in BIRTH order (``0..n-1``); :meth:`dense` turns a batch's wire
    aliases into those numbers, so memory follows the number of tags, never the largest alias.
    """

    def __init__(
        self,
        birth: Birth,
        epoch: int,
        ring_samples: int,
        max_tags: int,
        ring_seconds: float | None = None,
    ) -> None:
        tags = birth.tags
        if len(tags) > max_tags:
            raise RefusedError("too_many_tags", f"{len(tags)} tags, more than {max_tags}")
        self.by_name = {t.name: i for i, t in enumerate(tags)}
        if len(self.by_name) != len(tags):
            raise RefusedError("bad_birth", "two tags with one name")
        if any(not 0 <= t.alias < _MAX_ALIAS for t in tags):
            raise RefusedError("bad_birth", "an alias outside 0..2^32-1")
        wire = np.array([t.alias for t in tags], dtype=np.int64)
        order = np.argsort(wire, kind="stable")
        self._sorted = wire[order]
        self._dense_of_sorted = order.astype(np.int64)
        if self._sorted.size > 1 and (self._sorted[1:] == self._sorted[:-1]).any():
            raise RefusedError("bad_birth", "two tags with one alias")
        self._identity = bool((wire == np.arange(wire.size)).all())
        self.birth = birth
        self.epoch = epoch
        self.table = TagTable([msgspec.structs.replace(t, alias=i) for i, t in enumerate(tags)])
        self.rings = TagRings(len(tags), ring_samples, keep_s=ring_seconds)
        self.online = True
        self.since = time.time()
        self.last_update = 0.0

    @property
    def size(self) -> int:
        """Number of tags."""
        return len(self.birth.tags)

    def dense(self, aliases: I64) -> I64:
        """Dense tag numbers of a batch's wire aliases; :class:`BatchError` if one is unknown."""
        if aliases.size == 0:
            return aliases
        n = self.size
        if self._identity:
            if n == 0 or aliases.min() < 0 or aliases.max() >= n:
                raise BatchError("unknown alias")
            return aliases
        if n == 0:
            raise BatchError("unknown alias")
        idx = np.minimum(np.searchsorted(self._sorted, aliases), n - 1)
        if not (self._sorted[idx] == aliases).all():
            raise BatchError("unknown alias")
        return self._dense_of_sorted[idx]

    def carry_rings(self, old: MachineView) -> None:
        """Keep the recent samples of every tag ``old`` had under the same name and type."""
        new_specs = self.birth.tags
        moves = {
            i: self.by_name[spec.name]
            for i, spec in enumerate(old.birth.tags)
            if spec.name in self.by_name and new_specs[self.by_name[spec.name]].type == spec.type
        }
        self.rings = old.rings.carried_over(self.size, moves)

    def apply(self, data: Data) -> int:
        """Apply a DATA batch; the number of samples, or :class:`RefusedError` with a reason."""
        try:
            aliases, values, ts_ns, quality = unpack(data)
        except ColumnError as exc:
            raise RefusedError("bad_columns", str(exc)) from exc
        try:
            # aliases 0..n-1 in BIRTH order are their own dense numbers; the table checks them
            tags = aliases if self._identity else self.dense(aliases)
            ts = seconds(ts_ns)
            self.table.apply(tags, values, ts, quality, data.text)
        except BatchError as exc:
            raise RefusedError("unknown_alias", str(exc)) from exc
        if quality is not None:
            values = np.where(quality >= 0x80, np.nan, values)
        self.rings.append(tags, ts, values)
        return int(tags.size)


class StationStore:
    """All machines' state, shared between the I/O thread (writer) and views (readers).

    What cannot be applied (a BIRTH that does not hold together, a batch with unknown aliases,
    a snapshot item that fails either way) is skipped and counted in :attr:`drops` by reason.
    """

    def __init__(
        self,
        ring_samples: int = 1024,
        drops: DropCounters | None = None,
        max_tags_per_machine: int = 50_000,
        max_commands: int = 10_000,
        ring_seconds: float | None = None,
    ) -> None:
        self.ring_samples = ring_samples
        self.ring_seconds = ring_seconds
        self.max_tags_per_machine = max_tags_per_machine
        self.max_commands = max(1, max_commands)
        self.drops = drops if drops is not None else DropCounters()
        self._lock = threading.Lock()
        self._machines: dict[str, MachineView] = {}
        self._logged: set[str] = set()
        self._link_quality = 0
        self._link_since = 0.0
        self.commands: dict[str, CommandStatus] = {}
        self.version = 0  # bumped by births, deaths and snapshots
        self.areas: frozenset[str] = frozenset()  # the hub limits this station to them (empty: all)
        self.samples = 0  # samples applied ever: a view that saw this number has nothing new
        self._wake: Callable[[], None] | None = None

    # -- writer side (I/O thread) -------------------------------------------------------------

    def _view(self, birth: Birth, epoch: int, old: MachineView | None) -> MachineView:
        view = MachineView(
            birth, epoch, self.ring_samples, self.max_tags_per_machine, self.ring_seconds
        )
        if old is not None:
            view.carry_rings(old)
        return view

    def apply_birth(self, birth: Birth, epoch: int) -> bool:
        """A machine started a session: new metadata, values unknown until its DATA.

        A re-BIRTH rebuilds the machine's tables; tags it still has (same name and type) keep
        their recent samples, whatever their aliases are now. ``False`` (and counted) if the
        BIRTH does not hold together; the machine's previous state then stays as it was.
        """
        if self.areas and birth.machine.area not in self.areas:
            self.drops.count("area_not_visible")  # the hub limits this station to its areas
            return False
        with self._lock:
            try:
                view = self._view(birth, epoch, self._machines.get(birth.machine.id))
            except RefusedError as refused:
                self.drops.count(refused.reason)
                return False
            self._machines[birth.machine.id] = view
            self.version += 1
        return True

    def apply_data(self, machine: str, epoch: int, data: Data) -> bool:
        """Apply a DATA batch of the current session; ``False`` (and counted) if it cannot be."""
        with self._lock:
            view = self._machines.get(machine)
            if view is None or view.epoch != epoch:
                self.drops.count("no_session")
                return False
            try:
                applied = view.apply(data)
            except RefusedError as refused:
                self.drops.count(refused.reason)
                return False
            self.samples += applied
            view.online = True
            view.last_update = time.time()
            wake, self._wake = self._wake, None
        if wake is not None:
            wake()
        return True

    def apply_death(self, machine: str, epoch: int, at: float) -> bool:
        """The session ended or timed out: every tag keeps its value and turns Bad/stale."""
        with self._lock:
            view = self._machines.get(machine)
            if view is None or view.epoch != epoch:
                return False
            view.online = False
            view.since = at
            view.table.mark_all(int(Quality.BAD_STALE))
            self.samples += view.rings.append_all(at)
            self.version += 1
        return True

    def apply_snapshot(self, items: Sequence[SnapshotItem]) -> None:
        """Replace everything with a snapshot (machines absent from it are forgotten).

        An item that cannot be applied is skipped and counted (``snapshot_<reason>``); the
        other machines are applied all the same.
        """
        with self._lock:
            fresh: dict[str, MachineView] = {}
            for item in items:
                mid = item.birth.machine.id
                try:
                    view = self._view(item.birth, item.epoch, self._machines.get(mid))
                    view.online = item.online
                    view.since = item.since * 1e-9
                    self._apply_values(view, item.values)
                except RefusedError as refused:
                    self.drops.count(f"snapshot_{refused.reason}")
                    continue
                except Exception:  # one machine must not keep every station from joining
                    self.drops.count("snapshot_apply_error")
                    if len(self._logged) < 100 and mid not in self._logged:
                        self._logged.add(mid)  # once per machine: snapshots repeat
                        log.exception("station: snapshot item of %.80r could not be applied", mid)
                    continue
                view.last_update = time.time()
                fresh[mid] = view
            self._machines = fresh
            self._link_quality = 0
            self.version += 1

    @staticmethod
    def _apply_values(view: MachineView, values: Data) -> None:
        """A snapshot's last values set the table only (the rings keep their own samples)."""
        try:
            aliases, numbers, ts_ns, quality = unpack(values)
            tags = view.dense(aliases)
        except (ColumnError, BatchError) as exc:
            raise RefusedError("bad_values", str(exc)) from exc
        try:
            view.table.apply(tags, numbers, seconds(ts_ns), quality, values.text)
        except BatchError as exc:
            raise RefusedError("bad_values", str(exc)) from exc

    def set_link_quality(self, quality: int, since: float | None = None) -> None:
        """Make every value at most this good (0 = the link is fine).

        ``since`` is the wall-clock time the link went bad — for a silent hub, when its last
        message arrived, so every view says the same "since" as the lost-hub banner.
        """
        with self._lock:
            if quality != self._link_quality:
                self._link_quality = quality
                self._link_since = time.time() if since is None else since
                self.version += 1

    def apply_command_status(self, status: CommandStatus) -> None:
        """Remember the latest status of a command (at most ``max_commands``, oldest go first)."""
        with self._lock:
            self.commands.pop(status.cmd_id, None)  # re-inserted: the dict stays in update order
            self.commands[status.cmd_id] = status
            if len(self.commands) > self.max_commands:
                self._forget_commands()

    def _forget_commands(self) -> None:
        """Drop the oldest finished commands (then the oldest of any state) down to 90 %."""
        keep = self.max_commands * 9 // 10
        for cmd_id in [c for c, s in self.commands.items() if s.state in FINAL_STATES]:
            if len(self.commands) <= keep:
                return
            del self.commands[cmd_id]
        for cmd_id in list(self.commands)[: len(self.commands) - keep]:
            del self.commands[cmd_id]

    # -- reader side (views, tests) -----------------------------------------------------------

    def wake_on_data(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` once, after the next DATA batch is applied (``None``: don't).

        One-shot, so a burst of batches wakes a view once: it asks again when it has read.
        The callback runs on the writer's thread, outside the lock; it must only hand over.
        """
        with self._lock:
            self._wake = callback

    @property
    def link_quality(self) -> int:
        """The quality ceiling the link imposes (0 when the link is fine)."""
        return self._link_quality

    def last_update(self, machine: str) -> float:
        """Wall time the machine's values last changed (0.0: never, or no such machine).

        Lock-free (one attribute read): a view polls it to skip machines with nothing new.
        """
        view = self._machines.get(machine)
        return view.last_update if view is not None else 0.0

    def machine_ids(self) -> list[str]:
        """Ids of every known machine, sorted."""
        with self._lock:
            return sorted(self._machines)

    def machines(self) -> list[MachineSnapshot]:
        """Copies of every machine's metadata and session state."""
        with self._lock:
            return [
                MachineSnapshot(
                    info=v.birth.machine,
                    tags=list(v.birth.tags),
                    commands=list(v.birth.commands),
                    online=v.online,
                    since=v.since,
                    epoch=v.epoch,
                    last_update=v.last_update,
                )
                for _, v in sorted(self._machines.items())
            ]

    def _reading(self, mid: str, view: MachineView, alias: int, now: float) -> Reading:
        table = view.table
        spec = view.birth.tags[alias]  # as the machine declared it (``table`` numbers densely)
        quality = int(table.quality[alias])
        ts = float(table.ts[alias])
        stale_since: float | None = None
        if not view.online:
            stale_since = view.since
        elif quality < 0x40 and ts and now - ts > spec.max_age_ms / 1000:
            quality = int(Quality.UNCERTAIN_STALE)
            stale_since = ts + spec.max_age_ms / 1000
        if self._link_quality and quality < 0x40:
            quality = self._link_quality
            stale_since = self._link_since
        return Reading(
            machine=mid,
            tag=spec.name,
            value=table.display_value(alias),
            quality=quality,
            ts=ts,
            spec=spec,
            stale_since=stale_since,
        )

    def reading(self, machine: str, tag: str, now: float | None = None) -> Reading | None:
        """The current value, quality and age of one tag (``None`` if unknown)."""
        now = time.time() if now is None else now
        with self._lock:
            view = self._machines.get(machine)
            if view is None:
                return None
            alias = view.by_name.get(tag)
            if alias is None:
                return None
            return self._reading(machine, view, alias, now)

    def readings(self, machine: str, now: float | None = None) -> list[Reading]:
        """Every tag of one machine, in BIRTH order."""
        now = time.time() if now is None else now
        with self._lock:
            view = self._machines.get(machine)
            if view is None:
                return []
            return [self._reading(machine, view, i, now) for i in range(view.size)]

    def window(self, machine: str, tag: str, since: float | None = None) -> tuple[F64, F64]:
        """Copies of a tag's recent samples (NaN marks gaps and Bad values)."""
        with self._lock:
            return self._window(machine, tag, since)

    def windows(self, wanted: Sequence[tuple[str, str, float | None]]) -> list[tuple[F64, F64]]:
        """:meth:`window` of several ``(machine, tag, since)`` under one hold of the lock.

        A trend of 50 signals takes the lock once a frame instead of 50 times: each time the
        GUI thread waits for it while the I/O thread applies a batch, it must then win the GIL
        back, which can take a switch interval (5 ms) per call on a busy station.
        """
        with self._lock:
            return [self._window(m, t, since) for m, t, since in wanted]

    def _window(self, machine: str, tag: str, since: float | None) -> tuple[F64, F64]:
        view = self._machines.get(machine)
        alias = view.by_name.get(tag) if view else None
        if view is None or alias is None:
            empty = np.empty(0, dtype=np.float64)
            return empty, empty.copy()
        return view.rings.window(alias, since)

    def sample_count(self, machine: str, tag: str) -> int:
        """How many samples of a tag this station has ever stored (cheap change detection)."""
        with self._lock:
            return self._sample_count(machine, tag)

    def sample_counts(self, keys: Sequence[tuple[str, str]]) -> list[int]:
        """:meth:`sample_count` of several ``(machine, tag)`` under one hold of the lock."""
        with self._lock:
            return [self._sample_count(m, t) for m, t in keys]

    def _sample_count(self, machine: str, tag: str) -> int:
        view = self._machines.get(machine)
        alias = view.by_name.get(tag) if view else None
        if view is None or alias is None:
            return -1
        return view.rings.total_of(alias)

    def values(self, machine: str) -> dict[str, tuple[Value, int, float]]:
        """Raw ``tag → (value, source quality, source time)``, for exact comparisons."""
        with self._lock:
            view = self._machines.get(machine)
            if view is None:
                return {}
            table = view.table
            return {
                t.name: (
                    table.display_value(i),
                    int(table.quality[i]),
                    float(table.ts[i]),
                )
                for i, t in enumerate(view.birth.tags)
            }
