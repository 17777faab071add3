"""Recent samples per tag of one machine, with memory that follows the data, not the BIRTH.

:class:`TagRings` gives a tag a row only when its first sample arrives, and starts every row
short (``first`` samples), doubling the rows' length up to ``capacity`` as they fill — or, with
``keep_s``, growing at once to what ``keep_s`` seconds at the rate seen so far need (so memory
settles within seconds of the first data instead of creeping for the whole window). A BIRTH
that declares 100,000 tags costs nothing here until samples come; one tag sampled fast grows
the rows of the tags that have samples, never past ``capacity``. Tags are the dense indices
``0..tags-1`` the store gives them (BIRTH order), never the wire aliases, so a huge alias
claims no memory either. Appends take a whole batch in a few vectorised steps.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from copilot.series import F64, I64, occurrence_rank, ring_window


class TagRings:
    """Ring buffers for ``tags`` tags, each holding at most ``capacity`` recent samples."""

    def __init__(
        self, tags: int, capacity: int, first: int = 16, keep_s: float | None = None
    ) -> None:
        self.tags = tags
        self.keep_s = keep_s
        self.max_capacity = max(1, capacity)
        self.capacity = min(max(1, first), self.max_capacity)
        self.row = np.full(tags, -1, dtype=np.int64)  # tag → row (-1: no sample yet)
        self.t = np.empty((0, self.capacity), dtype=np.float64)
        self.v = np.empty((0, self.capacity), dtype=np.float64)
        self.count = np.zeros(0, dtype=np.int64)  # per row: samples ever appended
        self._all_rows = tags == 0

    @property
    def rows(self) -> int:
        """Tags that have a row (have had a sample)."""
        return int(self.count.shape[0])

    @property
    def total(self) -> I64:
        """Per tag: samples ever appended (never reset; 0 for a tag without samples)."""
        out = np.zeros(self.tags, dtype=np.int64)
        has = self.row >= 0
        out[has] = self.count[self.row[has]]
        return out

    def total_of(self, tag: int) -> int:
        """Samples ever appended to one tag (cheap change detection for a view)."""
        row = int(self.row[tag])
        return 0 if row < 0 else int(self.count[row])

    @property
    def nbytes(self) -> int:
        """Bytes held by the sample arrays."""
        return int(self.t.nbytes + self.v.nbytes)

    def _add_rows(self, tags: I64) -> None:
        n = self.rows
        add = int(tags.shape[0])
        self.row[tags] = np.arange(n, n + add, dtype=np.int64)
        pad = np.full((add, self.capacity), np.nan, dtype=np.float64)
        self.t = np.concatenate((self.t, pad))
        self.v = np.concatenate((self.v, pad.copy()))
        self.count = np.concatenate((self.count, np.zeros(add, dtype=np.int64)))
        self._all_rows = self.rows == self.tags

    def _grow(self, needed: int, newest: float) -> None:
        """Lengthen every row to hold ``needed`` samples (rows have not wrapped yet)."""
        cap = self.capacity
        new_cap = cap
        while new_cap < needed and new_cap < self.max_capacity:
            new_cap = min(new_cap * 2, self.max_capacity)
        if new_cap == cap:
            return
        if self.keep_s is not None:
            # Rows have not wrapped: column 0 holds each row's first sample.
            seen = self.count > 0
            span = newest - float(self.t[seen, 0].min()) if seen.any() else 0.0
            if span >= 1.0:  # enough data to tell the fastest tag's rate
                want = int(needed / span * self.keep_s * 1.25) + 1
                new_cap = max(new_cap, min(want, self.max_capacity))
        t = np.full((self.rows, new_cap), np.nan, dtype=np.float64)
        v = np.full((self.rows, new_cap), np.nan, dtype=np.float64)
        t[:, :cap] = self.t
        v[:, :cap] = self.v
        self.t, self.v, self.capacity = t, v, new_cap

    def append(self, tags: I64, ts: F64, values: F64) -> None:
        """Append a batch (dense tag indices); several samples of one tag in time order."""
        if tags.size == 0:
            return
        rows = self.row[tags]
        if not self._all_rows and (rows < 0).any():
            self._add_rows(np.unique(tags[rows < 0]))
            rows = self.row[tags]
        counts = np.bincount(rows, minlength=self.rows)
        if self.capacity < self.max_capacity:
            # rows never wrap below max_capacity: grow first (one fast tag grows only so far)
            self._grow(int((self.count + counts).max()), float(ts.max()))
        unique = counts.max() <= 1
        ranks = np.zeros(rows.size, dtype=np.int64) if unique else occurrence_rank(rows)
        pos = (self.count[rows] + ranks) % self.capacity
        self.t[rows, pos] = ts
        self.v[rows, pos] = values
        self.count += counts

    def append_all(self, t: float, value: float = np.nan) -> int:
        """Append one sample to every tag that has samples (NaN marks a gap); how many."""
        tags = np.flatnonzero(self.row >= 0).astype(np.int64)
        self.append(tags, np.full(tags.size, t), np.full(tags.size, value))
        return int(tags.size)

    def window(self, tag: int, since: float | None = None) -> tuple[F64, F64]:
        """Copies of one tag's samples in time order, optionally from ``since`` on."""
        row = int(self.row[tag])
        if row < 0:
            empty = np.empty(0, dtype=np.float64)
            return empty, empty.copy()
        return ring_window(self.t[row], self.v[row], int(self.count[row]), self.capacity, since)

    def carried_over(self, tags: int, moves: Mapping[int, int]) -> TagRings:
        """New rings for ``tags`` tags keeping the samples of ``moves`` (old tag → new tag).

        A re-BIRTH that renumbers, adds or drops tags keeps the history of the tags it still
        has (matched by name by the caller); the rest start empty.
        """
        fresh = TagRings(tags, self.max_capacity, keep_s=self.keep_s)
        pairs = [(o, n) for o, n in moves.items() if 0 <= o < self.tags and 0 <= n < tags]
        if not pairs:
            return fresh
        olds = np.array([o for o, _ in pairs], dtype=np.int64)
        news = np.array([n for _, n in pairs], dtype=np.int64)
        has_row = self.row[olds] >= 0
        if not has_row.any():
            return fresh
        old_rows = self.row[olds[has_row]]
        fresh.capacity = self.capacity
        fresh.t = self.t[old_rows]
        fresh.v = self.v[old_rows]
        fresh.count = self.count[old_rows]
        fresh.row[news[has_row]] = np.arange(old_rows.size, dtype=np.int64)
        fresh._all_rows = fresh.rows == fresh.tags
        return fresh
