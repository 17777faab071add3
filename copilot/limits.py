"""The one limit classifier: where a value sits against its tag's limits, as every view says it.

Contract
--------
* :func:`classify` takes a tag's :class:`~copilot.protocol.TagSpec`, the **unrounded** value,
  the machine's state word (``running``, ``idle``... as the ``state`` tag's labels) and the
  previous verdict of the same tag, and returns a :class:`Verdict`: its ``kind``, a
  ``severity`` (0 normal, 1 warning, 2 critical), the ``direction`` (+1 high, −1 low), a short
  ``glyph`` that tells the kinds apart without colour, and a one-line ``reason``.
* Deadband (ISA-18.2): a condition is entered when the value reaches its threshold and left
  only once the value is back past the threshold by ``spec.deadband``; inside that band the
  previous verdict holds, so a value hovering on a limit does not flap.
* Machine state: a machine that is not producing (idle, stopped, setup, maintenance) is
  expected to sit below its running range (0 rpm, cold, unpressurised): nothing on the low
  side is abnormal then. The high side always counts. A tripped machine (``fault``) is also
  expected below its normal *band*, but its low limits and a value pinned at the bottom of its
  engineering range (``bottom_of_range``: pressure lost, signal gone) are flagged.
* :func:`classify_latest` is what a view calls for the value it shows: the verdict of the latest
  value, decided by the recent samples (the station's ring) only when the value sits inside a
  deadband, so every view that reads the same store says the same thing, whenever it looks.
* :func:`classify_series` classifies a whole series with the same rules (hysteresis along it),
  vectorised where the verdict does not depend on history; a NaN (gap) forgets the history.

Pure: no Qt, no I/O, no clock. Views must not classify values any other way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from copilot.protocol import TagSpec

__all__ = [
    "EXPECTED_LOW_STATES",
    "KINDS",
    "NORMAL",
    "TRIPPED_STATES",
    "Kind",
    "Verdict",
    "classify",
    "classify_latest",
    "classify_series",
]

Kind = Literal[
    "normal",
    "no_value",
    "out_of_normal_high",
    "hi",
    "hihi",
    "top_of_range",
    "out_of_normal_low",
    "lo",
    "lolo",
    "bottom_of_range",
]
KINDS: tuple[Kind, ...] = get_args(Kind)  # every verdict kind, in the order above

# States in which a machine is not producing: below its running range is expected.
EXPECTED_LOW_STATES = frozenset(
    {"idle", "stopped", "stop", "setup", "maintenance", "standby", "off"}
)
# States after a trip: below the normal band is expected, low limits and the range floor count.
TRIPPED_STATES = frozenset({"fault", "tripped", "estop", "emergency_stop"})

_SIDE_KINDS: dict[int, tuple[Kind, Kind, Kind, Kind]] = {
    1: ("out_of_normal_high", "hi", "hihi", "top_of_range"),
    -1: ("out_of_normal_low", "lo", "lolo", "bottom_of_range"),
}
_SEVERITY = {1: 1, 2: 1, 3: 2, 4: 2}  # by rank: band, limit, second limit, end of range
_GLYPHS = {
    "out_of_normal_high": "▲",
    "hi": "▲ H",
    "hihi": "▲▲ HH",
    "top_of_range": "◆ MAX",
    "out_of_normal_low": "▼",
    "lo": "▼ L",
    "lolo": "▼▼ LL",
    "bottom_of_range": "◆ MIN",
}


@dataclass(frozen=True)
class Verdict:
    """Where one value sits against its limits, and why, in words and in a shape."""

    kind: Kind = "normal"
    severity: int = 0  # 0 normal, 1 warning (outside normal / hi-lo), 2 critical
    direction: int = 0  # +1 high, -1 low, 0 neither
    glyph: str = ""  # readable without colour: ▲ / ▲ H / ▲▲ HH / ◆ MAX and the low mirrors
    reason: str = "within its normal range"

    @property
    def abnormal(self) -> bool:
        """Whether an operator should look (anything but normal)."""
        return self.severity > 0

    @property
    def rank(self) -> int:
        """0 normal; 1 outside the band, 2 beyond hi/lo, 3 beyond hihi/lolo, 4 end of range."""
        for kinds in _SIDE_KINDS.values():
            if self.kind in kinds:
                return kinds.index(self.kind) + 1
        return 0


NORMAL = Verdict()
NO_VALUE = Verdict("no_value", reason="no numeric value")


def _num(x: float, unit: str) -> str:
    text = f"{x:.4g}"
    return f"{text} {unit}" if unit else text


@dataclass(frozen=True)
class _Rules:
    """A tag's thresholds per side and rank (None = the condition does not exist)."""

    high: tuple[float | None, float | None, float | None, float | None]
    low: tuple[float | None, float | None, float | None, float | None]
    deadband: float
    verdicts: dict[tuple[int, int], Verdict] = field(default_factory=dict, compare=False)


