"""Per-machine tag state and history in numpy arrays, updated a whole batch at a time.

:class:`TagTable` keeps the last value, quality and source time of every tag of one machine
session (indexed by alias). :class:`Rings` keeps recent samples per tag in preallocated ring
buffers, optionally growing until they hold a given time span. :class:`MinMax` keeps min and
max per fixed interval for long windows. All of them take a DATA batch as arrays and do no
per-sample Python work, so ingest costs the same whether a batch holds 10 or 1,000 samples.
Times are float64 seconds since the Unix epoch; missing or Bad values are NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from copilot.protocol import Quality, TagSpec, Value, severity_of

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

NO_VALUE_YET = int(Quality.BAD_NOT_CONNECTED)


class BatchError(ValueError):
    """A batch does not fit the session's BIRTH (unknown alias, ragged columns...)."""


def occurrence_rank(aliases: I64) -> I64:
    """For each element, how many equal elements precede it (0 for the first occurrence)."""
    n = aliases.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    order = np.argsort(aliases, kind="stable")
    ordered = aliases[order]
    idx = np.arange(n, dtype=np.int64)
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    group_start = np.maximum.accumulate(np.where(starts, idx, 0))
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = idx - group_start
    return ranks


class TagTable:
    """Last value, quality and source time of each tag of one machine session."""

    def __init__(self, tags: Sequence[TagSpec]) -> None:
        size = max((t.alias for t in tags), default=-1) + 1
        self.specs: list[TagSpec | None] = [None] * size
        for spec in tags:
            self.specs[spec.alias] = spec
        self.by_name = {t.name: t.alias for t in tags}
        self.known = np.zeros(size, dtype=bool)
        self.known[[t.alias for t in tags]] = True
        self.value = np.full(size, np.nan, dtype=np.float64)
        self.quality = np.full(size, NO_VALUE_YET, dtype=np.uint8)
        self.ts = np.zeros(size, dtype=np.float64)
        self.text: dict[int, str] = {}
        self._text_aliases = {t.alias for t in tags if t.type == "str"}

    @property
    def size(self) -> int:
        """Number of alias slots."""
        return len(self.specs)

    def check(self, aliases: I64) -> None:
        """Raise :class:`BatchError` unless every alias was declared in the BIRTH."""
        if aliases.size and (
            aliases.min() < 0 or aliases.max() >= self.size or not self.known[aliases].all()
        ):
            raise BatchError("unknown alias")

    def apply(
        self,
        aliases: I64,
        values: F64,
        ts: F64,
        quality: U8 | None,
        text: Mapping[int, str] | None = None,
    ) -> None:
        """Take a batch (in time order); ``text`` maps sample index → text of ``str`` tags."""
        if not (values.shape[0] == aliases.shape[0] == ts.shape[0]) or (
            quality is not None and quality.shape[0] != aliases.shape[0]
        ):
            raise BatchError("columns of different lengths")
        self.check(aliases)
        self.value[aliases] = values
        self.ts[aliases] = ts
        self.quality[aliases] = 0 if quality is None else quality
        if text:
            for index, value in text.items():
                alias = int(aliases[index])
                if alias in self._text_aliases:
                    self.text[alias] = value

    def mark_all(self, quality: int) -> None:
        """Give every tag the same quality (e.g. Bad/stale when the machine dies)."""
        self.quality[:] = quality

    def degrade(self, quality: int) -> None:
        """Lower every Good tag to ``quality``; worse qualities stay as they are."""
        good = self.quality < 0x40
        self.quality[good] = quality

    def display_value(self, alias: int) -> Value:
        """The last value with the tag's own type (int, bool, enum label, text...)."""
        spec = self.specs[alias]
        if spec is None:
            return None
        if spec.type == "str":
            return self.text.get(alias)
        number = float(self.value[alias])
        if np.isnan(number):
            return None
        if spec.type == "bool":
            return bool(number)
        if spec.type == "int":
            return int(number)
        if spec.type == "enum":
            labels = spec.labels or []
            index = int(number)
            return labels[index] if 0 <= index < len(labels) else index
        return number

    def is_good(self, alias: int) -> bool:
        """Whether the tag's quality is Good."""
        return severity_of(int(self.quality[alias])) == 0


