"""Per-machine tag state and history in numpy arrays, updated a whole batch at a time.

:class:`TagTable` keeps the last value, quality and source time of every tag of one machine
session (indexed by alias). :class:`Rings` keeps recent samples per tag in preallocated ring
buffers, optionally growing until they hold a given time span; :class:`SegmentRings` does the
same with one segment per tag that starts small and grows only for the tags that need it (what
the hub uses: memory follows the samples that arrive, not what a BIRTH declares).
:class:`MinMax` keeps min and max per fixed interval for long windows. All of them take a DATA
batch as arrays and do no per-sample Python work, so ingest costs the same whether a batch
holds 10 or 1,000 samples. Times are float64 seconds since the Unix epoch; missing or Bad
values are NaN.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from copilot.protocol import Quality, TagSpec, Value, severity_of

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

NO_VALUE_YET = int(Quality.BAD_NOT_CONNECTED)
SLICE_RUN = 32  # samples per tag from which SegmentRings.since copies slices instead of gathering


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


def batch_ranks(aliases: I64, counts: I64) -> I64:
    """:func:`occurrence_rank` given the batch's per-alias ``counts`` (bincount), faster.

    The common batch — ``k`` ticks of the same tags in the same order — is recognised without
    sorting: its ranks are the tick numbers.
    """
    n = aliases.shape[0]
    present = counts[counts > 0]
    ticks = int(present[0]) if present.size else 0
    if ticks <= 1 and present.size == n:
        return np.zeros(n, dtype=np.int64)
    width = present.size
    if (
        ticks > 1
        and width * ticks == n
        and (present == ticks).all()
        and (aliases.reshape(ticks, width) == aliases[:width]).all()
    ):
        return np.repeat(np.arange(ticks, dtype=np.int64), width)
    return occurrence_rank(aliases)


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
        *,
        checked: bool = False,
    ) -> None:
        """Take a batch (in time order); ``text`` maps sample index → text of ``str`` tags.

        ``checked``: the caller already ran :meth:`check` on these aliases.
        """
        if not (values.shape[0] == aliases.shape[0] == ts.shape[0]) or (
            quality is not None and quality.shape[0] != aliases.shape[0]
        ):
            raise BatchError("columns of different lengths")
        if not checked:
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


def ring_window(
    t_row: F64, v_row: F64, count: int, capacity: int, since: float | None = None
) -> tuple[F64, F64]:
    """Copies of one ring row's samples in time order, optionally from ``since`` on.

    ``count`` samples were ever written to the row (at ``count % capacity`` next). Only what is
    returned is copied: a trend asking for the few samples that arrived since its last frame
    pays for those, not for the whole ring.
    """
    if capacity <= 0:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty.copy()
    n = int(min(count, capacity))
    start = int(count - n) % capacity
    # The held samples in time order are two slices of the row: [start:end1] then [0:end2].
    end1 = min(start + n, capacity)
    end2 = start + n - end1
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
        ranks = batch_ranks(aliases, counts)
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

        Only what is returned is copied (see :func:`ring_window`).
        """
        return ring_window(
            self.t[alias], self.v[alias], int(self.count[alias]), self.capacity, since
        )

    def oldest(self, alias: int) -> float | None:
        """Time of the oldest sample still held for ``alias``."""
        n = int(min(self.count[alias], self.capacity))
        if n == 0:
            return None
        start = int(self.count[alias] - n) % self.capacity
        return float(self.t[alias, start])


LAZY_MIN_BYTES = 1 << 20
"""Buffers at least this large are mapped with 4-KB pages (see :func:`lazy_zeros`)."""


def lazy_zeros(shape: int | tuple[int, ...], dtype: type = np.float64) -> npt.NDArray[Any]:
    """A zeroed array whose memory is committed page by page as it is written.

    numpy advises the kernel to back large arrays with 2-MB huge pages; a ring's first sample
    in a fresh segment (or a min/max bucket's first fold) then commits and zeroes 2 MB, and a
    plant whose segments all grow in the same second commits them all at once — seconds of
    the hub's loop. An anonymous mapping advised against huge pages commits 4 KB at a time
    (and reads as zeros). Small buffers, and systems without the advice, use ``np.zeros``.
    """
    dt = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dt.itemsize
    advice = getattr(mmap, "MADV_NOHUGEPAGE", None)
    if nbytes < LAZY_MIN_BYTES or advice is None:
        return np.zeros(shape, dtype=dt)
    area = mmap.mmap(-1, nbytes)
    area.madvise(advice)
    return np.frombuffer(area, dtype=dt).reshape(shape)


