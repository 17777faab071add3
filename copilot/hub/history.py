"""History service: folds the rings into the min/max tier and answers history requests.

A request names a machine, tags and a window; the answer is full rate where the rings still
hold it, min/max pairs per interval before, peak-decimated to ``max_points`` per tag. It is
bounded: ``tags × points`` at most ``max_history_samples`` (``max_points`` is lowered and the
reply says ``truncated``), at most ``max_history_tags`` tags (else an ``ERROR`` carrying the
``request_id``), and sent in parts each under ``max_reply_bytes`` (``part``/``last``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from copilot.hub.events import Dropped, Event
from copilot.hub.service import Sender, Service
from copilot.hub.spread import Spread
from copilot.protocol import Body, ErrorReply, HistoryReply, HistoryRequest, Series
from copilot.series import MinMax
from copilot.settings import HubSettings

FOLD_EVERY_S = 2.0
_BYTES_PER_POINT = 18  # a msgpack int64 and a float64, with their type bytes


class HistoryService(Service):
    """Answers ``HIST_REQ``; folds history off the per-message path."""

    name = "history"
    handles = (HistoryRequest,)

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        # The first tick folds every machine known then; afterwards a few machines a tick.
        self._folds = Spread(FOLD_EVERY_S, FOLD_EVERY_S, first_gap_s=FOLD_EVERY_S)
        self.answered = 0
        self.parts = 0
        self.limited = 0

    def tick(self, now: float) -> None:
        """Fold each machine's new samples into the min/max tier every ``FOLD_EVERY_S``.

        A few machines a tick, in turn: folding a plant of 200 machines at once held the loop
        for 0.1–0.6 s every time.
        """
        count = self._folds.due(now, len(self.plant.machines))
        if count:
            self.plant.fold_some(count)

    def handle(self, sender: Sender, body: Body) -> Sequence[Event]:
        """Answer one request in bounded parts."""
        assert isinstance(body, HistoryRequest)
        events: list[Event] = []
        replies = self.answer(body)
        if len(body.tags) > self.settings.max_history_tags or (
            isinstance(replies[0], HistoryReply) and replies[0].truncated
        ):
            self.limited += 1
            events.append(Dropped("history_too_big", body.machine, detail=sender.key))
        for reply in replies:
            self.publisher.reply(sender.identity, reply)
        self.answered += 1
        self.parts += len(replies)
        return events

    def answer(self, req: HistoryRequest) -> list[HistoryReply | ErrorReply]:
        """The parts of the answer to ``req`` (one ``ERROR`` if it cannot be served)."""
        s = self.settings
        if len(req.tags) > s.max_history_tags:
            return [
                ErrorReply(
                    code="history_too_big",
                    message=f"At most {s.max_history_tags} tags per history request "
                    f"({len(req.tags)} asked); ask in several requests.",
                    request_id=req.request_id,
                )
            ]
        reply = self.history(req)
        if isinstance(reply, ErrorReply):
            return [reply]
        return split_reply(reply, s.max_reply_bytes)

    def history(self, req: HistoryRequest) -> HistoryReply | ErrorReply:
        """Samples of some tags between two times, in one reply (before splitting)."""
        state = self.plant.machines.get(req.machine)
        if state is None:
            return ErrorReply(
                code="unknown_machine",
                message=f"No machine {req.machine[:64]!r}.",
                request_id=req.request_id,
            )
        since = req.since * 1e-9
        until = (req.until or time.time_ns()) * 1e-9
        state.fold()
        budget = max(2, self.settings.max_history_samples // max(1, len(req.tags)))
        max_points = max(2, min(req.max_points, 200_000, budget))
        truncated = max_points < min(req.max_points, 200_000)
        series = []
        for name in req.tags:
            alias = state.table.by_name.get(name)
            if alias is None:
                series.append(Series(tag=name[:128], t=[], v=[], tier="none"))
                continue
            t, v = state.rings.window(alias, since)
            keep = t <= until
            t, v = t[keep], v[keep]
            tier = "full"
            held = state.rings.oldest(alias)
            if held is not None and held > since and state.rings.overwritten(alias):
                # The rings let go of samples after ``since``: the min/max tier has them.
                t, v, tier = _with_minmax(state.minmax, alias, since, until, held, t, v)
            if t.size > max_points:
                t, v = _peak_decimate(t, v, max_points)
            series.append(
                Series(
                    tag=name,
                    t=(t * 1e9).astype(np.int64).tolist(),
                    v=v.tolist(),
                    tier=tier,  # type: ignore[arg-type]
                )
            )
        return HistoryReply(
            machine=req.machine, series=series, request_id=req.request_id, truncated=truncated
        )

    def status(self) -> dict[str, int]:
        """Requests answered, parts sent, requests limited."""
        return {"answered": self.answered, "parts": self.parts, "limited": self.limited}


def _with_minmax(
    minmax: MinMax,
    alias: int,
    since: float,
    until: float,
    held: float,
    t: np.ndarray,
    v: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Min/max pairs from ``since`` up to where full rate (``t``, ``v``) takes over.

    The tiers meet at ``boundary``, the first interval boundary at or after the oldest sample
    the rings hold (``held``): every interval before it is a min/max pair — the one holding
    ``held`` too, so the samples between the last whole interval and the oldest held one are in
    it (the min/max tier takes every sample before the rings let it go) — and full rate is
    shown from ``boundary`` on. A pair sits at its interval's start and middle, so the reply
    stays in time order.
    """
    interval = minmax.interval
    boundary = math.ceil(held / interval) * interval
    bt, bmin, bmax = minmax.window(alias, since, min(boundary - interval, until))
    full = t >= boundary
    t, v = t[full], v[full]
    mt = np.empty(bt.size * 2)
    mv = np.empty(bt.size * 2)
    mt[0::2], mt[1::2] = bt, bt + interval / 2
    mv[0::2], mv[1::2] = bmin, bmax
    tier = "mixed" if t.size else "minmax"
    return np.concatenate((mt, t)), np.concatenate((mv, v)), tier


