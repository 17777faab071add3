"""Alarm-load KPIs, the flood rule and meter, and ``copilot alarms report``, on known histories."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.alarms.flood import FloodMeter, FloodRule, flood_intervals
from copilot.alarms.journal import Occurrence, journal_path, open_journal, read_occurrences
from copilot.alarms.kpi import BadActor, KpiDefinitions, compute_kpis
from copilot.protocol.messages import PRIORITIES

S = 1_000_000_000  # ns per second
MIN = 60 * S
T0 = 1_796_112_000 * S  # 2026-12-01T08:00:00Z


HOUR = 3600


def at(seconds: float) -> int:
    """T0 plus ``seconds``, in ns."""
    return T0 + round(seconds * S)


_ids = iter(range(1, 1_000_000))


def occ(
    alarm: str,
    raised: int,
    cleared: int | None = None,
    *,
    acked: int | None = None,
    ended: int | None = None,
    priority: str = "low",
    suppressed: bool = False,
    shelved: bool = False,
    machine: str = "",
) -> Occurrence:
    """One journaled occurrence (times in ns)."""
    machine = machine or alarm.split("/")[0]
    return Occurrence(
        id=next(_ids),
        alarm=alarm,
        machine=machine,
        area="Line 1",
        line="1",
        tag=alarm.split("/")[1] if "/" in alarm else "t",
        condition="hi",
        priority=priority,
        message="",
        raised_at=raised,
        cleared_at=cleared,
        acked_at=acked,
        acked_by=None if acked is None else "ana",
        ended_at=ended,
        value=None,
        limit=None,
        suppressed=suppressed,
        shelved=shelved,
        first_out=False,
        note="",
    )


def spread(alarm: str, n: int, start_s: float = 0, every_s: float = 700, **kw: object) -> list:
    """``n`` raises of ``alarm`` ``every_s`` apart (700 s: never two in one 10-minute window)."""
    return [occ(alarm, at(start_s + i * every_s), **kw) for i in range(n)]  # type: ignore[arg-type]


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


# -- KPIs ----------------------------------------------------------------------------------------

REPORT_KEYS = {
    "since_ns", "until_ns", "total_alarms", "average_rate_per_10min", "peak_10min",
    "time_in_flood_pct", "top10_share_pct", "bad_actors", "chattering", "chattering_alarms",
    "fleeting", "stale", "priority_distribution", "standing", "shelved", "mean_time_to_ack_s",
    "suppressed", "definitions",
}  # fmt: skip
CLI_KEYS = REPORT_KEYS | {"anomaly_feedback"}  # the CLI adds the operators' anomaly verdicts


def test_empty_period_has_every_key_and_zero_figures() -> None:
    out = compute_kpis([], at(0), at(HOUR)).to_dict()
    assert set(out) == REPORT_KEYS
    assert json.loads(json.dumps(out)) == out
    assert out["total_alarms"] == out["peak_10min"] == out["standing"] == 0
    assert out["average_rate_per_10min"] == 0.0 and out["mean_time_to_ack_s"] is None
    assert out["priority_distribution"] == dict.fromkeys(PRIORITIES, 0.0)
    assert out["bad_actors"] == [] and out["chattering_alarms"] == []
    assert out["definitions"] == {
        "chatter_raises": 3,
        "chatter_window_s": 60.0,
        "fleeting_s": 1.0,
        "stale_s": 86400.0,
        "flood": {"window_s": 600.0, "start_above": 10, "end_below": 5},
    }


def test_average_rate_counts_the_period_only() -> None:
    history = [*spread("m/a/hi", 12, start_s=0, every_s=600), occ("m/a/hi", at(-1))]
    kpis = compute_kpis([*history, occ("m/a/hi", at(2 * HOUR))], at(0), at(2 * HOUR))
    assert kpis.total_alarms == 12  # the raise before since and the one at until are outside
    assert kpis.average_rate_per_10min == 1.0  # 12 in 2 h = 12 ten-minute spans


def test_peak_window_slides_across_a_bucket_boundary() -> None:
    # Fixed 10-minute buckets [8:00, 8:10) and [8:10, 8:20) hold 4 and 3; a sliding window
    # holds 6 (8:06..8:12). 8:06 and 8:16 are exactly 10 min apart: never in one window.
    minutes = [6, 7, 8, 9, 11, 12, 16]
    history = [occ(f"m/t{i}/hi", at(60 * m)) for i, m in enumerate(minutes)]
    assert compute_kpis(history, at(0), at(HOUR)).peak_10min == 6
    history.append(occ("m/x/hi", at(60 * 16) - 1))  # 8:06 to 8:15:59.999…: 7 in a window
    assert compute_kpis(history, at(0), at(HOUR)).peak_10min == 7


def test_time_in_flood_from_the_11th_raise_until_fewer_than_5() -> None:
    history = [occ(f"m/t{i}/hi", at(10 * i)) for i in range(11)]  # flood 100 s → 660 s
    kpis = compute_kpis(history, at(0), at(HOUR))
    assert kpis.time_in_flood_pct == pytest.approx(100 * 560 / 3600, rel=1e-12)
    assert compute_kpis(history[:10], at(0), at(HOUR)).time_in_flood_pct == 0.0
    # Cut at until: a flood still open at 5 min lasted 200 s of the 300 s.
    assert compute_kpis(history, at(0), at(300)).time_in_flood_pct == pytest.approx(200 / 3)


def test_a_flood_that_began_before_since_carries_into_the_period() -> None:
    # 11 raises at -110 .. -10 s: flood from -10 s; -50 s leaves at 550 s, leaving 4.
    history = [occ(f"m/t{i}/hi", at(-110 + 10 * i)) for i in range(11)]
    kpis = compute_kpis(history, at(0), at(HOUR))
    assert kpis.total_alarms == 0 and kpis.peak_10min == 0
    assert kpis.time_in_flood_pct == pytest.approx(100 * 550 / 3600, rel=1e-12)


def test_chattering_needs_3_raises_less_than_60_s_apart() -> None:
    history = [
        *(occ("m/chatter/hi", at(t)) for t in (0, 30, 59.999)),
        *(occ("m/almost/hi", at(t)) for t in (0, 30, 60)),  # exactly 60 s: not quite
        *(occ("m/twice/hi", at(t)) for t in (0, 0.5)),  # only two
        *(occ("m/slow/hi", at(t)) for t in (0, 40, 80, 119)),  # 4 in 2 min, no 3 within 60 s
        *(occ(f"m/other{i}/hi", at(t)) for i, t in enumerate((1, 2))),  # 3 alarms, one each
        occ("m/other0/hi", at(3000)),
        *(occ("m/later/hi", at(t)) for t in (100, 110, 120, 125)),  # 4 within 25 s: one alarm
    ]
    kpis = compute_kpis(history, at(0), at(HOUR))
    assert kpis.chattering == 2
    assert kpis.chattering_alarms == ("m/chatter/hi", "m/later/hi")
    strict = KpiDefinitions(chatter_raises=4, chatter_window_s=120)
    assert compute_kpis(history, at(0), at(HOUR), strict).chattering_alarms == (
        "m/later/hi",
        "m/slow/hi",
    )


def test_fleeting_is_active_for_less_than_1_s_as_known_at_until() -> None:
    history = [
        occ("m/a/hi", at(0), at(0) + S - 1),  # 0.999999999 s: fleeting
        occ("m/b/hi", at(10), at(11)),  # exactly 1 s: not
        occ("m/c/hi", at(20)),  # never cleared: not
        occ("m/d/hi", at(HOUR) - S // 2, at(HOUR) + S // 4),  # clears after until: not yet
        occ("m/e/hi", at(30), None, ended=at(30) + 1),  # ended without a clear: not a clear
    ]
    kpis = compute_kpis(history, at(0), at(HOUR))
    assert kpis.fleeting == 1
    assert kpis.standing == 2  # c, and d (it was still active at until)


def test_stale_counts_an_open_occurrence_from_its_raise_to_until() -> None:
    until = 25 * HOUR
    history = [
        occ("m/open25h/hi", at(0)),  # open: 25 h at until → stale, standing
        occ("m/open24h/hi", at(HOUR)),  # open: exactly 24 h → not stale, standing
        occ("m/long/hi", at(0), at(24 * HOUR + 1)),  # 24 h + 1 s, cleared → stale
        occ("m/short/hi", at(10), at(20)),
        occ("m/older/hi", at(-48 * HOUR)),  # raised before since, still open: stale, standing
        occ("m/gone/hi", at(-48 * HOUR), at(-1 * HOUR)),  # stale, but over before since
        occ("m/across/hi", at(-30 * HOUR), at(HOUR)),  # 31 h, active into the period: stale
        occ("m/past/hi", at(0), at(until + HOUR)),  # clears after until: 25 h at until, stale
    ]
    kpis = compute_kpis(history, at(0), at(until))
    assert kpis.stale == 5  # open25h, long, older, across, past
    assert kpis.standing == 4  # open25h, open24h, older, past
    assert kpis.total_alarms == 5  # the three raised before since are no load of this period


def test_mean_time_to_ack_over_acknowledged_occurrences_only() -> None:
    history = [
        occ("m/a/hi", at(0), acked=at(10)),
        occ("m/b/hi", at(100), at(101), acked=at(120)),
        occ("m/c/hi", at(200), acked=at(245)),
        occ("m/d/hi", at(300)),  # never acknowledged
        occ("m/e/hi", at(HOUR - 5), acked=at(HOUR + 500)),  # acknowledged after until
    ]
    assert compute_kpis(history, at(0), at(HOUR)).mean_time_to_ack_s == 25.0  # (10+20+45)/3
    assert compute_kpis(history[3:], at(0), at(HOUR)).mean_time_to_ack_s is None


def test_top10_share_and_bad_actors_with_12_alarms() -> None:
    counts = [20, 15, 10, 8, 7, 6, 5, 4, 3, 2, 2, 1]  # 83 raises; a10 and a11 tie at 2
    # a11 is raised before a10 (start_s = 100 - i): the tie goes by id, not by who came first.
    history = [
        o for i, n in enumerate(counts, 1) for o in spread(f"m/a{i:02d}/hi", n, start_s=100 - i)
    ]
    kpis = compute_kpis(history, at(0), at(24 * HOUR))
    assert kpis.total_alarms == 83
    assert kpis.top10_share_pct == pytest.approx(100 * 80 / 83, rel=1e-12)
    assert [b.alarm for b in kpis.bad_actors] == [f"m/a{i:02d}/hi" for i in range(1, 11)]
    assert kpis.bad_actors[0] == BadActor("m/a01/hi", 20, pytest.approx(100 * 20 / 83))
    assert [b.count for b in kpis.bad_actors] == counts[:10]  # a11 loses the tie by name


def test_priority_distribution_has_every_priority() -> None:
    history = [
        *spread("m/low/hi", 8, priority="low"),
        occ("m/med/hi", at(1), priority="medium"),
        occ("m/high/hi", at(2), priority="high"),
        occ("m/odd/hi", at(3), priority="urgent"),  # not a known priority: still counted
        occ("m/sup/hi", at(4), priority="critical", suppressed=True),
    ]
    dist = compute_kpis(history, at(0), at(24 * HOUR)).priority_distribution
    assert list(dist) == [*PRIORITIES, "urgent"]
    assert dist == pytest.approx(
        {
            "critical": 0,
            "high": 100 / 11,
            "medium": 100 / 11,
            "low": 800 / 11,
            "diagnostic": 0,
            "urgent": 100 / 11,
        }
    )


def test_shelved_counts_occurrences_that_were_shelved() -> None:
    history = [occ("m/a/hi", at(0), shelved=True), occ("m/b/hi", at(1)), occ("m/c/hi", at(-1))]
    history.append(occ("m/d/hi", at(2), shelved=True, suppressed=True))
    assert compute_kpis(history, at(0), at(HOUR)).shelved == 1


def load_and_suppressed() -> tuple[list[Occurrence], list[Occurrence]]:
    """An ordinary hour and, on top, suppressed occurrences that would change every figure."""
    load = [
        occ("m/a/hi", at(0), at(5), acked=at(30), priority="high"),
        occ("m/b/hi", at(700), at(710), acked=at(760), shelved=True),
        occ("m/c/hi", at(1400)),
    ]
    suppressed = [
        *(occ("m/s/hi", at(100 + t), at(100 + t) + 1, acked=at(101 + t), shelved=True,
              priority="critical", suppressed=True) for t in range(20)),
        occ("m/stale/hi", at(-30 * HOUR), suppressed=True),
    ]  # fmt: skip
    return load, suppressed


def test_suppressed_occurrences_are_no_load_but_are_counted() -> None:
    load, suppressed = load_and_suppressed()
    alone = compute_kpis(load, at(0), at(HOUR))
    both = compute_kpis(load + suppressed, at(0), at(HOUR))
    assert both == dataclasses.replace(alone, suppressed=20)  # the one before since: not
    assert alone.suppressed == 0
    # Had they been load, every figure would differ: the test above can fail.
    loud = [dataclasses.replace(o, suppressed=False) for o in suppressed]
    other = compute_kpis(load + loud, at(0), at(HOUR)).to_dict()
    for key in ("total_alarms", "peak_10min", "time_in_flood_pct", "chattering", "fleeting",
                "stale", "standing", "shelved", "mean_time_to_ack_s", "priority_distribution",
                "bad_actors", "average_rate_per_10min"):  # fmt: skip
        assert other[key] != alone.to_dict()[key], key


def test_known_hour_every_figure() -> None:
    load, suppressed = load_and_suppressed()
    out = compute_kpis(load + suppressed, at(0), at(HOUR)).to_dict()
    assert out == {
        "since_ns": at(0),
        "until_ns": at(HOUR),
        "total_alarms": 3,
        "average_rate_per_10min": 0.5,
        "peak_10min": 1,
        "time_in_flood_pct": 0.0,
        "top10_share_pct": 100.0,
        "bad_actors": [
            {"alarm": f"m/{x}/hi", "count": 1, "share_pct": pytest.approx(100 / 3)} for x in "abc"
        ],
        "chattering": 0,
        "chattering_alarms": [],
        "fleeting": 0,
        "stale": 0,
        "priority_distribution": {
            "critical": 0.0,
            "high": pytest.approx(100 / 3),
            "medium": 0.0,
            "low": pytest.approx(200 / 3),
            "diagnostic": 0.0,
        },
        "standing": 1,
        "shelved": 1,
        "mean_time_to_ack_s": 45.0,  # 30 s and 60 s
        "suppressed": 20,
        "definitions": KpiDefinitions().to_dict(),
    }


def test_compute_kpis_refuses_an_empty_period() -> None:
    with pytest.raises(ValueError, match="must end after it starts"):
        compute_kpis([], at(10), at(10))


# -- the journal and the command line ------------------------------------------------------------

_INSERT = (
    "INSERT INTO occurrence (alarm, machine, area, line, tag, condition, priority, message,"
    " raised_at, cleared_at, acked_at, acked_by, ended_at, value, limit_value, suppressed,"
    " shelved, first_out, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def write_journal(data_dir: Path, history: Sequence[Occurrence]) -> Path:
    """A real journal file in ``data_dir`` holding ``history``."""
    path = journal_path(data_dir)
    conn = open_journal(path)
    try:
        conn.execute("BEGIN")
        conn.executemany(
            _INSERT,
            [
                (o.alarm, o.machine, o.area, o.line, o.tag, o.condition, o.priority, o.message,
                 o.raised_at, o.cleared_at, o.acked_at, o.acked_by, o.ended_at, o.value, o.limit,
                 int(o.suppressed), int(o.shelved), int(o.first_out), o.note)
                for o in history
            ],
        )  # fmt: skip
        conn.execute("COMMIT")
    finally:
        conn.close()
    return path


def plant_history() -> list[Occurrence]:
    """Two hours from 08:00Z of two machines, with one alarm standing from two days before.

    press-01: 11 alarms 10 s apart from 08:00 (a flood from 100 s to 660 s), each cleared after
    2 s and acknowledged after 30 s, the first high priority. press-02: one medium alarm raised
    48 h before, still active (standing and stale). press-01 again: one suppressed raise.
    oven-01: a door alarm raised 3 times 10 min apart, each gone after 0.5 s (fleeting).
    """
    press = [
        occ(f"press-01/t{i}/hi", at(10 * i), at(10 * i + 2), acked=at(10 * i + 30),
            priority="high" if i == 0 else "low")
        for i in range(11)
    ]  # fmt: skip
    return [
        *press,
        occ("press-02/old/hi", at(-48 * HOUR), priority="medium"),
        occ("press-01/sup/hi", at(200), suppressed=True),
        *(occ("oven-01/door/on", at(t), at(t + 0.5)) for t in (1800, 2400, 3000)),
    ]


def test_journal_round_trip_gives_the_same_figures(data_dir: Path) -> None:
    history = plant_history()
    conn = open_journal(write_journal(data_dir, history))
    try:
        read = read_occurrences(conn, 0, at(2 * HOUR))
    finally:
        conn.close()
    assert len(read) == len(history)
    assert compute_kpis(read, at(0), at(2 * HOUR)).to_dict() == (
        compute_kpis(history, at(0), at(2 * HOUR)).to_dict()
    )


def copilot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "copilot", *args],
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def report_json(*args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    done = copilot("alarms", "report", "--json", *args, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out: dict[str, object] = json.loads(done.stdout)
    return out


def one_sentence(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("copilot: "), done.stderr
    return lines[0]


PERIOD = ("--since", "2026-12-01T08:00Z", "--until", "2026-12-01T10:00Z")


def test_cli_report_json_end_to_end(data_dir: Path) -> None:
    write_journal(data_dir, plant_history())
    out = report_json(*PERIOD)
    assert set(out) == CLI_KEYS and out["anomaly_feedback"] == []
    assert (out["since_ns"], out["until_ns"]) == (at(0), at(2 * HOUR))
    assert out["total_alarms"] == 14  # 11 press + 3 oven; suppressed and older ones are not load
    assert out["average_rate_per_10min"] == pytest.approx(14 / 12)
    assert out["peak_10min"] == 11
    assert out["time_in_flood_pct"] == pytest.approx(100 * 560 / 7200)
    assert out["fleeting"] == 3
    assert (out["stale"], out["standing"], out["suppressed"], out["shelved"]) == (1, 1, 1, 0)
    assert out["chattering"] == 0
    assert out["mean_time_to_ack_s"] == 30.0
    actors = out["bad_actors"]
    assert isinstance(actors, list) and len(actors) == 10
    assert actors[0] == {"alarm": "oven-01/door/on", "count": 3, "share_pct": 100 * 3 / 14}
    assert [a["alarm"] for a in actors[1:4]] == [
        "press-01/t0/hi",
        "press-01/t1/hi",
        "press-01/t10/hi",
    ]
    assert out["top10_share_pct"] == pytest.approx(100 * 12 / 14)
    assert out["priority_distribution"] == {
        "critical": 0.0, "high": 100 / 14, "medium": 0.0, "low": 1300 / 14, "diagnostic": 0.0,
    }  # fmt: skip


def test_cli_report_counts_the_anomaly_verdicts_of_the_period(data_dir: Path) -> None:
    from copilot.hub.anomaly import MIGRATIONS, anomaly_path
    from copilot.storage import open_database

    write_journal(data_dir, plant_history())
    conn = open_database(anomaly_path(data_dir), MIGRATIONS)
    rows = [
        (at(60), "press-01", "t0", "drift", "useful"),
        (at(120), "press-01", "t0", "drift", "false_alarm"),
        (at(180), "press-01", "t0", "drift", "false_alarm"),
        (at(240), "oven-01", "zone2_temp_c", "level", "not_useful"),
        (at(3 * HOUR), "press-01", "t0", "drift", "useful"),  # after --until
    ]
    with conn:
        conn.executemany(
            "INSERT INTO feedback (at, machine, tag, detector, alarm, verdict, who, note, "
            "raised_at) VALUES (?, ?, ?, ?, ?, ?, 'Ann', '', 0)",
            [(t, m, tag, d, f"{m}/{tag}/anomaly:{d}:{tag}", v) for t, m, tag, d, v in rows],
        )
    conn.close()
    out = report_json(*PERIOD)
    assert out["anomaly_feedback"] == [
        {"machine": "press-01", "tag": "t0", "detector": "drift", "useful": 1, "not_useful": 0,
         "false_alarm": 2},
        {"machine": "oven-01", "tag": "zone2_temp_c", "detector": "level", "useful": 0,
         "not_useful": 1, "false_alarm": 0},
    ]  # fmt: skip
    assert [
        f["machine"] for f in report_json(*PERIOD, "--machine", "oven-")["anomaly_feedback"]
    ] == ["oven-01"]
    table = copilot("alarms", "report", *PERIOD, env={"TZ": "UTC"}).stdout.splitlines()
    head = table.index(
        "ANOMALY FEEDBACK (operators' verdicts on anomaly alerts, per tag and detector)"
    )
    assert table[head + 2].split() == ["press-01/t0", "drift", "1", "0", "2"]


def test_cli_report_machine_prefix(data_dir: Path) -> None:
    write_journal(data_dir, plant_history())
    press = report_json(*PERIOD, "--machine", "press-")
    assert (press["total_alarms"], press["fleeting"], press["standing"]) == (11, 0, 1)
    oven = report_json(*PERIOD, "--machine", "oven-01")
    assert (oven["total_alarms"], oven["fleeting"], oven["standing"]) == (3, 3, 0)
    assert oven["time_in_flood_pct"] == 0.0


def test_cli_report_reads_local_time_without_a_zone(data_dir: Path) -> None:
    write_journal(data_dir, plant_history())
    # POSIX TZ "XXX-1" is one hour east of UTC: 09:00 local is 08:00Z.
    local = report_json(
        "--since", "2026-12-01T09:00", "--until", "2026-12-01T11:00", env={"TZ": "XXX-1"}
    )
    assert (local["since_ns"], local["until_ns"]) == (at(0), at(2 * HOUR))
    assert local["total_alarms"] == 14


def test_cli_report_table_shows_figures_targets_and_bad_actors(data_dir: Path) -> None:
    write_journal(data_dir, plant_history())
    done = copilot("alarms", "report", *PERIOD, env={"TZ": "UTC"})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "Alarm KPIs for all machines, 2026-12-01 08:00 UTC → 2026-12-01 10:00 UTC (2 h)"
    )
    row = {line[:24].strip(): line[25:].split() for line in lines if line.startswith(" ") or
           line[:1].isalpha()}  # fmt: skip
    assert row["alarms raised"] == ["14"]
    assert (
        " ".join(row["average rate"]) == "1.17 per 10 min ≤ 1 per 10 min acceptable, ≤ 2 manageable"
    )
    assert " ".join(row["time in flood"]) == "7.8 % < 1 %"
    assert " ".join(row["stale occurrences"]) == "1 < 5 on any day"
    assert " ".join(row["low"]) == "92.9 % ~80 %"
    bad = lines.index("BAD ACTORS (the 10 alarms raised most often)")
    assert lines[bad + 2].split() == ["1", "oven-01/door/on", "3", "21.4", "%"]
    defs = lines.index("Definitions:")
    assert lines[defs + 1 : defs + 5] == [
        "  chattering: 3 or more raises of one alarm within 60 s",
        "  fleeting: active for less than 1 s",
        "  stale: active for more than 24 h",
        "  flood: starts above 10 alarms in 10 min, ends below 5",
    ]


def test_cli_report_relative_times(data_dir: Path) -> None:
    now = time.time_ns()
    write_journal(
        data_dir,
        [occ("press-01/a/hi", now - 30 * MIN), occ("press-01/b/hi", now - 3 * 60 * MIN)],
    )
    assert report_json("--since", "-1h")["total_alarms"] == 1
    assert report_json("--since=-4h")["total_alarms"] == 2
    assert report_json("--since", "-2d", "--until", "-2h")["total_alarms"] == 1
    assert report_json()["total_alarms"] == 2  # the last 24 h


def test_cli_report_without_a_journal_says_so_and_creates_nothing(data_dir: Path) -> None:
    done = copilot("alarms", "report", "--json")
    assert done.returncode == 0
    assert done.stderr.strip() == (
        f"This hub has journaled no alarms yet (there is no {data_dir / 'alarms.db'})."
    )
    out = json.loads(done.stdout)
    assert set(out) == CLI_KEYS and out["total_alarms"] == 0 and out["anomaly_feedback"] == []
    assert out["until_ns"] - out["since_ns"] == 24 * HOUR * S
    done = copilot("alarms", "report")
    assert done.returncode == 0 and done.stdout.startswith("This hub has journaled no alarms yet")
    assert not (data_dir / "alarms.db").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--since", "yesterday"], "--since 'yesterday' is not a time: give ISO 8601"),
        (["--until", "2026-13-01T08:00"], "--until '2026-13-01T08:00' is not a time"),
        (["--since", "-3w"], "--since '-3w' is not a time"),
        (["--until", "3000-01-01"], "--until '3000-01-01' is out of range"),
        (["--since", "2026-12-02T00:00Z", "--until", "2026-12-01T00:00Z"], "must be before"),
        (["--since", "2026-12-01T00:00Z", "--until", "2026-12-01T00:00Z"], "must be before"),
        (["extra"], "copilot alarms report takes no arguments (got extra)"),
    ],
)  # fmt: skip
def test_cli_report_bad_input_is_one_sentence_exit_2(
    data_dir: Path, args: list[str], words: str
) -> None:
    done = copilot("alarms", "report", *args)
    assert done.returncode == 2 and done.stdout == ""
    assert words in one_sentence(done)