class SegmentRings:
    """Recent samples per tag, each tag in its own segment of one flat buffer.

    A tag gets a segment when its first sample arrives (``initial`` slots, or more if that
    batch holds more), and only that tag's segment doubles (up to ``max_capacity``) while it
    would overwrite a sample younger than ``keep_s``. One fast tag therefore grows one segment,
    and a BIRTH declaring thousands of tags that never send costs a few small index arrays.
    A segment's free slots are never read (a tag's held samples are counted), so new buffer
    memory is left as the allocator gave it: its pages are committed as samples reach them, a
    page per 512 samples of a tag. Writing it at allocation made a plant of 10,000 tags at
    10 Hz commit ~2.6 GB in the second its segments first filled — a stall of the hub's loop
    of several seconds. The reading API matches :class:`Rings` (``since``, ``window``,
    ``oldest``, ``total``).
    """

    def __init__(
        self, size: int, initial: int = 16, keep_s: float | None = None, max_capacity: int = 1 << 17
    ) -> None:
        self.size = size
        self.initial = max(1, initial)
        self.keep_s = keep_s
        self.max_capacity = max(max_capacity, self.initial)
        self.offset = np.zeros(size, dtype=np.int64)
        self.cap = np.zeros(size, dtype=np.int64)  # 0: no segment yet
        self.count = np.zeros(size, dtype=np.int64)
        self.total = np.zeros(size, dtype=np.int64)  # samples ever appended, never reset
        self.t = np.empty(0, dtype=np.float64)
        self.v = np.empty(0, dtype=np.float64)
        self.used = 0
        self.garbage = 0
        # What a tag can take before it overwrites: its segment, or (none yet) the largest one.
        self._space = np.full(size, self.max_capacity, dtype=np.int64)

    @property
    def held_slots(self) -> int:
        """Slots allocated to segments (what the rings cost, in samples)."""
        return int(self.cap.sum())

    def _room(self, need: int) -> None:
        """Make ``need`` more slots available at the end of the buffer (compacting if useful)."""
        if self.used + need <= self.t.shape[0]:
            return
        live = self.used - self.garbage
        size = max(64, 2 * (live + need))
        # Not filled: a slot's page is committed when a sample is written to it.
        t = lazy_zeros(size)
        v = lazy_zeros(size)
        at = 0
        for alias in np.flatnonzero(self.cap):
            o, c = int(self.offset[alias]), int(self.cap[alias])
            t[at : at + c] = self.t[o : o + c]
            v[at : at + c] = self.v[o : o + c]
            self.offset[alias] = at
            at += c
        self.t, self.v, self.used, self.garbage = t, v, at, 0

    def _resize(self, aliases: Iterable[int], new_caps: Iterable[int]) -> None:
        """Give each alias a segment of its new capacity, holding its samples in time order."""
        pairs = [(int(a), int(c)) for a, c in zip(aliases, new_caps, strict=True)]
        self._room(sum(c for _, c in pairs))
        for alias, new_cap in pairs:
            o, c = int(self.offset[alias]), int(self.cap[alias])
            n = int(min(self.count[alias], c))
            start = self.used
            if n:
                first = int(self.count[alias] - n) % c
                order = (first + np.arange(n)) % c
                self.t[start : start + n] = self.t[o + order]
                self.v[start : start + n] = self.v[o + order]
            self.garbage += c
            self.offset[alias] = start
            self.cap[alias] = new_cap
            self._space[alias] = new_cap
            self.count[alias] = n
            self.used += new_cap

    def _grown(self, aliases: I64, now: float) -> I64:
        """New capacities for full segments: what ``keep_s`` needs at the rate each one saw.

        Doubling alone made every tag of a plant at one rate grow at the same moments
        (16, 32 … 16,384 samples: at 10 Hz 102 s, 205 s, 410 s … after the start), each time
        copying all of them in one go — a stall of the hub's loop of about a second. A segment
        that fills now grows at once to the power of two that holds ``keep_s`` at its observed
        rate (at least double, at most ``max_capacity``).
        """
        caps = self.cap[aliases]
        assert self.keep_s is not None
        oldest = self.t[self.offset[aliases] + self.count[aliases] % caps]  # next to overwrite
        span = now - oldest
        with np.errstate(divide="ignore", invalid="ignore"):
            need = np.where(span > 0, caps * (self.keep_s / span) * 1.1, 2 * caps)
        need = np.clip(np.nan_to_num(need, nan=0.0, posinf=0.0), 2 * caps, self.max_capacity)
        pow2 = np.left_shift(1, np.ceil(np.log2(need)).astype(np.int64))
        grown: I64 = np.minimum(self.max_capacity, pow2).astype(np.int64)
        return grown

    def would_overwrite(self, start: I64, counts: I64) -> bool:
        """Whether appending ``counts`` samples per tag may overwrite one not yet taken.

        "Not yet taken": a held sample numbered ``>= start`` (running numbers, see
        :attr:`total`) — one a later tier (the hub's min/max) has not folded yet. Conservative:
        a segment that would grow instead of overwriting still counts as full.
        """
        # ``total - start`` counts the samples not taken yet, held or not (>= those held):
        # conservative, and three array operations on the per-message path.
        pending = self.total - start
        pending += counts
        return bool((pending > self._space).any())

    def append(self, aliases: I64, ts: F64, values: F64, counts: I64 | None = None) -> None:
        """Append a batch; several samples of one tag must be in time order.

        ``counts``: the batch's ``np.bincount(aliases, minlength=size)``, if the caller has it.
        """
        if aliases.size == 0:
            return
        if counts is None:
            counts = np.bincount(aliases, minlength=self.size)
        # Segments for new tags, and room for a batch longer than a tag's segment.
        short = np.flatnonzero(counts > self.cap)
        if short.size:
            want = np.maximum(self.initial, counts[short])
            new_caps = np.minimum(self.max_capacity, 1 << np.ceil(np.log2(want)).astype(np.int64))
            grow = new_caps > self.cap[short]
            self._resize(short[grow].tolist(), new_caps[grow].tolist())
        ranks = batch_ranks(aliases, counts)
        while True:
            cap = self.cap[aliases]
            k = self.count[aliases] + ranks
            pos = self.offset[aliases] + k % cap
            if self.keep_s is None:
                break
            overwrite = (k >= cap) & (cap < self.max_capacity)
            if not overwrite.any():
                break
            young = self.t[pos[overwrite]] > ts[overwrite] - self.keep_s
            if not young.any():
                break
            grow = np.unique(aliases[overwrite][young])
            self._resize(grow.tolist(), self._grown(grow, float(ts[-1])).tolist())
        self.t[pos] = ts
        self.v[pos] = values
        self.count += counts
        self.total += counts

    def since(self, start: I64) -> tuple[I64, F64, F64]:
        """Samples whose running number (see :attr:`total`) is ``>= start``, still held."""
        held = np.minimum(self.count, self.cap)
        first = np.maximum(start, self.total - held)
        fresh = np.maximum(self.total - first, 0)
        total = int(fresh.sum())
        aliases = np.repeat(np.arange(self.size, dtype=np.int64), fresh)
        if total == 0:
            empty = np.empty(0, dtype=np.float64)
            return aliases, empty, empty.copy()
        active = np.flatnonzero(fresh)
        if total >= SLICE_RUN * active.size:
            return aliases, *self._since_by_slices(active, first, fresh, total)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(fresh) - fresh, fresh)
        k = np.repeat(first, fresh) + offsets
        cap = self.cap[aliases]
        pos = self.offset[aliases] + (np.repeat(self.count - self.total, fresh) + k) % cap
        return aliases, self.t[pos], self.v[pos]

    def _since_by_slices(self, active: I64, first: I64, fresh: I64, total: int) -> tuple[F64, F64]:
        """:meth:`since` for long runs: two slices of each tag's segment at most.

        A loop over tags, none over samples: the general path's gathers cost ~10-100 ns per
        sample, a slice copy is a memcpy.
        """
        t_out = np.empty(total, dtype=np.float64)
        v_out = np.empty(total, dtype=np.float64)
        cap = self.cap[active]
        start = (self.count[active] - self.total[active] + first[active]) % cap
        at = 0
        rows = zip(
            self.offset[active].tolist(),
            cap.tolist(),
            start.tolist(),
            fresh[active].tolist(),
            strict=True,
        )
        for offset, c, s0, n in rows:
            head = min(n, c - s0)
            t_out[at : at + head] = self.t[offset + s0 : offset + s0 + head]
            v_out[at : at + head] = self.v[offset + s0 : offset + s0 + head]
            if n > head:
                t_out[at + head : at + n] = self.t[offset : offset + n - head]
                v_out[at + head : at + n] = self.v[offset : offset + n - head]
            at += n
        return t_out, v_out

    def append_all(self, t: float, value: float = np.nan) -> None:
        """Append one sample to every tag that has samples (a NaN at ``t`` marks a gap)."""
        aliases = np.flatnonzero(self.cap).astype(np.int64)
        self.append(aliases, np.full(aliases.size, t), np.full(aliases.size, value))

    def _rows(self, alias: int) -> tuple[F64, F64, int]:
        o, c = int(self.offset[alias]), int(self.cap[alias])
        return self.t[o : o + c], self.v[o : o + c], c

    def window(self, alias: int, since: float | None = None) -> tuple[F64, F64]:
        """Copies of one tag's samples in time order, optionally from ``since`` on."""
        t_row, v_row, capacity = self._rows(alias)
        return ring_window(t_row, v_row, int(self.count[alias]), capacity, since)

    def overwritten(self, alias: int) -> bool:
        """Whether ``alias`` has let samples go (else it holds every sample it ever took)."""
        return bool(self.total[alias] > min(self.count[alias], self.cap[alias]))

    def oldest(self, alias: int) -> float | None:
        """Time of the oldest sample still held for ``alias``."""
        t_row, _v, capacity = self._rows(alias)
        n = int(min(self.count[alias], capacity))
        if n == 0:
            return None
        return float(t_row[int(self.count[alias] - n) % capacity])