def split_reply(reply: HistoryReply, max_bytes: int) -> list[HistoryReply | ErrorReply]:
    """``reply`` in parts each under ``max_bytes`` (a long series is cut in time order).

    A series costs its points and its own head (the tag's name and keys), so a request for
    many tags with long names is cut as surely as one for a few long series.
    """
    budget = max(1024, max_bytes - 4096)  # room for the reply's own keys and machine id
    parts: list[list[Series]] = [[]]
    room = budget
    for series in reply.series:
        head = len(series.tag.encode()) + 32
        start, n = 0, len(series.t)
        while True:
            if room < head + 16 * _BYTES_PER_POINT and parts[-1]:
                parts.append([])
                room = budget
            take = min(n - start, max(1, (room - head) // _BYTES_PER_POINT))
            parts[-1].append(
                Series(
                    tag=series.tag,
                    t=series.t[start : start + take],
                    v=series.v[start : start + take],
                    tier=series.tier,
                )
            )
            room -= head + take * _BYTES_PER_POINT
            start += take
            if start >= n:
                break
    out: list[HistoryReply | ErrorReply] = []
    for i, chunk_series in enumerate(parts):
        out.append(
            HistoryReply(
                machine=reply.machine,
                series=chunk_series,
                request_id=reply.request_id,
                part=i,
                last=i == len(parts) - 1,
                truncated=reply.truncated,
            )
        )
    return out


def _peak_decimate(t: np.ndarray, v: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep min and max of each of ``max_points // 2`` buckets (NaN gaps survive)."""
    buckets = max(1, max_points // 2)
    size = math.ceil(t.size / buckets)
    pad = buckets * size - t.size
    tp = np.concatenate((t, np.full(pad, t[-1])))
    vp = np.concatenate((v, np.full(pad, np.nan)))
    tb = tp.reshape(buckets, size)
    vb = vp.reshape(buckets, size)
    all_nan = np.isnan(vb).all(axis=1)
    filled = np.where(np.isnan(vb), np.inf, vb)
    imin = filled.argmin(axis=1)
    filled = np.where(np.isnan(vb), -np.inf, vb)
    imax = filled.argmax(axis=1)
    rows = np.arange(buckets)
    first = np.minimum(imin, imax)
    second = np.maximum(imin, imax)
    out_t = np.empty(buckets * 2)
    out_v = np.empty(buckets * 2)
    out_t[0::2], out_t[1::2] = tb[rows, first], tb[rows, second]
    out_v[0::2], out_v[1::2] = vb[rows, first], vb[rows, second]
    out_v[0::2][all_nan] = np.nan
    out_v[1::2][all_nan] = np.nan
    return out_t, out_v
