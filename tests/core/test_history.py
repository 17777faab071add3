"""History windows for trends: full rate for the recent past, min/max per interval before."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from copilot.bus import Bus, Security
from copilot.hub import Hub
from copilot.protocol import Birth, Header, HistoryReply, HistoryRequest, MachineInfo, TagSpec
from copilot.protocol.columns import pack
from copilot.settings import HubSettings


def test_history_mixes_full_rate_and_minmax_tiers_with_gaps_as_nan(data_dir: Path) -> None:
    bus = Bus(Security(insecure=True))
    hub = Hub(
        bus,
        HubSettings(
            bind="ipc://" + str(data_dir / "h"),
            history_full_s=60,
            history_minmax_interval_s=10,
            history_hours=1,
        ),
    )
    hub.open()
    try:
        birth = Birth(
            machine=MachineInfo(id="m1", name="M1", kind="x"), tags=[TagSpec(name="temp", alias=0)]
        )
        now = time.time()
        hub._on_birth(b"id", "", Header(src="m1", epoch=1, seq=0, ts=0), birth, b"")
        # 20 minutes at 1 Hz, with a 2-minute hole in the middle
        t = np.arange(now - 1200, now, 1.0)
        t = t[(t < now - 700) | (t >= now - 580)]
        v = np.sin(t / 30.0)
        for i in range(0, t.size, 50):
            chunk = slice(i, i + 50)
            hub._on_data(
                b"id",
                Header(src="m1", epoch=1, seq=1 + i // 50, ts=0),
                pack(np.zeros(t[chunk].size), v[chunk], (t[chunk] * 1e9).astype(np.int64)),
                b"",
            )
        reply = hub.history(
            HistoryRequest(
                machine="m1",
                tags=["temp", "nope"],
                since=int((now - 1200) * 1e9),
                max_points=100_000,
            )
        )
        assert isinstance(reply, HistoryReply)
        series, missing = reply.series
        assert missing.tier == "none" and missing.t == []
        assert series.tier == "mixed"
        times = np.asarray(series.t) * 1e-9
        values = np.asarray(series.v)
        assert np.all(np.diff(times) >= 0)
        recent = times >= now - 60
        assert recent.sum() >= 59  # full rate in the last minute
        old = times < now - 300  # older than the full-rate ring holds here (256 samples)
        assert old.sum() <= 2 * 92  # a min/max pair per 10 s, not 900 raw samples
        hole = (times > now - 690) & (times < now - 590)
        assert hole.any() and np.isnan(values[hole]).all()  # the gap is a gap
        finite = values[np.isfinite(values)]
        assert finite.min() >= -1 and finite.max() <= 1
        decimated = hub.history(
            HistoryRequest(
                machine="m1", tags=["temp"], since=int((now - 1200) * 1e9), max_points=50
            )
        )
        assert isinstance(decimated, HistoryReply) and len(decimated.series[0].t) <= 50
    finally:
        bus.close()