_RULES_MAX = 8192
_RULES: dict[int, tuple[TagSpec, _Rules]] = {}


def _rules(spec: TagSpec) -> _Rules:
    """The tag's thresholds, computed once per spec object (views classify at ~4 Hz)."""
    found = _RULES.get(id(spec))
    if found is not None and found[0] is spec:
        return found[1]
    rules = _make_rules(spec)
    if len(_RULES) >= _RULES_MAX:  # births replace specs; forget the oldest half
        for key in list(_RULES)[: _RULES_MAX // 2]:
            del _RULES[key]
    _RULES[id(spec)] = (spec, rules)
    return rules


def _make_rules(spec: TagSpec) -> _Rules:
    normal, limits, eng = spec.normal, spec.limits, spec.eng_range
    db = max(0.0, float(spec.deadband)) if math.isfinite(spec.deadband) else 0.0
    top: float | None = None
    bottom: float | None = None
    if eng is not None and normal is not None and eng.hi > eng.lo:
        tol = db if db > 0 else 1e-9 * (eng.hi - eng.lo)
        # The ends of the instrument's span are only abnormal where the band does not reach.
        if normal.hi < eng.hi - tol:
            top = eng.hi - tol
        if normal.lo > eng.lo + tol:
            bottom = eng.lo + tol
    return _Rules(
        high=(
            normal.hi if normal is not None else None,
            limits.hi if limits is not None else None,
            limits.hihi if limits is not None else None,
            top,
        ),
        low=(
            normal.lo if normal is not None else None,
            limits.lo if limits is not None else None,
            limits.lolo if limits is not None else None,
            bottom,
        ),
        deadband=db,
    )


def _eps(threshold: float) -> float:
    """Float slack so that 120.74 is exactly 0.68 past 120.06 (back out of the deadband)."""
    return 1e-9 * max(1.0, abs(threshold))


def _state_class(state: str | None) -> str:
    word = (state or "").strip().lower()
    if word in EXPECTED_LOW_STATES:
        return "expected_low"
    if word in TRIPPED_STATES:
        return "tripped"
    return "running"


def _side_rank(
    thresholds: tuple[float | None, ...], value: float, sign: int, prev_rank: int, db: float
) -> int:
    """The highest rank whose condition holds; a rank held before only clears past the band."""
    best = 0
    for k, threshold in enumerate(thresholds, start=1):
        if threshold is None:
            continue
        d = sign * (value - threshold)  # > 0 beyond the threshold
        strict = k == 1  # the normal band is inclusive; limits are reached at the value
        entered = d > 0 if strict else d >= 0
        held = prev_rank >= k and d > -db + _eps(threshold)
        if entered or held:
            best = k
    return best


def _verdict(spec: TagSpec, rules: _Rules, sign: int, rank: int) -> Verdict:
    found = rules.verdicts.get((sign, rank))
    if found is None:
        found = rules.verdicts[(sign, rank)] = _new_verdict(spec, rules, sign, rank)
    return found


def _new_verdict(spec: TagSpec, rules: _Rules, sign: int, rank: int) -> Verdict:
    kind = _SIDE_KINDS[sign][rank - 1]
    thresholds = rules.high if sign > 0 else rules.low
    threshold = thresholds[rank - 1]
    assert threshold is not None
    unit = spec.unit
    where = "above" if sign > 0 else "below"
    if rank == 1:
        assert spec.normal is not None
        band = f"{_num(spec.normal.lo, '')}–{_num(spec.normal.hi, unit)}"
        reason = f"{where} its normal range {band}"
    elif rank in (2, 3):
        name = {(1, 2): "hi", (1, 3): "hi-hi", (-1, 2): "lo", (-1, 3): "lo-lo"}[(sign, rank)]
        reason = f"{where} its {name} limit {_num(threshold, unit)}"
    else:
        assert spec.eng_range is not None
        end = spec.eng_range.hi if sign > 0 else spec.eng_range.lo
        which = "top" if sign > 0 else "bottom"
        reason = f"at the {which} of its instrument range ({_num(end, unit)})"
    return Verdict(kind, _SEVERITY[rank], sign, _GLYPHS[kind], reason)


def _low_floor(state_class: str) -> int:
    """Low-side ranks below this do not count in this state (5 = nothing counts)."""
    return {"expected_low": 5, "tripped": 2}.get(state_class, 1)


_EXPECTED = {
    "expected_low": Verdict(reason="below its running range, as expected when not running"),
    "tripped": Verdict(reason="below its running range, as expected after a trip"),
}


def classify(
    spec: TagSpec,
    value: float | int | bool | str | None,
    state: str | None = "running",
    previous: Verdict | None = None,
) -> Verdict:
    """The verdict on one unrounded value of ``spec`` while the machine is in ``state``.

    Args:
        spec: the tag's BIRTH metadata (normal range, limits, engineering range, deadband).
        value: the value as received (never the rounded text); non-numbers are ``no_value``.
        state: the machine's state word (``running``, ``idle``, ``fault``...); None = running.
        previous: this tag's previous verdict, for the deadband (None = no history).

    """
    if value is None or isinstance(value, bool | str):
        return NO_VALUE
    number = float(value)
    if not math.isfinite(number):
        return NO_VALUE
    prev = previous or NORMAL
    prev_high = prev.rank if prev.direction > 0 else 0
    prev_low = prev.rank if prev.direction < 0 else 0
    return _judge(spec, _rules(spec), number, _state_class(state), prev_high, prev_low)


def _judge(
    spec: TagSpec, rules: _Rules, number: float, state_class: str, prev_high: int, prev_low: int
) -> Verdict:
    high = _side_rank(rules.high, number, 1, prev_high, rules.deadband)
    if high:
        return _verdict(spec, rules, 1, high)
    low = _side_rank(rules.low, number, -1, prev_low, rules.deadband)
    if not low:
        return NORMAL
    if low < _low_floor(state_class):
        return _EXPECTED[state_class]
    return _verdict(spec, rules, -1, low)


def classify_series(
    spec: TagSpec, values: npt.ArrayLike, state: str | None = "running"
) -> list[Verdict]:
    """The verdict of every sample of a series, with the deadband carried along it.

    A NaN (a gap, a Bad sample) is ``no_value`` and forgets the history. Samples whose verdict
    does not depend on history are classified with numpy; only those inside a deadband are
    walked in order.
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n == 0:
        return []
    rules = _rules(spec)
    entered, ambiguous = _ranks(rules, v)
    finite = np.isfinite(v)
    state_class = _state_class(state)
    floor = _low_floor(state_class)

    def make(sign: int, rank: int) -> Verdict:
        if rank == 0:
            return NORMAL
        if sign < 0 and rank < floor:
            return _EXPECTED[state_class]
        return _verdict(spec, rules, sign, rank)

    out: list[Verdict] = []
    prev = NORMAL
    amb = ambiguous.tolist()
    fin = finite.tolist()
    hi_rank = entered[1].tolist()
    lo_rank = entered[-1].tolist()
    for i in range(n):
        if not fin[i]:
            verdict = NO_VALUE
            prev = NORMAL
        elif amb[i]:
            verdict = classify(spec, float(v[i]), state, prev)
            prev = verdict
        else:
            verdict = make(1, hi_rank[i]) if hi_rank[i] else make(-1, lo_rank[i])
            prev = verdict
        out.append(verdict)
    return out


def _settled(spec: TagSpec, number: float, state: str | None) -> Verdict | None:
    """The verdict if no history can change it (the value is outside every deadband)."""
    rules = _rules(spec)
    state_class = _state_class(state)
    fresh = _judge(spec, rules, number, state_class, 0, 0)
    # A previous verdict holds every rank up to its own: the ends of range hold the most.
    if _judge(spec, rules, number, state_class, 4, 0) is not fresh:
        return None
    if _judge(spec, rules, number, state_class, 0, 4) is not fresh:
        return None
    return fresh


def _ranks(
    rules: _Rules, v: npt.NDArray[np.float64]
) -> tuple[dict[int, npt.NDArray[np.int8]], npt.NDArray[np.bool_]]:
    """Per side, the rank each sample enters without history; and where history matters."""
    n = v.size
    db = rules.deadband
    entered = {1: np.zeros(n, np.int8), -1: np.zeros(n, np.int8)}
    reach = {1: np.zeros(n, np.int8), -1: np.zeros(n, np.int8)}
    with np.errstate(invalid="ignore"):
        for sign, thresholds in ((1, rules.high), (-1, rules.low)):
            for k, threshold in enumerate(thresholds, start=1):
                if threshold is None:
                    continue
                d = sign * (v - threshold)
                hit = d > 0 if k == 1 else d >= 0
                entered[sign][hit] = k
                reach[sign][d > -db + _eps(threshold)] = k
    ambiguous = np.isfinite(v) & (
        (entered[1] != reach[1]) | ((entered[1] == 0) & (entered[-1] != reach[-1]))
    )
    return entered, ambiguous


def classify_latest(
    spec: TagSpec,
    value: float | int | bool | str | None,
    state: str | None = "running",
    recent: Callable[[], npt.ArrayLike] | None = None,
) -> Verdict:
    """The verdict on the value a view shows now, the same in every view.

    Args:
        spec: the tag's BIRTH metadata.
        value: the latest value (unrounded).
        state: the machine's state word.
        recent: called only when ``value`` sits inside a deadband: the tag's recent samples,
            oldest first, ending with ``value`` (NaN for gaps), e.g.
            ``lambda: store.window(machine, tag, now - 300)[1]`` (``value`` is appended when
            they do not end with it). Without it, the value is judged without history.

    """
    if value is None or isinstance(value, bool | str):
        return NO_VALUE
    number = float(value)
    if not math.isfinite(number):
        return NO_VALUE
    settled = _settled(spec, number, state)
    if settled is not None:
        return settled
    if recent is None:
        return classify(spec, number, state, None)
    samples = np.asarray(recent(), dtype=np.float64)
    if samples.size == 0 or samples[-1] != number:
        samples = np.append(samples, number)
    # Walk only from the last sample whose verdict needed no history (or from a gap).
    _entered, ambiguous = _ranks(_rules(spec), samples)
    decided = np.flatnonzero(~ambiguous)
    start = int(decided[-1]) if decided.size else 0
    previous: Verdict | None = None
    for x in samples[start:].tolist():
        previous = classify(spec, x, state, previous)
    assert previous is not None
    return previous
