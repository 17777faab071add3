"""Alarm-load KPIs, the flood rule and meter, and ``copilot alarms report``, on known histories."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.alarms.flood import FloodMeter, FloodRule, flood_intervals

S = 1_000_000_000  # ns per second
MIN = 60 * S
T0 = 1_796_112_000 * S  # 2026-12-01T08:00:00Z


def at(seconds: float) -> int:
    """T0 plus ``seconds``, in ns."""
    return T0 + round(seconds * S)


# -- flood rule and intervals --------------------------------------------------------------------


def test_flood_starts_at_the_11th_raise_and_ends_when_fewer_than_5_remain() -> None:
    raises = [at(10 * i) for i in range(11)]  # 0, 10, ..., 100 s
    # Ten in the window is not a flood; the 11th makes it one. Raise k (at 10k s) leaves at
    # 600 + 10k s: after 7 have left (raise 6 at 660 s) 4 remain, fewer than 5.
    assert flood_intervals(raises[:10], FloodRule()) == []
    assert flood_intervals(raises, FloodRule()) == [(at(100), at(660))]


def test_flood_window_is_half_open_raises_exactly_one_window_apart_never_meet() -> None:
    exactly = [at(0)] + [at(600 - 10 + i) for i in range(9)] + [at(600)]
    assert flood_intervals(exactly, FloodRule()) == []  # at 600 s the first has just left
    just_inside = [*exactly[:-1], at(600) - 1]
    # 11 at 600 s - 1 ns; the first leaves at 600 s (10) and 590..595 s at 1190..1195 s (4).
    assert flood_intervals(just_inside, FloodRule()) == [(at(600) - 1, at(1195))]


def test_flood_hysteresis_holds_between_5_and_10_and_until_cuts_an_open_flood() -> None:
    burst = [at(i) for i in range(11)]  # flood from 10 s
    # A raise each 100 s from 100 s: once the burst has left (610 s) 6 remain in the window,
    # not above 10 but not below 5 either, so the flood holds.
    trickle = [at(100 * i) for i in range(1, 18)]  # 100 .. 1700 s
    intervals = flood_intervals(burst + trickle, FloodRule())
    # The trickle stops at 1700 s: 1200 s leaves at 1800 s (5), 1300 s at 1900 s (4).
    assert intervals == [(at(10), at(1900))]
    assert flood_intervals(burst + trickle, FloodRule(), until=at(1000)) == [(at(10), at(1000))]
    assert flood_intervals(burst, FloodRule(), until=at(10)) == []  # starts at until: not yet


def test_flood_intervals_takes_unsorted_times_and_ties() -> None:
    rule = FloodRule(window_s=10, start_above=2, end_below=2)
    # Three at once: flood at 0; at 10 s all three leave as two arrive together: 2, not < 2.
    raises = [at(10), at(0), at(0), at(10), at(0)]
    assert flood_intervals(raises, rule) == [(at(0), at(20))]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"window_s": 0}, "positive"),
        ({"end_below": 0}, "between 1 and"),
        ({"start_above": 4, "end_below": 6}, re.escape("between 1 and start_above + 1 (5)")),
    ],
)
def test_flood_rule_refuses_rules_that_cannot_work(kwargs: dict[str, float], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        FloodRule(**kwargs)  # type: ignore[arg-type]


# -- live meter ----------------------------------------------------------------------------------


def test_meter_rate_flood_and_summary_follow_the_window() -> None:
    meter = FloodMeter()
    for i in range(11):
        meter.add(at(10 * i), "Line 2" if i < 8 else "Line 1")
    meter.add(at(100), "")
    assert meter.rate(at(100)) == 12
    assert meter.by_area(at(100)) == {"Line 2": 8, "Line 1": 3, "": 1}
    assert meter.in_flood(at(100)) and meter.since == at(100)
    assert meter.summary(at(100)) == "12 alarms in 10 min, 8 from Line 2"
    # 660 s: raises 0..60 s have left (7); 5 remain, so the flood holds; 670 s: 4, it ends.
    assert meter.rate(at(660)) == 5 and meter.in_flood(at(660))
    assert not meter.in_flood(at(670)) and meter.since is None
    assert meter.summary(at(670)) == "4 alarms in 10 min, 3 from Line 1"
    assert meter.summary(at(800)) == "0 alarms in 10 min"


def test_meter_summary_names_the_area_when_it_is_all_of_them() -> None:
    meter = FloodMeter(FloodRule(window_s=90))
    meter.add(at(0), "Press hall")
    assert meter.summary(at(1)) == "1 alarm in 90 s, all from Press hall"


def test_meter_memory_holds_only_the_window() -> None:
    meter = FloodMeter()
    for i in range(10_000):
        meter.add(at(i), "a")  # one a second for ~2.8 h
    assert meter.rate(at(9_999)) == 600
    assert len(meter._times) <= 601


def test_meter_late_raise_counts_but_starts_a_flood_only_from_when_it_arrives() -> None:
    meter = FloodMeter(FloodRule(window_s=10, start_above=3, end_below=1))
    for t in (0, 1, 2):
        meter.add(at(t))
    assert meter.rate(at(11)) == 1  # settled up to 11 s: 0 and 1 s have left
    # Had it come in time, a raise at 2.5 s would have made 4 and a flood from 2.5 s to 12.5 s.
    meter.add(at(2.5))
    assert meter.rate(at(11)) == 2 and not meter.in_flood(at(11))
    assert flood_intervals([at(t) for t in (0, 1, 2, 2.5)], meter.rule) == [(at(2.5), at(12.5))]
    meter.add(at(-5))  # older than a whole window before 11 s: ignored
    assert meter.rate(at(11)) == 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=40))
def test_meter_agrees_with_flood_intervals(seconds: list[int]) -> None:
    rule = FloodRule(window_s=5, start_above=3, end_below=2)
    raises = sorted(at(s) for s in seconds)
    intervals = flood_intervals(raises, rule)
    meter = FloodMeter(rule)
    for t in range(0, 50):
        for r in raises:
            if r == at(t):
                meter.add(r)
        expected = [s for s, e in intervals if s <= at(t) < e]
        assert meter.in_flood(at(t)) == bool(expected), t
        assert meter.since == (expected[0] if expected else None)
        assert meter.rate(at(t)) == sum(1 for r in raises if at(t - 5) < r <= at(t))
