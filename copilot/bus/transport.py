"""ZeroMQ sockets, security and polling — the only place that talks to libzmq.

A :class:`Bus` owns one context; :class:`Link` wraps one socket and is used by exactly one
thread. Every socket gets ``LINGER=0``, ZMTP heartbeats and a maximum message size; servers
are CurveZMQ servers whose clients are checked against the allow-list by a ZAP
:class:`Gatekeeper`; clients pin the hub's key. ``insecure=True`` turns all of that off.
Handshake failures are reported on both sides through :class:`HandshakeWatch`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import zmq
import zmq.auth.thread
import zmq.utils.z85
from zmq.utils.monitor import recv_monitor_message

from copilot.bus.keys import AllowList, KeyFileError, KeyPair, KeyStore

log = logging.getLogger(__name__)

MAX_MSG_BYTES = 8 * 1024 * 1024
ZAP_DOMAIN = "copilot"


class BusError(Exception):
    """A socket could not be set up; the message is one sentence for a person."""


def hub_endpoints(address: str) -> tuple[str, str]:
    """The hub's ROUTER and PUB endpoints for a hub address.

    ``tcp://host:P`` → ``tcp://host:P`` and ``tcp://host:P+1``;
    ``ipc:///path/x`` → ``ipc:///path/x.ctl`` and ``ipc:///path/x.pub``.
    """
    parsed = urlparse(address)
    if parsed.scheme == "tcp":
        try:
            port = parsed.port
        except ValueError:  # urllib refuses ports outside 0–65535 and non-numbers
            port = None
        if not parsed.hostname or port is None or not 0 < port < 65535:
            raise BusError(
                f"Hub address {address!r} needs a host and a port between 1 and 65534, e.g. "
                "tcp://host:7700."
            )
        host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
        return f"tcp://{host}:{port}", f"tcp://{host}:{port + 1}"
    if parsed.scheme == "ipc":
        path = address[len("ipc://") :]
        return f"ipc://{path}.ctl", f"ipc://{path}.pub"
    raise BusError(f"Hub address {address!r} must start with tcp:// or ipc://.")


@dataclass
class Security:
    """How a process secures its sockets."""

    insecure: bool
    keys: KeyStore | None = None
    identity: str = "station"

    @classmethod
    def from_data_path(cls, data_path: Path, identity: str, insecure: bool) -> Security:
        """Secure by default: creates this host's keys on first run."""
        if insecure:
            return cls(insecure=True)
        store = KeyStore(data_path)
        if not store.exists():
            store.init()
        security = cls(insecure=False, keys=store, identity=identity)
        security.pair()  # fail now, with the file's name, rather than inside an I/O thread
        if identity != "hub":
            store.hub_public()
        return security

    def pair(self) -> KeyPair:
        """The key pair of this process."""
        assert self.keys is not None
        return self.keys.identity(self.identity)

    def label(self) -> str:
        """``secure (CURVE)`` or ``INSECURE``, for every UI."""
        return "INSECURE (no encryption)" if self.insecure else "secure (CurveZMQ)"


