"""The station's rings settle their memory within seconds of the first data."""

from __future__ import annotations

import numpy as np

from copilot.station.rings import TagRings

T0 = 1.7e9


def _feed(rings: TagRings, seconds: float, hz: float, tags: int) -> list[int]:
    """Feed ``tags`` tags at ``hz``; the ring memory (bytes) after every tick."""
    sizes = []
    for k in range(int(seconds * hz)):
        rings.append(np.arange(tags), np.full(tags, T0 + k / hz), np.full(tags, float(k)))
        sizes.append(rings.nbytes)
    return sizes


def test_memory_is_final_after_two_seconds_and_then_flat() -> None:
    rings = TagRings(200, 6000, keep_s=600.0)
    sizes = _feed(rings, 120.0, 10.0, 200)
    assert rings.capacity == 6000  # 600 s at 10 Hz (capped)
    assert len(set(sizes[20:])) == 1  # nothing allocated after the first 2 s
    t, v = rings.window(0)
    assert t.size == 1200 and v[-1] == 1199.0  # every sample of the two minutes kept, in order


def test_slow_tags_get_only_what_their_rate_needs() -> None:
    rings = TagRings(50, 100_000, keep_s=60.0)
    _feed(rings, 30.0, 2.0, 50)
    assert rings.capacity <= 2 * 60 * 2  # ~150 (60 s at 2 Hz, +25 %), not the 100,000 cap


def test_without_keep_s_rows_double_as_they_fill() -> None:
    rings = TagRings(10, 1024)
    _feed(rings, 20.0, 2.0, 10)
    assert rings.capacity == 64