class MinMax:
    """Min and max per tag per fixed interval, for windows longer than the rings hold.

    Stored as float32 (a trend's long view needs no more). Bucket ids are kept as ``id + 1``
    in a zeroed array (0 = empty), so no page is committed until a bucket fills: a BIRTH of
    many tags that never send costs address space, not memory.
    """

    def __init__(self, size: int, interval_s: float, buckets: int) -> None:
        self.size = size
        self.interval = float(interval_s)
        self.buckets = buckets
        self.bucket = lazy_zeros((size, buckets), np.int64)  # id + 1; committed as filled
        self.vmin = lazy_zeros((size, buckets), np.float32)
        self.vmax = lazy_zeros((size, buckets), np.float32)

    def append(self, aliases: I64, ts: F64, values: F64) -> None:
        """Fold a batch into its buckets (NaN values are ignored).

        Works on flat indices (``alias * buckets + slot``) into flat views of the arrays:
        ``ufunc.at`` with one index array is several times faster than with a pair.
        """
        if aliases.size == 0:
            return
        ids = np.floor(ts / self.interval).astype(np.int64) + 1
        flat = aliases * self.buckets + ids % self.buckets
        bucket = self.bucket.reshape(-1)  # views: the arrays are C-contiguous
        vmin, vmax = self.vmin.reshape(-1), self.vmax.reshape(-1)
        held = bucket[flat]
        fresh = held != ids
        if fresh.any():
            ff, fi = flat[fresh], ids[fresh]
            newer = fi > held[fresh]
            ff, fi = ff[newer], fi[newer]
            bucket[ff] = fi
            vmin[ff] = np.nan
            vmax[ff] = np.nan
            keep = bucket[flat] == ids
            flat, values = flat[keep], values[keep]
        v = values.astype(np.float32)
        np.fmin.at(vmin, flat, v)
        np.fmax.at(vmax, flat, v)

    def window(self, alias: int, since: float, until: float) -> tuple[F64, F64, F64]:
        """Bucket start times, minima and maxima of ``alias`` between two times, in order."""
        first = int(np.floor(since / self.interval))
        last = int(np.floor(until / self.interval))
        first = max(first, last - self.buckets + 1)
        if last < first:
            empty = np.empty(0, dtype=np.float64)
            return empty, empty, empty
        ids = np.arange(first, last + 1, dtype=np.int64)
        slots = (ids + 1) % self.buckets
        held = self.bucket[alias, slots] == ids + 1
        vmin = np.where(held, self.vmin[alias, slots].astype(np.float64), np.nan)
        vmax = np.where(held, self.vmax[alias, slots].astype(np.float64), np.nan)
        return ids.astype(np.float64) * self.interval, vmin, vmax
