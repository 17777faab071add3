"""Projection advice: which tags, how often, withdrawn when the trend turns, the words."""

from __future__ import annotations

import numpy as np
import pytest

from copilot.anomaly.advice import (
    EVERY_S,
    QUIET_S,
    Advice,
    Projector,
    overview_texts,
    projectable,
    soonest,
    turned,
)
from copilot.anomaly.continuation import continuation
from copilot.anomaly.projection import Projection, project
from copilot.protocol import Limits, TagSpec

T0 = 1_700_000_000.0  # Unix seconds, as the station's rings hold them
SPEC = TagSpec(name="temp", alias=0, limits=Limits(hi=80.0, hihi=90.0))


class Rings:
    """A stand-in for ``StationStore.window``: one series per tag, counting the calls."""

    def __init__(self, t: np.ndarray, v: np.ndarray) -> None:
        self.t, self.v = t, v
        self.calls = 0

    def __call__(self, machine: str, tag: str, since: float) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        keep = self.t >= since
        return self.t[keep].copy(), self.v[keep].copy()


def ramp(seconds: float = 120.0, slope: float = 0.1, noise: float = 0.2, seed: int = 0) -> Rings:
    t = T0 + np.arange(0.0, seconds, 0.5)
    v = 50.0 + slope * (t - T0) + np.random.default_rng(seed).normal(0, noise, t.size)
    return Rings(t, v)


def test_only_analog_tags_with_a_limit_are_projected() -> None:
    assert projectable(SPEC)
    assert projectable(TagSpec(name="n", alias=0, type="int", limits=Limits(lo=3.0)))
    assert not projectable(TagSpec(name="t", alias=0))  # no limits
    assert not projectable(TagSpec(name="t", alias=0, limits=Limits()))  # limits, none set
    assert not projectable(TagSpec(name="b", alias=0, type="bool", limits=Limits(hi=1.0)))
    assert not projectable(TagSpec(name="s", alias=0, type="str", limits=Limits(hi=1.0)))
    rings = ramp()
    now = float(rings.t[-1])
    assert Projector().advise("m", TagSpec(name="t", alias=0), now, rings) is None
    assert rings.calls == 0  # not even read


def test_a_ramp_toward_hi_is_advised_with_its_words_and_line() -> None:
    rings = ramp()  # 50 → 62 in 120 s at 0.1/s: HI 80 in ~180 s
    now = float(rings.t[-1])
    advice = Projector().advise("m", SPEC, now, rings)
    assert advice is not None and advice.projection.limit_name == "hi"
    assert advice.arrow == "↗"
    assert advice.words().startswith("HI in ~3 min (")
    assert overview_texts(advice, "zone temp")[0].startswith("↗ zone temp HI in ~3 min (")
    assert overview_texts(advice) == [f"↗ {advice.words()}"]
    line_t, line_v = advice.continuation().line()
    assert line_t[0] == pytest.approx(now)
    assert line_v[0] == pytest.approx(62.0, abs=0.5)  # the line stands where the data are
    assert line_v[1] == 80.0
    assert line_t[1] - now == pytest.approx(advice.projection.eta_s)


def test_stale_bad_or_gappy_data_get_no_projection() -> None:
    rings = ramp()
    now = float(rings.t[-1])
    assert Projector().advise("m", SPEC, now, rings, good=False) is None
    rings.v[::3] = np.nan  # a third of the samples Bad: not "mostly Good"
    assert Projector().advise("m", SPEC, now, rings) is None
    few = Rings(rings.t[:5], rings.v[:5])
    assert Projector().advise("m", SPEC, float(few.t[-1]), few) is None


def test_at_most_once_every_few_seconds_per_tag_from_the_cache_in_between() -> None:
    rings = ramp()
    now = float(rings.t[-1])
    projector = Projector()
    first = projector.advise("m", SPEC, now, rings)
    assert first is not None
    for k in range(60):  # a view asking on every frame (30 a second) until the next look
        assert projector.advise("m", SPEC, now + k * EVERY_S / 61, rings) is first
    assert projector.fits == 1 and rings.calls == 1
    projector.advise("m", SPEC, now + EVERY_S, rings)
    assert projector.fits == 2
    other = TagSpec(name="other", alias=1, limits=Limits(hi=80.0))
    projector.advise("m", other, now + EVERY_S, rings)  # another tag has its own clock
    assert projector.fits == 3
    assert projector.cached("m", "temp") is not None
    projector.forget("m")
    assert projector.cached("m", "temp") is None


def test_a_tag_without_a_projection_is_looked_at_again_less_often() -> None:
    flat = ramp(slope=0.0)
    now = float(flat.t[-1])
    projector = Projector()
    assert QUIET_S > EVERY_S
    assert projector.advise("m", SPEC, now, flat) is None
    assert projector.advise("m", SPEC, now + EVERY_S, flat) is None
    assert projector.fits == 1  # nothing to say: the next look is QUIET_S later
    assert not projector.due("m", "temp", now + QUIET_S - 0.5)
    assert projector.due("m", "temp", now + QUIET_S)
    projector.advise("m", SPEC, now + QUIET_S, flat)
    assert projector.fits == 2


def test_withdrawn_when_the_ramp_turns_or_levels_off() -> None:
    t = T0 + np.arange(0.0, 160.0, 0.5)
    rng = np.random.default_rng(1)
    up = 50.0 + 0.1 * np.minimum(t - T0, 120.0)
    down = up - 0.2 * np.maximum(t - T0 - 120.0, 0.0)
    for v in (up, down):  # levelled off at 62 for 40 s; or falling at 0.2/s for 40 s
        noisy = v + rng.normal(0, 0.05, t.size)
        rising = Rings(t[:240], noisy[:240])
        assert Projector().advise("m", SPEC, float(t[239]), rising) is not None
        now = float(t[-1])
        whole = project(t, noisy, SPEC.limits or Limits())  # the whole window may still rise
        assert Projector().advise("m", SPEC, now, Rings(t, noisy)) is None
        if whole is not None:
            assert turned(t, noisy, whole)


def test_noise_on_a_steady_ramp_is_not_a_turn() -> None:
    held = projected = 0
    for seed in range(100):
        rings = ramp(seconds=300.0, slope=0.05, noise=1.0, seed=seed)  # a noisy ramp
        p = project(rings.t, rings.v, SPEC.limits or Limits())
        if p is not None:
            projected += 1
            held += not turned(rings.t, rings.v, p)
    assert projected >= 80 and held / projected >= 0.95


def test_a_tile_shows_its_soonest_projection() -> None:
    def advice(eta: float) -> Advice:
        return Advice("m", f"t{eta}", Projection("hi", 80.0, eta, eta - 1, eta + 1, 0.1), T0)

    assert soonest([None, advice(300.0), advice(120.0)]) == advice(120.0)
    assert soonest([None, None]) is None
    falling = Advice("m", "p", Projection("lo", 2.0, 90.0, 60.0, 150.0, -0.01), T0)
    assert falling.arrow == "↘"
    line = continuation(falling.projection, T0)
    assert line.level == pytest.approx(2.0 + 0.01 * 90.0)
    assert line.wedge() == [(T0, line.level), (T0 + 60.0, 2.0), (T0 + 150.0, 2.0)]
