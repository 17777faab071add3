"""One-shot requests to the hub (``copilot machines`` and other command-line tools)."""

from __future__ import annotations

import time

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
