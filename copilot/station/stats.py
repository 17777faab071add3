"""The station's counters: link health for the status bar, ``copilot watch`` and tests.

Written by the I/O thread (and the dispatch thread for listener errors), read by anyone.
Every message the station could not use is counted by reason in :attr:`StationStats.drops`,
whether the codec refused it, the sync logic found it stale, or the store could not apply it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from copilot.protocol import DropCounters


@dataclass
class StationStats:
    """Link health for the status bar and tests."""

    messages: int = 0
    samples: int = 0
    gaps: int = 0
    resyncs: int = 0
    snapshots: int = 0
    stale_updates_dropped: int = 0
    latency_ms: float = 0.0
    rate_msgs_s: float = 0.0
    rate_samples_s: float = 0.0
    handshake_failures: int = 0
    last_handshake_failure: str = ""
    listener_errors: int = 0  # listeners that raised (logged, counted, never fatal)
    events_dropped: int = 0  # events refused because the dispatch inbox was full
    redials: int = 0  # sockets replaced after the hub refused a handshake
    hub_errors: int = 0  # ERROR replies from the hub that answer no waiting request
    last_hub_error: str = ""
    hub_statuses: int = 0  # HUB_STATUS answers received
    counters: DropCounters = field(default_factory=DropCounters, repr=False)
    _window: deque[tuple[float, int, int]] = field(default_factory=lambda: deque(maxlen=64))

    @property
    def drops(self) -> dict[str, int]:
        """Messages the station could not use, by reason (a copy)."""
        return self.counters.as_dict()

    @property
    def dropped(self) -> int:
        """All of them."""
        return self.counters.total

    def update_rates(self, now: float) -> None:
        """Messages and samples per second over the last ~16 s (called every 0.25 s)."""
        self._window.append((now, self.messages, self.samples))
        if len(self._window) >= 2:
            t0, m0, s0 = self._window[0]
            span = now - t0
            if span > 0:
                self.rate_msgs_s = (self.messages - m0) / span
                self.rate_samples_s = (self.samples - s0) / span
