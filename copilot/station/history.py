"""Putting a history answer back together: the hub sends a large one in several parts.

Each part is a :class:`~copilot.protocol.HistoryReply` under the hub's reply size limit, with
the request's ``request_id``, a ``part`` number from 0 and ``last`` on the final one; a tag's
series may continue from one part into the next, in time order. :class:`HistoryAssembler`
joins the parts of each request the station asked for and hands back one
:class:`~copilot.station.events.HistoryArrived` per request, with every part in it and the
hub's ``truncated`` flag passed on. An ``ERROR`` that carries a pending ``request_id`` answers
that request. What it holds is bounded: requests waiting (:data:`MAX_PENDING`), points held for
one answer (:data:`MAX_POINTS`) and how long it waits for the next part
(:data:`PART_TIMEOUT_S`); a request that runs into a bound is answered with an ``ERROR``,
never left waiting. :meth:`expect` may be called from any thread, the rest on the I/O thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from copilot.protocol import ErrorReply, HistoryReply, Series
from copilot.station.events import HistoryArrived

MAX_PENDING = 256  # history requests waiting for an answer; past it the oldest is failed
MAX_POINTS = 20_000_000  # points held for one answer (t and v) before it is failed
PART_TIMEOUT_S = 30.0  # seconds without a part (or the first answer) before a request fails


@dataclass
class _Pending:
    machine: str
    heard: float  # monotonic time of the request or of its last part
    series: dict[str, Series] = field(default_factory=dict)
    parts: int = 0
    points: int = 0
    truncated: bool = False


def _error(request_id: int, code: str, message: str) -> ErrorReply:
    return ErrorReply(code=code, message=message, request_id=request_id)


class HistoryAssembler:
    """Joins the parts of history answers, one :class:`HistoryArrived` per request."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, _Pending] = OrderedDict()
        self.unexpected = 0  # parts of answers to requests not (or no longer) waiting

    @property
    def waiting(self) -> int:
        """Requests still waiting for (the rest of) their answer."""
        with self._lock:
            return len(self._pending)

    # -- any thread -----------------------------------------------------------------------------

    def expect(self, request_id: int, machine: str) -> list[HistoryArrived]:
        """Wait for the answer to ``request_id``; the failures of requests pushed out by it."""
        failed = []
        with self._lock:
            self._pending[request_id] = _Pending(machine, self._clock())
            while len(self._pending) > MAX_PENDING:
                old_id, _old = self._pending.popitem(last=False)
                failed.append(
                    HistoryArrived(
                        old_id,
                        _error(
                            old_id,
                            "history_abandoned",
                            f"More than {MAX_PENDING} history requests were waiting; "
                            "the oldest was given up.",
                        ),
                    )
                )
        return failed

    # -- I/O thread -----------------------------------------------------------------------------

    def on_reply(self, reply: HistoryReply) -> HistoryArrived | None:
        """One part; the whole answer once its last part is in (else ``None``)."""
        rid = reply.request_id
        with self._lock:
            pending = self._pending.get(rid)
            if pending is None:
                if reply.part == 0 and reply.last:  # a whole answer nobody registered
                    return HistoryArrived(rid, reply, 1, reply.truncated)
                self.unexpected += 1
                return None
            if reply.part != pending.parts:
                del self._pending[rid]
                return HistoryArrived(
                    rid,
                    _error(
                        rid,
                        "history_incomplete",
                        f"Part {pending.parts} of the history answer for {pending.machine} "
                        f"did not arrive (part {reply.part} did).",
                    ),
                    pending.parts,
                )
            pending.parts += 1
            pending.heard = self._clock()
            pending.truncated = pending.truncated or reply.truncated
            for piece in reply.series:
                pending.points += len(piece.t)
                known = pending.series.get(piece.tag)
                if known is None:
                    pending.series[piece.tag] = Series(
                        tag=piece.tag, t=list(piece.t), v=list(piece.v), tier=piece.tier
                    )
                else:
                    known.t.extend(piece.t)
                    known.v.extend(piece.v)
            if pending.points > MAX_POINTS:
                del self._pending[rid]
                return HistoryArrived(
                    rid,
                    _error(
                        rid,
                        "history_too_big",
                        f"The history answer for {pending.machine} exceeds {MAX_POINTS} points; "
                        "ask for fewer tags or points.",
                    ),
                    pending.parts,
                    True,
                )
            if not reply.last:
                return None
            del self._pending[rid]
        whole = HistoryReply(
            machine=reply.machine,
            series=list(pending.series.values()),
            request_id=rid,
            truncated=pending.truncated,
        )
        return HistoryArrived(rid, whole, pending.parts, pending.truncated)

    def on_error(self, error: ErrorReply) -> HistoryArrived | None:
        """An ``ERROR`` for a waiting request answers it (``None``: it answers something else)."""
        with self._lock:
            pending = self._pending.pop(error.request_id, None)
        if pending is None:
            return None
        return HistoryArrived(error.request_id, error, pending.parts)

    def expire(self, now: float | None = None) -> list[HistoryArrived]:
        """Fail the requests that heard nothing for :data:`PART_TIMEOUT_S`."""
        t = self._clock() if now is None else now
        with self._lock:
            late = [(rid, p) for rid, p in self._pending.items() if t - p.heard > PART_TIMEOUT_S]
            for rid, _pending in late:
                del self._pending[rid]
        return [
            HistoryArrived(
                rid,
                _error(
                    rid,
                    "history_timeout",
                    f"The hub did not answer the history request for {p.machine} "
                    f"within {PART_TIMEOUT_S:g} s"
                    + (f" (after {p.parts} parts)." if p.parts else "."),
                ),
                p.parts,
            )
            for rid, p in late
        ]

    def abandon(self, why: str) -> list[HistoryArrived]:
        """Fail every waiting request (their answers cannot come: ``why``)."""
        with self._lock:
            pending, self._pending = self._pending, OrderedDict()
        return [
            HistoryArrived(rid, _error(rid, "history_lost", why), p.parts)
            for rid, p in pending.items()
        ]
