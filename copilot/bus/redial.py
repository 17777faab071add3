"""A client socket that dials again by itself after the hub refused its security handshake.

libzmq reconnects a dropped TCP connection on its own, but not a connection whose CurveZMQ
handshake the server refused (ZAP status 400): that socket stays silent for good. A
:class:`Redial` watches the handshake events of its socket (:class:`HandshakeWatch`) and, after
a failed handshake, closes the socket and makes a new one with the same options, waiting
``min_s`` at first and doubling up to ``max_s`` while the refusals go on. So a key that is
allowed on the hub later connects within ``max_s`` plus one handshake. The owner of the socket
calls :meth:`Redial.poll` from the thread that owns the socket, and re-registers
:attr:`Redial.link` in its poller when ``poll`` says the socket was replaced.
:attr:`Redial.breaks` counts lost connections (a drop, or a socket replaced), so the owner can
tell that whatever peer it reaches next may not know it (an agent sends BIRTH again first).
The socket is watched in insecure mode too (connects and drops are still events).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from copilot.bus.transport import Bus, HandshakeWatch, Link

log = logging.getLogger(__name__)


class Redial:
    """Owns one client :class:`Link` (made by ``make``) and replaces it after a refusal."""

    def __init__(
        self,
        bus: Bus,
        make: Callable[[], Link],
        side: str,
        *,
        min_s: float = 0.25,
        max_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.side = side
        self.min_s = min_s
        self.max_s = max_s
        self._make = make
        self._clock = clock
        self._delay = min_s
        self._due: float | None = None
        self.redials = 0
        self._earlier_breaks = 0
        self._failures: list[str] = []
        self.link = make()
        self.watch: HandshakeWatch | None = bus.watch(self.link, side)

    @property
    def connected(self) -> bool:
        """Whether the socket's last handshake succeeded and the connection is still up."""
        return self.watch is not None and self.watch.connected

    @property
    def breaks(self) -> int:
        """Connections lost so far (drops seen on the socket, and sockets replaced)."""
        current = self.watch.disconnects if self.watch is not None else 0
        return self._earlier_breaks + current

    def drain(self) -> None:
        """Read pending socket events (cheap; never replaces the socket)."""
        if self.watch is not None:
            self._failures.extend(self.watch.drain())

    def poll(self, now: float | None = None) -> bool:
        """Read handshake events; recreate the socket if it was refused and the wait is over.

        Returns ``True`` when :attr:`link` is a new socket (the old one is closed).
        """
        if self.watch is None:
            return False
        self.drain()
        failures, self._failures = self._failures, []
        if self.watch.connected:
            self._delay = self.min_s
            self._due = None
            return False
        t = self._clock() if now is None else now
        if failures and self._due is None:
            self._due = t + self._delay
            self._delay = min(self.max_s, self._delay * 2)
        if self._due is None or t < self._due:
            return False
        self._due = None
        self._replace()
        return True

    def _replace(self) -> None:
        old, watch = self.link, self.watch
        if watch is not None:
            self._earlier_breaks += watch.disconnects + 1
            watch.close()
            self.bus.forget(watch.link)
        self.bus.forget(old)
        self.link = self._make()
        self.watch = self.bus.watch(self.link, self.side)
        if watch is not None:  # the same refusal on the new socket is not news: log it rarely
            self.watch.failures, self.watch.last_failure = watch.failures, watch.last_failure
        self.redials += 1
        if self.redials in (1, 10, 100) or self.redials % 1000 == 0:
            log.info(
                "%s: dialling the hub again with a new socket (attempt %d).",
                self.side,
                self.redials,
            )

    def close(self, linger_ms: int = 0) -> None:
        """Close the socket (letting unsent messages leave for ``linger_ms``) and its monitor."""
        if self.watch is not None:
            self.watch.close()
            self.bus.forget(self.watch.link)
            self.watch = None
        self.bus.forget(self.link, linger_ms)
