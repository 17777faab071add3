"""The station's picture of the plant: conflated per-tag state and recent samples.

The I/O thread writes through the ``apply_*`` methods; views read with :meth:`StationStore.reading`,
:meth:`StationStore.window` and :meth:`StationStore.machines` on their own timer. One lock guards
both sides; reads copy what they return, so a view never sees a half-applied batch.

Quality as shown is the source quality made worse by what the station knows: the machine is
offline (Bad/stale), the value is older than its ``max_age_ms`` (Uncertain/stale), the hub link
is lost (Uncertain/comm_lost) or a resync is under way (Uncertain/resyncing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from copilot.protocol import (
    Birth,
    CommandSpec,
    CommandStatus,
    Data,
    MachineInfo,
    Quality,
    SnapshotItem,
    TagSpec,
    Value,
    severity_of,
)
from copilot.protocol.columns import ColumnError, seconds, unpack
from copilot.series import F64, BatchError, Rings, TagTable


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


class MachineView:
    """One machine as the station knows it (guarded by the store's lock)."""

    def __init__(self, birth: Birth, epoch: int, ring_samples: int) -> None:
        self.birth = birth
        self.epoch = epoch
        self.table = TagTable(birth.tags)
        self.rings = Rings(self.table.size, ring_samples)
        self.online = True
        self.since = time.time()
        self.last_update = 0.0


class StationStore:
    """All machines' state, shared between the I/O thread (writer) and views (readers)."""

    def __init__(self, ring_samples: int = 1024) -> None:
        self.ring_samples = ring_samples
        self._lock = threading.Lock()
        self._machines: dict[str, MachineView] = {}
        self._link_quality = 0
        self._link_since = 0.0
        self.commands: dict[str, CommandStatus] = {}
        self.version = 0  # bumped by births, deaths and snapshots
        self.samples = 0  # samples applied ever: a view that saw this number has nothing new

    # -- writer side (I/O thread) -------------------------------------------------------------

    def apply_birth(self, birth: Birth, epoch: int) -> None:
        """A machine started a session: new metadata, values unknown until its DATA."""
        with self._lock:
            old = self._machines.get(birth.machine.id)
            view = MachineView(birth, epoch, self.ring_samples)
            if old is not None and [t.name for t in old.birth.tags] == [t.name for t in birth.tags]:
                view.rings = old.rings
            self._machines[birth.machine.id] = view
            self.version += 1

    def apply_data(self, machine: str, epoch: int, data: Data) -> bool:
        """Apply a DATA batch of the current session; ``False`` if it does not belong to one."""
        try:
            aliases, values, ts_ns, quality = unpack(data)
        except ColumnError:
            return False
        ts = seconds(ts_ns)
        with self._lock:
            view = self._machines.get(machine)
            if view is None or view.epoch != epoch:
                return False
            try:
                view.table.apply(aliases, values, ts, quality, data.text)
            except BatchError:
                return False
            if quality is not None:
                values = np.where(quality >= 0x80, np.nan, values)
            view.rings.append(aliases, ts, values)
            self.samples += int(aliases.size)
            view.online = True
            view.last_update = time.time()
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
            view.rings.append_all(at)
            self.samples += view.rings.size
            self.version += 1
        return True

    def apply_snapshot(self, items: Sequence[SnapshotItem]) -> None:
        """Replace everything with a snapshot (machines absent from it are forgotten)."""
        with self._lock:
            fresh: dict[str, MachineView] = {}
            for item in items:
                mid = item.birth.machine.id
                old = self._machines.get(mid)
                view = MachineView(item.birth, item.epoch, self.ring_samples)
                if old is not None and [t.name for t in old.birth.tags] == [
                    t.name for t in item.birth.tags
                ]:
                    view.rings = old.rings
                view.online = item.online
                view.since = item.since * 1e-9
                try:
                    aliases, values, ts_ns, quality = unpack(item.values)
                    view.table.apply(aliases, values, seconds(ts_ns), quality, item.values.text)
                except (BatchError, ColumnError):
                    continue
                view.last_update = time.time()
                fresh[mid] = view
            self._machines = fresh
            self._link_quality = 0
            self.version += 1

    def set_link_quality(self, quality: int) -> None:
        """Make every value at most this good (0 = the link is fine)."""
        with self._lock:
            if quality != self._link_quality:
                self._link_quality = quality
                self._link_since = time.time()
                self.version += 1

    def apply_command_status(self, status: CommandStatus) -> None:
        """Remember the latest status of a command."""
        with self._lock:
            self.commands[status.cmd_id] = status

    # -- reader side (views, tests) -----------------------------------------------------------

    @property
    def link_quality(self) -> int:
        """The quality ceiling the link imposes (0 when the link is fine)."""
        return self._link_quality

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
        spec = table.specs[alias]
        assert spec is not None
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
            alias = view.table.by_name.get(tag)
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
            return [self._reading(machine, view, t.alias, now) for t in view.birth.tags]

    def window(self, machine: str, tag: str, since: float | None = None) -> tuple[F64, F64]:
        """Copies of a tag's recent samples (NaN marks gaps and Bad values)."""
        with self._lock:
            view = self._machines.get(machine)
            alias = view.table.by_name.get(tag) if view else None
            if view is None or alias is None:
                empty = np.empty(0, dtype=np.float64)
                return empty, empty.copy()
            return view.rings.window(alias, since)

    def sample_count(self, machine: str, tag: str) -> int:
        """How many samples of a tag this station has ever stored (cheap change detection)."""
        with self._lock:
            view = self._machines.get(machine)
            alias = view.table.by_name.get(tag) if view else None
            if view is None or alias is None:
                return -1
            return int(view.rings.total[alias])

    def values(self, machine: str) -> dict[str, tuple[Value, int, float]]:
        """Raw ``tag → (value, source quality, source time)``, for exact comparisons."""
        with self._lock:
            view = self._machines.get(machine)
            if view is None:
                return {}
            table = view.table
            return {
                t.name: (
                    table.display_value(t.alias),
                    int(table.quality[t.alias]),
                    float(table.ts[t.alias]),
                )
                for t in view.birth.tags
            }
