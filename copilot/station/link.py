"""The station's sockets and the one I/O thread that owns them.

:class:`HubLink` opens a SUB (the hub's updates) and a DEALER (snapshots, history, commands) on
its own thread, polls them with a wake-up pipe, decodes every message and hands it to a
:class:`LinkHandler`. Other threads never touch a socket: :meth:`HubLink.submit` queues a
request and wakes the thread, which sends it. An exception while handling one message is
counted (``apply_error``), logged once per kind with its context, and the loop goes on: no
message, however hostile, ends the thread. libzmq never retries a handshake the hub refused, so
each socket is a :class:`~copilot.bus.Redial`: after a refusal it is replaced by a new one
(after ``redial_min_ms``, doubling up to ``redial_max_ms``), so a key the hub allows later
connects by itself.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

from copilot.bus import Bus, Link, Poller, Redial, hub_endpoints
from copilot.proc import run_in_thread
from copilot.protocol import Body, Codec, DropCounters, Header
from copilot.settings import StationSettings
from copilot.station.frames import FrameGate

log = logging.getLogger(__name__)

_BURST = 10_000  # replies read from the DEALER before the others get a turn
_SUB_BURST = 256  # updates read before replies and requests to send get a turn (latency)
_TICK_S = 0.25


class LinkHandler(Protocol):
    """What the I/O thread calls; every method runs on the I/O thread."""

    def on_start(self) -> None:
        """The sockets are open (ask for the first snapshot here)."""

    def on_update(self, header: Header, body: Body) -> None:
        """A message from the hub's update stream (SUB)."""

    def on_reply(self, header: Header, body: Body) -> None:
        """A message on the control socket (DEALER): snapshot, history, command status."""

    def on_unsent(self, body: Body) -> None:
        """A submitted request could not be handed to the socket (the hub is unreachable)."""

    def on_handshake_failures(self, failures: list[str]) -> None:
        """Security handshakes failed since the last tick (sentences, already logged)."""

    def on_relink(self, which: str) -> None:
        """A socket (``"dealer"`` or ``"sub"``) was replaced after a refused handshake.

        Whatever was sent on the old DEALER and not yet answered will not be answered.
        """

    def tick(self, now: float) -> None:
        """Housekeeping, about every 0.25 s (monotonic time)."""


