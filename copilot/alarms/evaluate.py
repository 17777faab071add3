"""Whole DATA batches against a machine's alarm conditions, vectorised.

A :class:`ConditionTable` is compiled once per BIRTH: limit thresholds as an ``(aliases, 4)``
array (HIHI, HI, LO, LOLO), discrete alarms as a bit mask of alarming values per alias, the
rate-of-change tags, and the ``state`` tag. :meth:`ConditionTable.evaluate` compares a whole
batch with numpy and, in the common case where no condition changes, returns after a handful
of array operations; only the (alias, condition) pairs that changed are walked sample by sample
(a few, since the deadband keeps a dithering value from flapping).

What it returns are *raw* condition changes (before on/off delays, which the engine applies):
``(definition index, time ns, active, value)``, in time order, plus mode changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from copilot.alarms.model import AlarmDef

LEVELS = ("hihi", "hi", "lo", "lolo")
_DIRECTION = np.array([1.0, 1.0, -1.0, -1.0])
ROC_WINDOW_NS = 5_000_000_000  # a rate of change is measured over at least 5 s
_BAD = 0x80


def _ns(t: float) -> int:
    """Float seconds (as the hub keeps times) to ns."""
    return round(float(t) * 1e9)


def _walk(
    state: bool,
    index: int,
    samples: npt.NDArray[np.intp],
    enters: npt.NDArray[np.bool_],
    leaves: npt.NDArray[np.bool_],
    times: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    out: list[RawChange],
) -> bool:
    """One condition along its samples in time order: record each flip; the state it ends in.

    ``enters``/``leaves`` say, per sample, whether it would raise or clear the condition (a
    sample in a deadband does neither).
    """
    for i, enter, leave in zip(samples, enters, leaves, strict=True):
        if (enter and not state) or (leave and state):
            state = not state
            out.append(RawChange(index, _ns(times[i]), state, float(values[i])))
    return state


@dataclass(frozen=True, slots=True)
class RawChange:
    """A condition appeared or went away in the samples (before delays)."""

    index: int
    at: int
    active: bool
    value: float | None


@dataclass(frozen=True, slots=True)
class ModeChange:
    """The machine's ``state`` tag took a new value (its label, '' if unknown)."""

    at: int
    mode: str


