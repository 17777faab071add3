"""Drives agent sessions from one thread: the machine's tick, input from the hub, heartbeats.

The simulator runs hundreds of sessions this way; a session is never touched from another
thread. Every ``period_s`` the ``tick`` callback publishes and every session is flushed; every
0.25 s the runner retries held data, sends due heartbeats, and lets each session read its
handshake events (and swap in a new socket after a refusal, re-registered here).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from copilot.agent.session import AgentSession
from copilot.bus import Link, Poller
from copilot.proc import run_in_thread

HOUSEKEEPING_S = 0.25


class AgentRunner:
    """Drives sessions from one thread: a periodic ``tick`` (which publishes), input, heartbeats.

    ``tick(now_s)`` is called every ``period_s``; after it every session's queue is flushed.
    """

    def __init__(
        self,
        sessions: Sequence[AgentSession],
        tick: Callable[[float], None] | None = None,
        period_s: float = 1.0,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.sessions = list(sessions)
        self.tick = tick
        self.period_s = period_s
        self._stop = stop_event or threading.Event()
        self._thread: threading.Thread | None = None
        self._poller = Poller(s.link for s in self.sessions)
        self._by_link: dict[int, tuple[Link, AgentSession]] = {
            id(s.link): (s.link, s) for s in self.sessions
        }
        self.error: BaseException | None = None

    def _relink(self, session: AgentSession, old: Link) -> None:
        self._poller.unregister(old)
        self._by_link.pop(id(old), None)
        self._poller.register(session.link)
        self._by_link[id(session.link)] = (session.link, session)

    def _housekeeping(self, now: float) -> None:
        for session in self.sessions:
            old = session.link
            if session.maintain(now):
                self._relink(session, old)
            if session.pending_samples:
                session.flush()
            if session.heartbeat_due(now):
                session.heartbeat()

    def run(self) -> None:
        """Run until :meth:`request_stop`; then send DEATH for every session."""
        for session in self.sessions:
            session.birth()
        next_tick = time.monotonic()
        next_housekeeping = time.monotonic() + HOUSEKEEPING_S
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if self.tick is not None and now >= next_tick:
                    self.tick(time.time())
                    for session in self.sessions:
                        session.flush()
                    next_tick += self.period_s
                    if next_tick < now:
                        next_tick = now + self.period_s
                if now >= next_housekeeping:
                    next_housekeeping = now + HOUSEKEEPING_S
                    self._housekeeping(now)
                wait = min(next_tick if self.tick else now + HOUSEKEEPING_S, next_housekeeping)
                for link in self._poller.poll(max(0.0, wait - now)):
                    entry = self._by_link.get(id(link))
                    if entry is None:
                        continue
                    session = entry[1]
                    for _ in range(1000):
                        frames = link.recv()
                        if frames is None:
                            break
                        session.handle(frames)
        finally:
            for session in self.sessions:
                session.stop()

    def start(self) -> None:
        """Run in a background thread."""
        self._thread = run_in_thread(self.run, "agent-runner", self)

    def request_stop(self) -> None:
        """Ask :meth:`run` to return (safe from any thread or a signal handler)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background thread."""
        if self._thread is not None:
            self._thread.join(timeout)