class Rings:
    """Recent samples per tag: ``t`` and ``v`` arrays of shape ``(tags, capacity)``.

    With ``keep_s`` set, a tag's ring doubles (up to ``max_capacity``) instead of overwriting
    a sample younger than ``keep_s`` seconds, so it always covers at least that span.
    Memory is committed when allocated, so it does not creep up while the rings fill.
    """

    def __init__(
        self, size: int, capacity: int, keep_s: float | None = None, max_capacity: int = 0
    ) -> None:
        self.size = size
        self.keep_s = keep_s
        self.max_capacity = max(max_capacity, capacity)
        self.capacity = capacity
        self.t = np.full((size, capacity), np.nan, dtype=np.float64)
        self.v = np.full((size, capacity), np.nan, dtype=np.float64)
        self.count = np.zeros(size, dtype=np.int64)
        self.total = np.zeros(size, dtype=np.int64)  # samples ever appended, never reset

    def _grow(self) -> None:
        cap = self.capacity
        new_cap = min(cap * 2, self.max_capacity)
        order = (self.count[:, None] + np.arange(cap)[None, :]) % cap
        wrapped = self.count >= cap
        idx = np.where(wrapped[:, None], order, np.arange(cap)[None, :])
        t = np.full((self.size, new_cap), np.nan, dtype=np.float64)
        v = np.full((self.size, new_cap), np.nan, dtype=np.float64)
        t[:, :cap] = np.take_along_axis(self.t, idx, axis=1)
        v[:, :cap] = np.take_along_axis(self.v, idx, axis=1)
        self.t, self.v = t, v
        self.count = np.minimum(self.count, cap)
        self.capacity = new_cap

    def append(self, aliases: I64, ts: F64, values: F64) -> None:
        """Append a batch; several samples of one tag must be in time order."""
        if aliases.size == 0:
            return
        counts = np.bincount(aliases, minlength=self.size)
        unique = aliases.size <= self.size and counts.max() <= 1
        ranks = np.zeros(aliases.size, dtype=np.int64) if unique else occurrence_rank(aliases)
        while True:
            pos = (self.count[aliases] + ranks) % self.capacity
            if self.keep_s is None or self.capacity >= self.max_capacity:
                break
            overwrite = (self.count[aliases] + ranks) >= self.capacity
            if not overwrite.any():
                break
            oldest = self.t[aliases[overwrite], pos[overwrite]]
            if not (oldest > ts[overwrite] - self.keep_s).any():
                break
            self._grow()
        self.t[aliases, pos] = ts
        self.v[aliases, pos] = values
        self.count += counts
        self.total += counts

    def since(self, start: I64) -> tuple[I64, F64, F64]:
        """Samples whose running number (see :attr:`total`) is ``>= start``, still held."""
        held = np.minimum(self.count, self.capacity)
        first = np.maximum(start, self.total - held)
        fresh = np.maximum(self.total - first, 0)
        total = int(fresh.sum())
        aliases = np.repeat(np.arange(self.size, dtype=np.int64), fresh)
        if total == 0:
            empty = np.empty(0, dtype=np.float64)
            return aliases, empty, empty.copy()
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(fresh) - fresh, fresh)
        k = np.repeat(first, fresh) + offsets
        pos = (np.repeat(self.count - self.total, fresh) + k) % self.capacity
        return aliases, self.t[aliases, pos], self.v[aliases, pos]

    def append_all(self, t: float, value: float = np.nan) -> None:
        """Append one sample to every tag (NaN at ``t`` marks a gap in every trend)."""
        aliases = np.arange(self.size, dtype=np.int64)
        self.append(aliases, np.full(self.size, t), np.full(self.size, value))

    def window(self, alias: int, since: float | None = None) -> tuple[F64, F64]:
        """Copies of one tag's samples in time order, optionally from ``since`` on.

        Only what is returned is copied: a trend asking for the few samples that arrived since
        its last frame pays for those, not for the whole ring.
        """
        n = int(min(self.count[alias], self.capacity))
        start = int(self.count[alias] - n) % self.capacity
        # The held samples in time order are two slices of the ring: [start:end1] then [0:end2].
        end1 = min(start + n, self.capacity)
        end2 = start + n - end1
        t_row, v_row = self.t[alias], self.v[alias]
        if since is not None and n:
            if end2 and since > t_row[end1 - 1]:  # all of it is in the second slice
                first = int(np.searchsorted(t_row[:end2], since, side="left"))
                return t_row[first:end2].copy(), v_row[first:end2].copy()
            start += int(np.searchsorted(t_row[start:end1], since, side="left"))
        if not end2:
            return t_row[start:end1].copy(), v_row[start:end1].copy()
        return (
            np.concatenate((t_row[start:end1], t_row[:end2])),
            np.concatenate((v_row[start:end1], v_row[:end2])),
        )

    def oldest(self, alias: int) -> float | None:
        """Time of the oldest sample still held for ``alias``."""
        n = int(min(self.count[alias], self.capacity))
        if n == 0:
            return None
        start = int(self.count[alias] - n) % self.capacity
        return float(self.t[alias, start])


