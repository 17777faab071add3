"""The station's copy of the hub's alarms, and the acts it asks the hub for.

Alarm state lives in the hub; a station holds what the hub published (``a/<machine>/``) and
what its snapshot carried, keyed by alarm id. An update older than the one held (``updated``)
changes nothing: the snapshot and the update stream may both carry the same alarm. Acts go to
the hub as ``ALARM_ACT``; the answer (:class:`~copilot.station.events.AlarmActed`) arrives once
the hub's journal holds them, and the new states arrive on the update stream like every other
station's.

Alarms back to normal stay ``keep_normal_s`` (10 min: the flood meters' window) and are then
forgotten. Reads copy; one lock guards both sides.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from copilot.protocol import AlarmAct, AlarmAction, AlarmQuery, AlarmStatus, Body

KEEP_NORMAL_S = 600.0
MAX_ALARMS = 200_000


class StationAlarms:
    """Alarms as this station knows them (applied on the I/O thread, read from any)."""

    def __init__(self, keep_normal_s: float = KEEP_NORMAL_S) -> None:
        self._lock = threading.Lock()
        self._alarms: dict[str, AlarmStatus] = {}
        self.keep_normal_ns = int(keep_normal_s * 1e9)
        self.version = 0  # moves on every change: a view redraws only when it moved
        self.dropped = 0

    # -- I/O thread -------------------------------------------------------------------------------

    def apply(self, status: AlarmStatus) -> bool:
        """Take one update unless it is older than the one held; whether it changed anything."""
        with self._lock:
            known = self._alarms.get(status.id)
            if known is not None and status.updated < known.updated:
                return False
            if known == status:
                return False
            if known is None and len(self._alarms) >= MAX_ALARMS:
                self.dropped += 1
                return False
            self._alarms[status.id] = status
            self.version += 1
            return True

    def apply_snapshot(self, statuses: Sequence[AlarmStatus], prefix: str = "") -> None:
        """The hub's alarms of ``prefix`` as its snapshot says (what it left out is gone)."""
        with self._lock:
            kept = {k: v for k, v in self._alarms.items() if not v.machine.startswith(prefix)}
            for s in statuses[:MAX_ALARMS]:
                kept[s.id] = s
            self._alarms = kept
            self.version += 1

    def prune(self, now_ns: int | None = None) -> None:
        """Forget alarms that have been back to normal for longer than ``keep_normal_s``."""
        horizon = (now_ns or time.time_ns()) - self.keep_normal_ns
        with self._lock:
            old = [
                k
                for k, s in self._alarms.items()
                if s.state == "normal"
                and not s.latched
                and s.shelf is None
                and s.removed is None
                and max(s.updated, s.raised_at) < horizon
            ]
            for k in old:
                del self._alarms[k]
            if old:
                self.version += 1

    # -- any thread -------------------------------------------------------------------------------

    def all(self) -> dict[str, AlarmStatus]:
        """Every alarm held, by id (a copy)."""
        with self._lock:
            return dict(self._alarms)

    def get(self, alarm_id: str) -> AlarmStatus | None:
        """One alarm, if held."""
        with self._lock:
            return self._alarms.get(alarm_id)


class AlarmRequests:
    """Builds the station's alarm requests and hands them to the I/O thread."""

    def __init__(self, submit: Callable[[Body], None], next_id: Callable[[], int]) -> None:
        self._submit = submit
        self._next_id = next_id

    def act(
        self,
        action: AlarmAction,
        ids: Sequence[str],
        who: str,
        *,
        note: str = "",
        duration_s: float = 0.0,
        oneshot: bool = False,
        token: str = "",
    ) -> int:
        """Ask the hub to do ``action`` to ``ids``; the request id its answer will carry."""
        request_id = self._next_id()
        self._submit(
            AlarmAct(
                action=action,
                ids=list(ids),
                who=who,
                note=note,
                duration_s=duration_s,
                oneshot=oneshot,
                request_id=request_id,
                token=token,
            )
        )
        return request_id

    def query(self, since: int = 0, until: int = 0, prefix: str = "", limit: int = 500) -> int:
        """Ask the hub's journal for occurrences; the request id of the answer."""
        request_id = self._next_id()
        self._submit(
            AlarmQuery(since=since, until=until, prefix=prefix, limit=limit, request_id=request_id)
        )
        return request_id