class Gatekeeper(zmq.auth.thread.ThreadAuthenticator):
    """ZAP handler: admits keys on the allow-list, names them ``role:name``, counts refusals.

    The allow-list is re-read when its file changes, so a key allowed or revoked by
    ``copilot keys`` applies to the next handshake without a restart.
    """

    def __init__(self, context: zmq.Context[Any], keys: KeyStore) -> None:
        super().__init__(context=context, log=logging.getLogger("copilot.bus.zap"))
        self._keys = keys
        self._allow = AllowList()
        self._mtime = -1.0
        self._lock = threading.Lock()
        self.refused: Counter[str] = Counter()
        self.last_refusal = ""
        self.error: KeyFileError | None = None  # the allow-list on disk cannot be used

    def load(self) -> AllowList:
        """Read the allow-list now; an unreadable or corrupt one raises :class:`KeyFileError`."""
        with self._lock:
            mtime = self._keys.allowlist_mtime()
            self._allow = self._keys.load_allowlist()
            self._mtime = mtime
            self.error = None
            return self._allow

    def allowlist(self) -> AllowList:
        """The current allow-list, re-read if the file changed.

        If a changed file cannot be used, the previous list stays in force and :attr:`error`
        holds the one-sentence reason (a hub checks it and stops rather than run on a stale
        or empty list).
        """
        with self._lock:
            mtime = self._keys.allowlist_mtime()
            if mtime != self._mtime:
                try:
                    self._allow = self._keys.load_allowlist()
                    self.error = None
                except KeyFileError as exc:
                    if self.error is None or str(exc) != str(self.error):
                        log.error("%s", exc)
                    self.error = exc
                self._mtime = mtime
            return self._allow

    def callback(self, domain: str, key: bytes) -> bool:
        """ZAP credentials callback (runs on the authenticator thread)."""
        allow = self.allowlist()
        if allow.role_of(key) is not None:
            return True
        text = key.decode("ascii", "replace")
        revoked = [k.name for k in allow.revoked if k.public == text]
        reason = f"revoked key {revoked[0]!r}" if revoked else f"unknown key {text[:8]}…"
        with self._lock:
            self.refused[reason] += 1
            self.last_refusal = reason
        log.warning("Refused a connection: %s (admit it with `copilot keys allow`).", reason)
        return False

    def curve_user_id(self, client_public_key: bytes) -> str:
        """User-Id carried on every message of an admitted connection: ``role:name``."""
        found = self.allowlist().role_of(zmq.utils.z85.encode(client_public_key))
        return f"{found[1]}:{found[0]}" if found else "unknown"

    def start(self) -> None:
        """Start the ZAP thread with this object as the credentials provider."""
        super().start()
        self.configure_curve_callback(domain=ZAP_DOMAIN, credentials_provider=self)