class MinMax:
    """Min and max per tag per fixed interval, for windows longer than the rings hold.

    Stored as float32 (a trend's long view needs no more); only the bucket ids are
    initialised up front, so memory is committed as buckets fill.
    """

    def __init__(self, size: int, interval_s: float, buckets: int) -> None:
        self.size = size
        self.interval = float(interval_s)
        self.buckets = buckets
        self.bucket = np.full((size, buckets), -1, dtype=np.int64)
        self.vmin = np.empty((size, buckets), dtype=np.float32)
        self.vmax = np.empty((size, buckets), dtype=np.float32)

    def append(self, aliases: I64, ts: F64, values: F64) -> None:
        """Fold a batch into its buckets (NaN values are ignored)."""
        if aliases.size == 0:
            return
        ids = np.floor(ts / self.interval).astype(np.int64)
        slots = ids % self.buckets
        fresh = self.bucket[aliases, slots] != ids
        if fresh.any():
            fa, fs, fi = aliases[fresh], slots[fresh], ids[fresh]
            newer = fi > self.bucket[fa, fs]
            fa, fs, fi = fa[newer], fs[newer], fi[newer]
            self.bucket[fa, fs] = fi
            self.vmin[fa, fs] = np.nan
            self.vmax[fa, fs] = np.nan
        keep = self.bucket[aliases, slots] == ids
        a, s, v = aliases[keep], slots[keep], values[keep]
        np.fmin.at(self.vmin, (a, s), v.astype(np.float32))
        np.fmax.at(self.vmax, (a, s), v.astype(np.float32))

    def window(self, alias: int, since: float, until: float) -> tuple[F64, F64, F64]:
        """Bucket start times, minima and maxima of ``alias`` between two times, in order."""
        first = int(np.floor(since / self.interval))
        last = int(np.floor(until / self.interval))
        first = max(first, last - self.buckets + 1)
        if last < first:
            empty = np.empty(0, dtype=np.float64)
            return empty, empty, empty
        ids = np.arange(first, last + 1, dtype=np.int64)
        slots = ids % self.buckets
        held = self.bucket[alias, slots] == ids
        vmin = np.where(held, self.vmin[alias, slots].astype(np.float64), np.nan)
        vmax = np.where(held, self.vmax[alias, slots].astype(np.float64), np.nan)
        return ids.astype(np.float64) * self.interval, vmin, vmax