class HubLink:
    """Sockets to one hub and the thread that owns them."""

    def __init__(
        self,
        bus: Bus,
        hub: str,
        settings: StationSettings,
        name: str,
        drops: DropCounters,
    ) -> None:
        self.bus = bus
        self.name = name
        self.settings = settings
        self.router_ep, self.pub_ep = hub_endpoints(hub)
        self.drops = drops
        self.codec = Codec(drops)
        self.sub: Link | None = None
        self.dealer: Link | None = None
        self._sub_redial: Redial | None = None
        self._dealer_redial: Redial | None = None
        self.redials = 0  # sockets replaced after a refused handshake
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.apply_errors = 0
        self._handler: LinkHandler | None = None
        self._requests: queue.SimpleQueue[Body] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stop = threading.Event()
        self._pause_until = 0.0
        self.frames = FrameGate()  # the views' frames come first (see copilot.station.frames)
        self._logged: set[str] = set()

    # -- any thread -------------------------------------------------------------------------------

    def start(self, handler: LinkHandler) -> None:
        """Open the sockets and run the I/O thread, calling ``handler``."""
        self._handler = handler
        self.thread = run_in_thread(self._run, "station-io", self)

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the I/O thread and close its sockets; ``False`` if it did not stop in time."""
        if self._stop.is_set():
            return True  # already stopped: the wake-up fds may belong to someone else by now
        self._stop.set()
        self.wake()
        if self.thread is not None:
            self.thread.join(timeout)
            if self.thread.is_alive():
                log.error("station I/O thread did not stop within %.1f s", timeout)
                return False  # keep the fds open: the thread may still poll them
        os.close(self._wake_r)
        os.close(self._wake_w)
        return True

    def submit(self, body: Body) -> None:
        """Queue a request for the I/O thread to send."""
        self._requests.put(body)
        self.wake()

    def pause(self, seconds: float) -> None:
        """Fault injection: stop reading the sockets for ``seconds``, as a stalled station would."""
        self._pause_until = time.monotonic() + seconds
        self.wake()

    def wake(self) -> None:
        """Interrupt the I/O thread's poll."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    @property
    def handshake_ok(self) -> bool | None:
        """Whether a security handshake with the hub succeeded (``None``: insecure, no check)."""
        if self.bus.security.insecure or self._dealer_redial is None:
            return None
        return self._dealer_redial.connected

    # -- I/O thread -------------------------------------------------------------------------------

    def send(self, body: Body) -> bool:
        """Hand ``body`` to the control socket without blocking; ``False`` if it cannot take it."""
        assert self.dealer is not None
        header = Header(src=f"station:{self.name}", epoch=0, seq=0, ts=time.time_ns())
        if self.dealer.send(self.codec.frames(header, body), block=False):
            return True
        log.debug("station: hub unreachable; %s not sent.", type(body).__name__)
        return False

    def _redial(self, make: Callable[[], Link]) -> Redial:
        return Redial(
            self.bus,
            make,
            f"station {self.name}",
            min_s=self.settings.redial_min_ms / 1000,
            max_s=self.settings.redial_max_ms / 1000,
        )

    def _make_sub(self) -> Link:
        sub = self.bus.sub(
            self.pub_ep, rcvhwm=self.settings.rcvhwm, rcvbuf=self.settings.rcvbuf_bytes
        )
        sub.subscribe(b"")
        return sub

    def _run(self) -> None:
        handler = self._handler
        assert handler is not None
        self._sub_redial = self._redial(self._make_sub)
        self._dealer_redial = self._redial(lambda: self.bus.dealer(self.router_ep))
        self.sub = self._sub_redial.link
        self.dealer = self._dealer_redial.link
        poller = Poller([self.sub, self.dealer])
        poller.register_fd(self._wake_r)
        self._guarded("start", handler.on_start)
        next_tick = time.monotonic() + _TICK_S
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now < self._pause_until:
                    self._stop.wait(self._pause_until - now)
                    continue
                ready = poller.poll(max(0.0, next_tick - now))
                self._drain_wake()
                self._drain_requests(handler)
                if self.dealer in ready:
                    self._drain_dealer(handler)
                if self.sub in ready:
                    self._drain_sub(handler)
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + _TICK_S
                    self._tick(handler, poller, now)
        finally:
            for redial in (self._sub_redial, self._dealer_redial):
                redial.close()

    def _maintain(self, handler: LinkHandler, poller: Poller, now: float) -> list[str]:
        """Read both sockets' handshake events, replace a refused one; the failures seen."""
        failures: list[str] = []
        for which, redial in (("dealer", self._dealer_redial), ("sub", self._sub_redial)):
            assert redial is not None
            watch, old = redial.watch, redial.link
            before = watch.failures if watch is not None else 0
            replaced = redial.poll(now)
            if watch is not None and watch.failures > before:
                failures.extend([watch.last_failure] * (watch.failures - before))
            if not replaced:
                continue
            self.redials += 1
            poller.unregister(old)
            poller.register(redial.link)
            if which == "dealer":
                self.dealer = redial.link
            else:
                self.sub = redial.link
            self._guarded("relink", functools.partial(handler.on_relink, which))
        return failures

    def failed(self, where: str, what: str, exc: Exception) -> None:
        """One message (or tick) could not be handled: count it, log it once per kind."""
        self.apply_errors += 1
        self.drops.count("apply_error")
        key = f"{where}/{what}/{type(exc).__name__}"
        if key not in self._logged and len(self._logged) < 100:
            self._logged.add(key)
            log.error("station: %s of a %s failed; skipped.", where, what, exc_info=exc)
        else:
            log.debug("station: %s of a %s failed again: %s", where, what, exc)

    def _guarded(self, where: str, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception as exc:
            self.failed(where, "call", exc)

    def _tick(self, handler: LinkHandler, poller: Poller, now: float) -> None:
        failures = self._maintain(handler, poller, now)
        if failures:
            self._guarded("handshake report", lambda: handler.on_handshake_failures(failures))
        self._guarded("housekeeping", lambda: handler.tick(now))

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _drain_requests(self, handler: LinkHandler) -> None:
        while True:
            try:
                body = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                if not self.send(body):
                    handler.on_unsent(body)
            except Exception as exc:  # e.g. a request that cannot be encoded
                self.failed("sending", type(body).__name__, exc)

    def _drain_dealer(self, handler: LinkHandler) -> None:
        assert self.dealer is not None
        for _ in range(_BURST):
            frames = self.dealer.recv()
            if frames is None:
                return
            decoded = self.codec.decode(frames)
            if decoded is None:
                continue
            try:
                handler.on_reply(*decoded)
            except Exception as exc:
                self.failed("applying", type(decoded[1]).__name__, exc)

    def _drain_sub(self, handler: LinkHandler) -> None:
        assert self.sub is not None
        for _ in range(_SUB_BURST):
            self.frames.hold_off()
            frames = self.sub.recv()
            if frames is None:
                return
            if len(frames) != 4:
                self.drops.count("frame_count")
                continue
            decoded = self.codec.decode(frames[1:])
            if decoded is None:
                continue
            try:
                handler.on_update(*decoded)
            except Exception as exc:
                self.failed("applying", type(decoded[1]).__name__, exc)
