"""Projection: time to the next limit with a band, withdrawn when the trend turns."""

from __future__ import annotations

import numpy as np

from copilot.anomaly.projection import project
from copilot.protocol import Limits

T = np.arange(0.0, 600.0, 1.0)
LIMITS = Limits(lo=20.0, hi=80.0, hihi=90.0)


def noisy(slope: float, noise: float, seed: int = 0, start: float = 50.0) -> np.ndarray:
    return start + slope * T + np.random.default_rng(seed).normal(0.0, noise, T.size)


def test_a_rising_signal_reaches_its_hi_limit_inside_the_band() -> None:
    p = project(T, noisy(0.02, 0.5), LIMITS)
    assert p is not None and p.limit_name == "hi"
    true_eta = (80.0 - (50.0 + 0.02 * 600)) / 0.02  # 900 s from the last sample
    assert p.lo_s <= true_eta <= p.hi_s
    assert abs(p.eta_s - true_eta) < 60
    assert p.words().startswith("HI in ~15 min (")


def test_a_falling_signal_projects_to_its_low_limit() -> None:
    p = project(T, noisy(-0.02, 0.5), LIMITS)
    assert p is not None and p.limit_name == "lo" and p.eta_s > 0


def test_no_trend_no_projection_and_a_turned_trend_withdraws_it() -> None:
    assert project(T, noisy(0.0, 0.5), LIMITS) is None
    up_then_down = np.where(T < 300, 50 + 0.05 * T, 65 - 0.05 * (T - 300))
    rising = project(T[:300], up_then_down[:300], LIMITS)
    assert rising is not None and rising.limit_name == "hi"
    assert project(T, up_then_down, LIMITS) is None  # the trend turned: HI withdrawn
    falling = project(T[300:], up_then_down[300:], LIMITS)
    assert falling is not None and falling.limit_name == "lo"


def test_spikes_do_not_tilt_the_line() -> None:
    v = noisy(0.0, 0.2)
    v[::50] += 25.0  # a spike every 50 s
    assert project(T, v, LIMITS) is None


def test_past_the_limit_is_the_alarms_business_and_far_away_is_not_said() -> None:
    assert project(T, noisy(0.02, 0.5, start=85.0), Limits(hi=80.0)) is None
    assert project(T, noisy(0.0005, 0.01), LIMITS, horizon_s=600.0) is None  # hours away


def test_the_band_holds_the_actual_crossing_most_of_the_time() -> None:
    held = projected = 0
    for seed in range(200):
        r = np.random.default_rng(seed)
        slope, sigma = r.uniform(0.005, 0.05), r.uniform(0.1, 1.0)
        p = project(T, 50 + slope * T + r.normal(0, sigma, T.size), Limits(hi=80.0))
        if p is None:
            continue
        projected += 1
        future = np.arange(600.0, 8000.0, 1.0)
        path = 50 + slope * future + r.normal(0, sigma, future.size)
        crossed = future[np.argmax(path >= 80.0)] - 600.0
        held += p.lo_s <= crossed <= p.hi_s
    assert projected > 150 and held / projected >= 0.8
