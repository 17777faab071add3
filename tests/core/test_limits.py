"""The one limit classifier (copilot/limits.py): deadband, unrounded values, machine state."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.limits import KINDS, NORMAL, Verdict, classify, classify_latest, classify_series
from copilot.protocol import Limits, Range, TagSpec
from copilot.sim.models import STATE_LABELS, Compressor

# The case: a low band edge at 120.06 with a 0.68 deadband (120.06–120.74 is sticky).
OVEN = TagSpec(
    name="zone_temp_c",
    alias=1,
    unit="°C",
    eng_range=Range(0, 300),
    normal=Range(120.06, 180.0),
    limits=Limits(lo=110.0, hi=190.0, hihi=200.0),
    deadband=0.68,
)


def _compressor_specs() -> dict[str, TagSpec]:
    machine = Compressor(1, line="line-2", seed=(4, 3))
    return {t.name: t for t in machine.tags}


COMPRESSOR = _compressor_specs()
PRESSURE = COMPRESSOR["discharge_pressure_bar"]  # eng 0–12, normal 6.2–8.0, lolo 5 lo 6


def test_the_simulators_states_are_known_words() -> None:
    from copilot.limits import EXPECTED_LOW_STATES, TRIPPED_STATES

    for state in STATE_LABELS:
        assert state == "running" or state in EXPECTED_LOW_STATES | TRIPPED_STATES


def test_unrounded_value_inside_the_band_is_normal() -> None:
    # A tile rounding 120.4 to "120" judged it below 120.06; the value itself is inside.
    verdict = classify(OVEN, 120.4, "running")
    assert verdict == NORMAL and not verdict.abnormal
    assert classify(OVEN, 120.05, "running").kind == "out_of_normal_low"


def test_deadband_holds_a_verdict_inside_the_band() -> None:
    seq = [120.0, 120.4, 120.7, 120.3, 120.74, 120.5, 120.1, 120.06, 120.0]
    kinds = []
    previous: Verdict | None = None
    for value in seq:
        previous = classify(OVEN, value, "running", previous)
        kinds.append(previous.kind)
    low = "out_of_normal_low"
    # Entered at 120.0, held inside 120.06–120.74, left at 120.74, re-entered only below 120.06.
    assert kinds == [low, low, low, low, "normal", "normal", "normal", "normal", low]


def test_deadband_on_limits_and_escalation() -> None:
    seq = [185.0, 190.0, 189.5, 200.2, 199.5, 199.0, 189.0, 188.0]
    kinds = []
    previous: Verdict | None = None
    for value in seq:
        previous = classify(OVEN, value, "running", previous)
        kinds.append(previous.kind)
    assert kinds == [
        "out_of_normal_high",
        "hi",
        "hi",  # within 0.68 of the hi limit: held
        "hihi",
        "hihi",  # held
        "hi",  # 199.0 is more than the deadband below 200
        "out_of_normal_high",  # 189.0 < 190 - 0.68
        "out_of_normal_high",
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(120.06, 120.7399), min_size=1, max_size=40), st.booleans())
def test_no_flapping_inside_the_deadband(values: list[float], start_low: bool) -> None:
    previous = classify(OVEN, 119.0 if start_low else 125.0, "running")
    first = previous.kind
    for value in values:
        previous = classify(OVEN, value, "running", previous)
        assert previous.kind == first


def test_idle_machine_is_not_abnormal_below_its_running_range() -> None:
    # An idle compressor sits unloaded at 6.0 bar: below its band and on its lo limit.
    assert classify(PRESSURE, 6.0, "running").kind == "lo"
    idle = classify(PRESSURE, 6.0, "idle")
    assert not idle.abnormal and "expected" in idle.reason
    for state in ("idle", "setup", "maintenance", "stopped", "IDLE"):
        for name, spec in COMPRESSOR.items():
            if spec.type == "float" and spec.eng_range is not None:
                v = classify(spec, spec.eng_range.lo, state)
                assert not v.abnormal, (state, name, v)
    # The high side always counts.
    temp = COMPRESSOR["discharge_temp_c"]
    assert classify(temp, 112.0, "idle").kind == "hihi"
    assert classify(PRESSURE, 9.2, "idle").kind == "hihi"


def test_bottom_of_range_after_a_trip_is_flagged() -> None:
    verdict = classify(PRESSURE, 0.0, "fault")
    assert verdict.kind == "bottom_of_range" and verdict.severity == 2
    assert verdict.glyph == "◆ MIN" and "bottom" in verdict.reason
    assert classify(PRESSURE, 0.0, "running").kind == "bottom_of_range"
    # After a trip, below the normal band alone is expected; the lo limits still count.
    assert not classify(PRESSURE, 6.1, "fault").abnormal
    assert classify(PRESSURE, 5.5, "fault").kind == "lo"
    assert classify(PRESSURE, 4.0, "fault").kind == "lolo"
    # A tag whose band reaches the bottom of its range (power, 0–85 of 0–120 kW) is fine at 0.
    assert not classify(COMPRESSOR["power_kw"], 0.0, "fault").abnormal
    assert not classify(COMPRESSOR["energy_kwh"], 0.0, "running").abnormal


def test_top_of_range() -> None:
    verdict = classify(PRESSURE, 12.0, "idle")
    assert verdict.kind == "top_of_range" and verdict.direction == 1 and verdict.severity == 2


def test_no_value() -> None:
    for value in (None, math.nan, math.inf, True, "running"):
        verdict = classify(PRESSURE, value, "running")
        assert verdict.kind == "no_value" and not verdict.abnormal


def test_every_kind_has_a_distinct_shape() -> None:
    glyphs: dict[str, str] = {}
    for value, state in ((7, "running"), (8.2, "running"), (8.6, "running"), (9.5, "running"),
                         (12, "running"), (6.1, "running"), (5.5, "running"), (4, "running"),
                         (0, "running")):  # fmt: skip
        verdict = classify(PRESSURE, float(value), state)
        glyphs[verdict.kind] = verdict.glyph
    abnormal = {k: g for k, g in glyphs.items() if k != "normal"}
    assert len(abnormal) == 8 and len(set(abnormal.values())) == 8
    assert all(g for g in abnormal.values())
    assert set(glyphs) <= set(KINDS)


def test_severity_grows_away_from_the_band() -> None:
    values = np.linspace(8.0, 12.0, 200)
    ranks = [classify(PRESSURE, float(v), "running").rank for v in values]
    assert ranks == sorted(ranks) and ranks[-1] == 4


series_values = st.lists(
    st.one_of(st.floats(-1.0, 13.0), st.just(math.nan), st.sampled_from([6.0, 6.2, 8.5, 9.0])),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(series_values, st.sampled_from(["running", "idle", "fault"]))
def test_series_is_the_step_by_step_verdict(values: list[float], state: str) -> None:
    spec = TagSpec(
        name="p",
        alias=1,
        unit="bar",
        eng_range=Range(0, 12),
        normal=Range(6.2, 8.0),
        limits=Limits(lolo=5.0, lo=6.0, hi=8.5, hihi=9.0),
        deadband=0.3,
    )
    expected: list[Verdict] = []
    previous: Verdict | None = None
    for value in values:
        verdict = classify(spec, value, state, previous)
        expected.append(verdict)
        previous = None if verdict.kind == "no_value" else verdict
    assert classify_series(spec, values, state) == expected


@settings(max_examples=200, deadline=None)
@given(series_values, st.sampled_from(["running", "idle", "fault"]))
def test_latest_is_the_last_verdict_of_the_series(values: list[float], state: str) -> None:
    spec = TagSpec(
        name="p",
        alias=1,
        eng_range=Range(0, 12),
        normal=Range(6.2, 8.0),
        limits=Limits(lolo=5.0, lo=6.0, hi=8.5, hihi=9.0),
        deadband=0.3,
    )
    values = [*values, 7.9]  # the series ends with a value the view shows
    calls: list[int] = []

    def recent() -> list[float]:
        calls.append(1)
        return values

    assert (
        classify_latest(spec, values[-1], state, recent) == classify_series(spec, values, state)[-1]
    )


def test_latest_needs_history_only_inside_a_deadband() -> None:
    def fail() -> list[float]:
        raise AssertionError("history was not needed")

    assert classify_latest(OVEN, 150.0, "running", fail) == NORMAL
    assert classify_latest(OVEN, 100.0, "running", fail).kind == "lo"
    # 120.4: low after 119.9, normal after 125.
    assert classify_latest(OVEN, 120.4, "running", lambda: [119.9, 120.2, 120.4]).kind == (
        "out_of_normal_low"
    )
    assert classify_latest(OVEN, 120.4, "running", lambda: [125.0, 120.2, 120.4]) == NORMAL
    assert classify_latest(OVEN, 120.4, "running", lambda: [119.9, math.nan, 120.4]) == NORMAL
    assert classify_latest(OVEN, 120.4, "running") == NORMAL
    assert classify_latest(OVEN, None, "running", fail).kind == "no_value"


@pytest.mark.parametrize("deadband", [0.0, math.nan, -1.0])
def test_without_a_deadband_thresholds_are_exact(deadband: float) -> None:
    spec = TagSpec(name="x", alias=1, normal=Range(0, 10), limits=Limits(hi=12), deadband=deadband)
    previous = classify(spec, 12.0)
    assert previous.kind == "hi"
    assert classify(spec, 11.999, previous=previous).kind == "out_of_normal_high"
    assert classify(spec, 10.0, previous=previous) == NORMAL
