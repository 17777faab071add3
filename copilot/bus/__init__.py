"""The transport: ZeroMQ sockets, CurveZMQ keys and the hub's allow-list.

This package is the only place that imports ``zmq`` (an import-linter contract says so).
"""

from copilot.bus.cut import (
    connection_id,
    cut,
    frame_of,
    limit_message_size,
    recv_body_from,
    recv_from,
    xpub,
)
from copilot.bus.keys import (
    AllowedKey,
    AllowList,
    KeyFileError,
    KeyPair,
    KeyStore,
    parse_machines,
)
from copilot.bus.redial import Redial
from copilot.bus.transport import (
    Bus,
    BusError,
    Gatekeeper,
    HandshakeWatch,
    Link,
    Poller,
    Security,
    hub_endpoints,
)

__all__ = [
    "AllowList",
    "AllowedKey",
    "Bus",
    "BusError",
    "Gatekeeper",
    "HandshakeWatch",
    "KeyFileError",
    "KeyPair",
    "KeyStore",
    "Link",
    "Poller",
    "Redial",
    "Security",
    "connection_id",
    "cut",
    "frame_of",
    "hub_endpoints",
    "limit_message_size",
    "parse_machines",
    "recv_body_from",
    "recv_from",
    "xpub",
]
