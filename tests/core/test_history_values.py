"""History values are the values that were sent: full rate where held, true min/max before.

Over real sockets: a ``copilot hub`` process, an agent key sending 20 minutes of known samples
(with a 2-minute hole), and the public ``HistoryRequest`` a trend sends. Every returned point is
checked against what was sent: full-rate points equal the samples, each min/max pair equals the
minimum and maximum of the samples in its interval, a hole stays a hole, nothing is left out.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from copilot.bus import Security
from copilot.protocol import Birth, HistoryReply, HistoryRequest, MachineInfo, TagSpec
from copilot.protocol.columns import pack
from copilot.station.client import request_once
from tests.helpers import Plant, RawPeer, wait_until

INTERVAL_S = 10
FULL_S = 60
NS = 10**9


def history(plant: Plant, since_ns: int, max_points: int) -> HistoryReply:
    reply = request_once(
        plant.security("cli"),
        plant.address,
        HistoryRequest(machine="m1", tags=["temp", "nope"], since=since_ns, max_points=max_points),
        5,
    )
    assert isinstance(reply, HistoryReply), reply
    return reply


@pytest.mark.parametrize("burst", [False, True], ids=["paced", "burst"])
def test_history_returns_the_values_sent_full_rate_then_true_min_max(
    plant: Plant, data_dir: Path, burst: bool
) -> None:
    """``burst``: all 20 minutes at once, as an agent's backlog after an outage arrives.

    Paced, the hub folds its rings into the min/max tier between every 50 samples (a history
    request folds), so nothing can fall out of a ring unfolded; in a burst it must cope alone.
    """
    plant.hub(
        env={
            "COPILOT_HUB__HISTORY_FULL_S": str(FULL_S),
            "COPILOT_HUB__HISTORY_MINMAX_INTERVAL_S": str(INTERVAL_S),
            "COPILOT_HUB__HISTORY_HOURS": "1",
        }
    )
    agent = RawPeer(Security.from_data_path(data_dir, "agent", False), plant.address)
    try:
        epoch = time.time_ns()
        start = (epoch // NS // INTERVAL_S) * INTERVAL_S - 1200  # a bucket boundary, 20 min ago
        # 1 Hz a quarter second past each second (never on a bucket boundary), 2-minute hole
        t = start + 0.25 + np.arange(1200.0)
        t = t[(t < start + 500) | (t >= start + 620)]
        v = np.random.default_rng(7).normal(50, 10, t.size).round(3)
        t_ns = np.round(t * NS).astype(np.int64)
        birth = Birth(
            machine=MachineInfo(id="m1", name="M1", kind="x"),
            tags=[TagSpec(name="temp", alias=0)],
            heartbeat_ms=10_000,
        )
        agent.send(birth, src="m1", epoch=epoch, seq=0)
        since = int(start * NS)
        for seq, i in enumerate(range(0, t.size, 50), start=1):
            chunk = slice(i, i + 50)
            body = pack(np.zeros(t_ns[chunk].size), v[chunk], t_ns[chunk])
            agent.send(body, src="m1", epoch=epoch, seq=seq)
            if not burst:  # a history request folds: 50 samples per fold, less than a ring
                last = t_ns[chunk][-1]
                wait_until(lambda n=last: n in history(plant, since, 100_000).series[0].t, 10)
        wait_until(
            lambda: t_ns[-1] in history(plant, since, 100_000).series[0].t, 10, "all samples in"
        )
        reply = history(plant, since, 100_000)
        series, missing = reply.series
        assert missing.tag == "nope" and missing.tier == "none" and missing.t == []
        assert series.tag == "temp" and series.tier == "mixed"
        rt = np.asarray(series.t, dtype=np.int64)
        rv = np.asarray(series.v, dtype=np.float64)
        keep = rt <= t_ns[-1]  # leave out a stale marker the hub may add when m1 times out
        rt, rv = rt[keep], rv[keep]
        assert np.all(np.diff(rt) >= 0), "history out of time order"

        # Full-rate points: exactly the samples sent, from the oldest held to the newest.
        full = np.isin(rt // 1000, t_ns // 1000)  # the hub may round times below a microsecond
        ft, fv = rt[full], rv[full]
        oldest = ft.min()
        assert oldest <= t_ns[-1] - FULL_S * NS, "less than history_full_s at full rate"
        expected = t_ns >= oldest - 1000
        assert ft.size == expected.sum(), "full-rate samples missing or repeated"
        np.testing.assert_array_equal(fv, v[expected])

        # Min/max points: (bucket start, min) and (bucket start + half, max), the true extremes.
        mt, mv = rt[~full], rv[~full]
        assert mt.size % 2 == 0 and mt.size > 0
        starts, lows, highs = mt[0::2], mv[0::2], mv[1::2]
        assert np.all(mt[1::2] - starts == INTERVAL_S * NS // 2)
        assert np.all(starts % (INTERVAL_S * NS) == 0)
        assert np.all(np.diff(starts) == INTERVAL_S * NS), "a min/max interval is missing"
        for b, lo, hi in zip(starts, lows, highs, strict=True):
            inside = (t_ns >= b) & (t_ns < b + INTERVAL_S * NS)
            if not inside.any():
                assert np.isnan(lo) and np.isnan(hi), f"values in the hole at {b}"
                continue
            assert lo == np.float32(v[inside].min()), f"min of the interval at {b}"
            assert hi == np.float32(v[inside].max()), f"max of the interval at {b}"
        # Nothing sent is left out: every sample is at full rate or inside a returned interval.
        covered = t_ns >= oldest - 1000
        for b in starts:
            covered |= (t_ns >= b) & (t_ns < b + INTERVAL_S * NS)
        left_out = (t_ns[~covered] - oldest) / NS
        assert covered.all(), (
            f"samples in neither tier, at {left_out} s from the oldest full-rate one"
        )
        hole = (rt > (start + 505) * NS) & (rt < (start + 615) * NS)
        assert hole.any() and np.isnan(rv[hole]).all(), "the 2-minute hole is not a gap"

        # Decimated for a narrow trend: few points, and the peaks survive.
        small = history(plant, since, 50).series[0]
        sv = np.asarray(small.v)
        assert 0 < len(small.t) <= 50
        assert np.nanmax(sv) == np.nanmax(rv) and np.nanmin(sv) == np.nanmin(rv)
    finally:
        agent.close()