class Link:
    """One socket, owned by one thread."""

    def __init__(self, sock: zmq.Socket[bytes], name: str) -> None:
        self.sock = sock
        self.name = name

    def send(self, frames: Sequence[bytes | zmq.Frame], *, block: bool = True) -> bool:
        """Send a multipart message; ``False`` if it would block (high-water mark reached).

        A part given as a received :class:`zmq.Frame` is sent without copying its bytes.
        """
        try:
            self.sock.send_multipart(frames, flags=0 if block else zmq.NOBLOCK, copy=True)
        except zmq.Again:
            return False
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                return False
            raise
        return True

    def recv(self) -> list[bytes] | None:
        """Receive one multipart message without blocking; ``None`` if there is none."""
        try:
            return self.sock.recv_multipart(flags=zmq.NOBLOCK)
        except zmq.Again:
            return None

    def recv_with_user(self) -> tuple[list[bytes], str] | None:
        """Receive one message and the ZAP User-Id of its connection (``""`` if insecure)."""
        try:
            parts = self.sock.recv_multipart(flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return None
        user = ""
        try:
            user = str(parts[-1].get("User-Id") or "")
        except zmq.ZMQError:
            user = ""
        return [p.bytes for p in parts], user

    def subscribe(self, prefix: bytes) -> None:
        """SUB only: receive topics starting with ``prefix``."""
        self.sock.setsockopt(zmq.SUBSCRIBE, prefix)

    def close(self, linger_ms: int = 0) -> None:
        """Close, dropping anything still unsent after ``linger_ms`` (default: at once)."""
        self.sock.close(linger=linger_ms)


class HandshakeWatch:
    """Reads a socket's monitor events and turns failed handshakes into sentences."""

    _EVENTS = (
        zmq.EVENT_HANDSHAKE_FAILED_AUTH
        | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
        | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
        | zmq.EVENT_HANDSHAKE_SUCCEEDED
        | zmq.EVENT_DISCONNECTED
        | zmq.EVENT_CONNECTED
    )

    def __init__(self, link: Link, side: str) -> None:
        self.link = Link(link.sock.get_monitor_socket(self._EVENTS), f"{link.name}-monitor")
        self._target = link
        self.side = side
        self.failures = 0
        self.disconnects = 0
        self.last_failure = ""
        self.connected = False

    def drain(self) -> list[str]:
        """Handle pending events; return the failure sentences (already logged)."""
        out = []
        while True:
            try:
                msg = recv_monitor_message(self.link.sock, flags=zmq.NOBLOCK)
            except zmq.Again:
                break
            event = msg["event"]
            value = msg["value"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.connected = True
                continue
            if event == zmq.EVENT_DISCONNECTED:
                self.connected = False
                self.disconnects += 1
                continue
            if event == zmq.EVENT_CONNECTED:
                continue
            if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                text = (
                    f"{self.side}: the hub refused this key (ZAP status {value}); "
                    "admit it on the hub with `copilot keys allow`."
                    if self.side != "hub"
                    else f"hub: refused a client's key (ZAP status {value})."
                )
            elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                text = (
                    f"{self.side}: security handshake failed (protocol error {value:#x}): "
                    "the two sides disagree on keys or on secure/insecure mode."
                )
            else:
                text = (
                    f"{self.side}: security handshake failed: wrong hub key, or one side runs "
                    "with --insecure and the other does not."
                )
            self.failures += 1
            if text != self.last_failure or self.failures in (1, 10, 100):
                log.error("%s", text)
            self.last_failure = text
            out.append(text)
        return out

    def close(self) -> None:
        """Stop monitoring and close the monitor socket."""
        with contextlib.suppress(zmq.ZMQError):
            self._target.sock.disable_monitor()
        self.link.close()


@dataclass
class Bus:
    """One ZeroMQ context and everything created from it; :meth:`close` ends it all."""

    security: Security
    ctx: zmq.Context[Any] = field(default_factory=zmq.Context)
    gatekeeper: Gatekeeper | None = None
    links: list[Link] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ctx.setsockopt(zmq.LINGER, 0)

    # -- construction -------------------------------------------------------------------------

    def _socket(self, kind: int, name: str, zmtp_heartbeats: bool = True) -> Link:
        sock: zmq.Socket[bytes] = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MSG_BYTES)
        if zmtp_heartbeats:
            sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
            sock.setsockopt(zmq.HEARTBEAT_TTL, 3000)
        link = Link(sock, name)
        self.links.append(link)
        return link

    def _server_security(self, link: Link) -> None:
        if self.security.insecure:
            return
        if self.gatekeeper is None:
            assert self.security.keys is not None
            gatekeeper = Gatekeeper(self.ctx, self.security.keys)
            gatekeeper.load()  # an unusable allow-list stops the server here, in one sentence
            gatekeeper.start()
            self.gatekeeper = gatekeeper
        pair = self.security.pair()
        link.sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN.encode())
        link.sock.setsockopt(zmq.CURVE_SERVER, 1)
        link.sock.setsockopt(zmq.CURVE_PUBLICKEY, pair.public)
        link.sock.setsockopt(zmq.CURVE_SECRETKEY, pair.secret)

    def _client_security(self, link: Link, server_key: bytes | None) -> None:
        if self.security.insecure:
            return
        assert self.security.keys is not None
        pair = self.security.pair()
        link.sock.setsockopt(zmq.CURVE_SERVERKEY, server_key or self.security.keys.hub_public())
        link.sock.setsockopt(zmq.CURVE_PUBLICKEY, pair.public)
        link.sock.setsockopt(zmq.CURVE_SECRETKEY, pair.secret)

    def _bind(self, link: Link, endpoint: str) -> None:
        try:
            link.sock.bind(endpoint)
        except zmq.ZMQError as exc:
            link.close()
            self.links.remove(link)
            if exc.errno == zmq.EADDRINUSE:
                raise BusError(
                    f"Cannot listen on {endpoint}: the address is already in use "
                    "(is another hub running? choose another with --bind)."
                ) from None
            raise BusError(f"Cannot listen on {endpoint}: {exc.strerror}.") from None

    def router(self, endpoint: str, *, sndhwm: int = 10_000, rcvhwm: int = 100_000) -> Link:
        """Bind a secured ROUTER (agents and stations dial in)."""
        link = self._socket(zmq.ROUTER, "router")
        link.sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        link.sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        link.sock.setsockopt(zmq.SNDHWM, sndhwm)
        link.sock.setsockopt(zmq.RCVHWM, rcvhwm)
        link.sock.setsockopt(zmq.HANDSHAKE_IVL, 3000)
        self._server_security(link)
        self._bind(link, endpoint)
        return link

    def pub(self, endpoint: str, *, sndhwm: int = 50_000) -> Link:
        """Bind a secured PUB (stations subscribe); a slow station is dropped, never waited for."""
        # No ZMTP heartbeats on the update stream: a subscriber stalled at its high-water mark
        # cannot answer PINGs, the connection is dropped, and libzmq 4.3.5 then aborts on
        # reconnect (zeromq/libzmq#3937). Liveness there comes from the hub's own heartbeats.
        link = self._socket(zmq.PUB, "pub", zmtp_heartbeats=False)
        link.sock.setsockopt(zmq.SNDHWM, sndhwm)
        link.sock.setsockopt(zmq.HANDSHAKE_IVL, 3000)
        self._server_security(link)
        self._bind(link, endpoint)
        return link

    def dealer(
        self, endpoint: str, *, sndhwm: int = 10_000, server_key: bytes | None = None
    ) -> Link:
        """Connect a DEALER to a hub ROUTER; sends block (or report) at the high-water mark."""
        link = self._socket(zmq.DEALER, "dealer")
        link.sock.setsockopt(zmq.SNDHWM, sndhwm)
        link.sock.setsockopt(zmq.RCVHWM, 100_000)
        link.sock.setsockopt(zmq.IMMEDIATE, 1)
        link.sock.setsockopt(zmq.RECONNECT_IVL, 100)
        link.sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        self._client_security(link, server_key)
        link.sock.connect(endpoint)
        return link

    def sub(
        self,
        endpoint: str,
        *,
        rcvhwm: int = 100_000,
        rcvbuf: int = 0,
        server_key: bytes | None = None,
    ) -> Link:
        """Connect a SUB to a hub PUB (subscribe before asking for a snapshot)."""
        link = self._socket(zmq.SUB, "sub", zmtp_heartbeats=False)  # see pub()
        link.sock.setsockopt(zmq.RCVHWM, rcvhwm)
        if rcvbuf:
            link.sock.setsockopt(zmq.RCVBUF, rcvbuf)
        link.sock.setsockopt(zmq.RECONNECT_IVL, 100)
        link.sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        self._client_security(link, server_key)
        link.sock.connect(endpoint)
        return link

    def pair(self, endpoint: str, *, bind: bool) -> Link:
        """An inproc PAIR, to wake an I/O thread from another thread."""
        link = self._socket(zmq.PAIR, "pair")
        if bind:
            link.sock.bind(endpoint)
        else:
            link.sock.connect(endpoint)
        return link

    def watch(self, link: Link, side: str) -> HandshakeWatch:
        """Monitor ``link`` for failed security handshakes."""
        watch = HandshakeWatch(link, side)
        self.links.append(watch.link)
        return watch

    def forget(self, link: Link, linger_ms: int = 0) -> None:
        """Close one link now (e.g. to rebind after a key was revoked).

        ``linger_ms`` lets a last message (an agent's DEATH) leave; closing the context at
        :meth:`close` waits at most that long for it.
        """
        if link in self.links:
            self.links.remove(link)
        link.close(linger_ms)

    def close(self) -> None:
        """Close every socket, stop the ZAP thread and end the context, without lingering."""
        for link in reversed(self.links):
            link.close()
        self.links.clear()
        if self.gatekeeper is not None:
            self.gatekeeper.stop()
            self.gatekeeper = None
        self.ctx.term()