@dataclass
class ConditionTable:
    """One machine's alarm conditions in arrays indexed by DATA alias."""

    defs: list[AlarmDef]
    size: int
    state_alias: int = -1
    state_labels: tuple[str, ...] = ()
    limit_index: npt.NDArray[np.int64] = field(init=False)
    limit: npt.NDArray[np.float64] = field(init=False)
    clear_margin: npt.NDArray[np.float64] = field(init=False)
    limit_raw: npt.NDArray[np.bool_] = field(init=False)
    on_mask: npt.NDArray[np.int64] = field(init=False)
    on_index: npt.NDArray[np.int64] = field(init=False)
    on_raw: npt.NDArray[np.bool_] = field(init=False)
    roc: dict[int, tuple[int, float]] = field(init=False)
    roc_ref: dict[int, tuple[int, float]] = field(init=False)
    roc_raw: dict[int, bool] = field(init=False)
    mode: str | None = field(init=False, default=None)
    safe_lo: npt.NDArray[np.float64] = field(init=False)
    safe_hi: npt.NDArray[np.float64] = field(init=False)

    def __post_init__(self) -> None:
        n = max(self.size, 1)
        self.limit_index = np.full((n, 4), -1, dtype=np.int64)
        self.limit = np.full((n, 4), np.nan)
        self.clear_margin = np.full((n, 4), np.nan)
        self.limit_raw = np.zeros((n, 4), dtype=bool)
        self.on_mask = np.zeros(n, dtype=np.int64)
        self.on_index = np.full(n, -1, dtype=np.int64)
        self.on_raw = np.zeros(n, dtype=bool)
        self.roc = {}
        self.roc_ref = {}
        self.roc_raw = {}
        for k, d in enumerate(self.defs):
            if d.alias < 0 or d.alias >= n:
                continue
            if d.condition in LEVELS and d.limit is not None and d.clear is not None:
                j = LEVELS.index(d.condition)
                self.limit_index[d.alias, j] = k
                self.limit[d.alias, j] = d.limit
                # Cleared once back past the limit by the deadband (float slack as the views).
                db = abs(d.limit - d.clear)
                self.clear_margin[d.alias, j] = -db + 1e-9 * max(1.0, abs(d.limit))
            elif d.condition == "on" and d.on:
                self.on_mask[d.alias] = sum(1 << v for v in d.on if 0 <= v < 63)
                self.on_index[d.alias] = k
            elif d.condition == "roc" and d.roc is not None:
                self.roc[d.alias] = (k, d.roc)
        self.safe_lo = np.full(n, -np.inf)
        self.safe_hi = np.full(n, np.inf)
        for alias in np.flatnonzero((self.limit_index >= 0).any(axis=1)):
            self._safe_band(int(alias))
        self._has_limits = bool((self.limit_index >= 0).any())
        self._has_on = bool((self.on_index >= 0).any())

    def evaluate(
        self,
        aliases: npt.NDArray[np.int64],
        times: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        qualities: npt.NDArray[np.uint8] | None,
    ) -> tuple[list[RawChange], list[ModeChange]]:
        """The condition changes and mode changes in one batch (times in s), in time order."""
        if aliases.size == 0:
            return [], []
        if qualities is not None:
            values = np.where(qualities >= _BAD, np.nan, values)  # a Bad value decides nothing
        changes: list[RawChange] = []
        modes = self._modes(aliases, times, values) if self.state_alias >= 0 else []
        if self._has_limits:
            # The common case in a few operations: every value inside the band where none of
            # its tag's limit conditions can change (NaN compares false: it decides nothing).
            outside = (values <= self.safe_lo[aliases]) | (values >= self.safe_hi[aliases])
            if outside.any():
                self._limits(aliases, times, values, changes)
        if self._has_on:
            self._discrete(aliases, times, values, changes)
        if self.roc:
            self._rates(aliases, times, values, changes)
        if len(changes) > 1:
            changes.sort(key=lambda c: c.at)
        return changes, modes

    def _safe_band(self, alias: int) -> None:
        """The open interval of values that change none of ``alias``'s limit conditions."""
        lo, hi = -np.inf, np.inf
        for j in range(4):
            if self.limit_index[alias, j] < 0:
                continue
            limit, margin = float(self.limit[alias, j]), float(self.clear_margin[alias, j])
            high = j < 2
            if not self.limit_raw[alias, j]:  # would enter at the limit
                if high:
                    hi = min(hi, limit)
                else:
                    lo = max(lo, limit)
            elif high:  # would leave once back past the limit by the deadband
                lo = max(lo, limit + margin)
            else:
                hi = min(hi, limit - margin)
        self.safe_lo[alias], self.safe_hi[alias] = lo, hi

    def set_raw(self, alias: int, level: int, raw: bool) -> None:
        """Start a limit condition from a known state (a rebirth, a restored alarm)."""
        self.limit_raw[alias, level] = raw
        self._safe_band(alias)

    # -- the kinds of condition ----------------------------------------------------------------

    def _limits(
        self,
        aliases: npt.NDArray[np.int64],
        times: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        out: list[RawChange],
    ) -> None:
        with np.errstate(invalid="ignore"):
            d = (values[:, None] - self.limit[aliases]) * _DIRECTION
            entered = d >= 0
            left = (d <= self.clear_margin[aliases]) & ~entered
        raw = self.limit_raw[aliases]
        moved = (entered & ~raw) | (left & raw)
        if not moved.any():
            return
        rows, cols = np.nonzero(moved)
        for alias, j in {(int(aliases[r]), int(c)) for r, c in zip(rows, cols, strict=True)}:
            mine = np.flatnonzero(aliases == alias)
            self.limit_raw[alias, j] = _walk(
                bool(self.limit_raw[alias, j]),
                int(self.limit_index[alias, j]),
                mine,
                entered[mine, j],
                left[mine, j],
                times,
                values,
                out,
            )
            self._safe_band(alias)

    def _discrete(
        self,
        aliases: npt.NDArray[np.int64],
        times: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        out: list[RawChange],
    ) -> None:
        mask = self.on_mask[aliases]
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        v = values[rows]
        valid = np.isfinite(v) & (v >= 0) & (v < 63)
        code = np.where(valid, v, 0).astype(np.int64)
        alarm = ((mask[rows] >> code) & 1).astype(bool)
        raw = self.on_raw[aliases[rows]]
        moved = valid & (alarm != raw)
        if not moved.any():
            return
        for alias in {int(a) for a in aliases[rows[moved]]}:
            mine = np.flatnonzero(aliases[rows] == alias)
            self.on_raw[alias] = _walk(
                bool(self.on_raw[alias]),
                int(self.on_index[alias]),
                rows[mine],
                valid[mine] & alarm[mine],
                valid[mine] & ~alarm[mine],
                times,
                values,
                out,
            )

    def _rates(
        self,
        aliases: npt.NDArray[np.int64],
        times: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        out: list[RawChange],
    ) -> None:
        for alias, (index, limit) in self.roc.items():
            rows = np.flatnonzero(aliases == alias)
            for i in rows:
                t, v = _ns(times[i]), float(values[i])
                if not math.isfinite(v):
                    continue
                ref = self.roc_ref.get(alias)
                if ref is None:
                    self.roc_ref[alias] = (t, v)
                    continue
                if t - ref[0] < ROC_WINDOW_NS:
                    continue
                rate = (v - ref[1]) / ((t - ref[0]) / 1e9)
                self.roc_ref[alias] = (t, v)
                active = abs(rate) > limit
                if active != self.roc_raw.get(alias, False):
                    self.roc_raw[alias] = active
                    out.append(RawChange(index, t, active, rate))

    def _modes(
        self,
        aliases: npt.NDArray[np.int64],
        times: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
    ) -> list[ModeChange]:
        out: list[ModeChange] = []
        for i in np.flatnonzero(aliases == self.state_alias):
            v = float(values[i])
            if not math.isfinite(v):
                continue
            k = int(v)
            mode = self.state_labels[k] if 0 <= k < len(self.state_labels) else ""
            if mode != self.mode:
                self.mode = mode
                out.append(ModeChange(_ns(times[i]), mode))
        return out
