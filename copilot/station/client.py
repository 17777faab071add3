"""One-shot requests to the hub (``copilot machines`` and other command-line tools)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from copilot.bus import Bus, Poller, Security, hub_endpoints
from copilot.protocol import Body, Codec, ErrorReply, Header


class HubUnreachableError(Exception):
    """No hub answered in time; the message says where we looked and why it may have failed."""


def request_once(security: Security, hub: str, body: Body, timeout_s: float = 5.0) -> Body:
    """Send one request to the hub's control socket and return its first answer."""
    router_ep, _ = hub_endpoints(hub)
    bus = Bus(security)
    try:
        dealer = bus.dealer(router_ep)
        watch = None if security.insecure else bus.watch(dealer, "client")
        codec = Codec()
        header = Header(src="cli:copilot", epoch=time.time_ns(), seq=0, ts=time.time_ns())
        frames = codec.frames(header, body)
        poller = Poller([dealer])
        deadline = time.monotonic() + timeout_s
        sent = False
        failure = ""
        while time.monotonic() < deadline:
            if not sent:
                sent = dealer.send(frames, block=False)
            if poller.poll(0.05 if not sent else min(0.2, deadline - time.monotonic())):
                got = dealer.recv()
                if got is not None:
                    decoded = codec.decode(got)
                    if decoded is not None:
                        reply = decoded[1]
                        if isinstance(reply, ErrorReply):
                            raise HubUnreachableError(f"The hub says: {reply.message}")
                        return reply
            if watch is not None:
                failures = watch.drain()
                if failures:
                    failure = failures[-1]
        reason = f" Last error: {failure}" if failure else ""
        raise HubUnreachableError(f"No hub answered at {hub} within {timeout_s:g} s.{reason}")
    finally:
        bus.close()


class HubClient:
    """A short conversation with the hub on one DEALER (the CLI's gate commands).

    Every answer to this client's requests — and, for a command, every status the hub relays
    about it — comes back on the same socket, so :meth:`answers` can follow a command to its
    end without subscribing to anything.
    """

    def __init__(self, security: Security, hub: str, name: str = "cli:copilot") -> None:
        router_ep, _ = hub_endpoints(hub)
        self.hub = hub
        self._bus = Bus(security)
        self._dealer = self._bus.dealer(router_ep)
        self._watch = None if security.insecure else self._bus.watch(self._dealer, "client")
        self._codec = Codec()
        self._poller = Poller([self._dealer])
        self._name = name
        self._seq = 0
        self._epoch = time.time_ns()

    def send(self, body: Body, timeout_s: float = 5.0) -> None:
        """Queue ``body`` for the hub (raises :class:`HubUnreachableError` if it cannot)."""
        self._seq += 1
        header = Header(src=self._name, epoch=self._epoch, seq=self._seq, ts=time.time_ns())
        frames = self._codec.frames(header, body)
        deadline = time.monotonic() + timeout_s
        while not self._dealer.send(frames, block=False):
            if time.monotonic() > deadline:
                raise HubUnreachableError(f"No hub took the request at {self.hub}.")
            time.sleep(0.01)

    def answers(self, timeout_s: float) -> Iterator[Body]:
        """Answers as they arrive, until ``timeout_s`` passes without the caller stopping."""
        deadline = time.monotonic() + timeout_s
        failure = ""
        while (left := deadline - time.monotonic()) > 0:
            if self._poller.poll(min(0.2, left)):
                got = self._dealer.recv()
                decoded = self._codec.decode(got) if got is not None else None
                if decoded is not None:
                    yield decoded[1]
                    continue
            if self._watch is not None:
                failures = self._watch.drain()
                if failures:
                    failure = failures[-1]
        reason = f" Last error: {failure}" if failure else ""
        raise HubUnreachableError(f"No answer from the hub at {self.hub} in time.{reason}")

    def close(self) -> None:
        """Close the socket."""
        self._bus.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