class Poller:
    """Waits on several links at once (level-triggered, no busy polling)."""

    def __init__(self, links: Iterable[Link] = ()) -> None:
        self._poller = zmq.Poller()
        self._by_sock: dict[Any, Link] = {}
        for link in links:
            self.register(link)

    def register(self, link: Link) -> None:
        """Wake up when ``link`` has something to read."""
        self._poller.register(link.sock, zmq.POLLIN)
        self._by_sock[link.sock] = link

    def unregister(self, link: Link) -> None:
        """Stop watching ``link``."""
        self._poller.unregister(link.sock)
        self._by_sock.pop(link.sock, None)

    def register_fd(self, fd: int) -> None:
        """Also wake up when the file descriptor ``fd`` is readable (a wake-up pipe)."""
        self._poller.register(fd, zmq.POLLIN)

    def poll(self, timeout_s: float) -> list[Link]:
        """Links with input, waiting at most ``timeout_s`` seconds (a ready fd also wakes it).

        The wait is rounded up to whole milliseconds: rounded down, a loop waiting for its
        next tick woke up to a millisecond early and then spun on zero-timeout polls until
        the tick (~0.5 ms of busy CPU every tick, 0.2-0.5 % of a core for the station and hub).
        """
        events = self._poller.poll(max(0, math.ceil(timeout_s * 1000)))
        return [self._by_sock[s] for s, _ in events if s in self._by_sock]


def monotonic() -> float:
    """Seconds on the monotonic clock (one name for every loop's timers)."""
    return time.monotonic()
