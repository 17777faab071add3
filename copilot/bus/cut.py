"""Per-connection knowledge and surgery for the hub: which key and socket sent what, and cut it.

libzmq hides connections behind a socket, but each received message can tell the ZAP
``User-Id`` of its connection and the file descriptor it arrived on (``ZMQ_SRCFD``). The hub's
update stream is an XPUB with ``XPUB_VERBOSE`` so every subscriber's subscription frames
arrive too, each with its key and descriptor. Revoking a key then shuts down exactly those
descriptors (``shutdown(2)`` on a duplicate, never ``close`` of libzmq's own): libzmq drops
the pipe, the peer's reconnect meets ZAP and is refused, and no other peer notices — both
sockets stay bound.
"""

from __future__ import annotations

import contextlib
import os
import socket

import zmq

from copilot.bus.transport import Bus, Link


def xpub(bus: Bus, endpoint: str, *, sndhwm: int = 50_000, sndbuf: int = 0) -> Link:
    """Bind the hub's update stream as an XPUB that reports every subscription (verbose).

    ``sndbuf`` (bytes, 0: the system's default) is each connection's kernel send buffer.
    """
    # No ZMTP heartbeats on the update stream: see Bus.pub.
    link = bus._socket(zmq.XPUB, "pub", zmtp_heartbeats=False)
    link.sock.setsockopt(zmq.SNDHWM, sndhwm)
    if sndbuf:
        link.sock.setsockopt(zmq.SNDBUF, sndbuf)
    link.sock.setsockopt(zmq.HANDSHAKE_IVL, 3000)
    link.sock.setsockopt(zmq.XPUB_VERBOSE, 1)
    bus._server_security(link)
    bus._bind(link, endpoint)
    return link


def limit_message_size(link: Link, max_bytes: int) -> None:
    """Refuse (drop the connection of) any incoming message above ``max_bytes``."""
    link.sock.setsockopt(zmq.MAXMSGSIZE, max_bytes)


def _origin(frame: zmq.Frame, secure: bool) -> tuple[str, int]:
    user = ""
    if secure:
        with contextlib.suppress(zmq.ZMQError):
            user = str(frame.get("User-Id") or "")
    try:
        fd = int(frame.get(zmq.SRCFD))
    except zmq.ZMQError:
        fd = -1
    return user, fd


def recv_from(link: Link, secure: bool) -> tuple[list[bytes], str, int] | None:
    """One message without blocking: its frames, the connection's User-Id and descriptor."""
    try:
        parts = link.sock.recv_multipart(flags=zmq.NOBLOCK, copy=False)
    except zmq.Again:
        return None
    user, fd = _origin(parts[-1], secure)
    return [p.bytes for p in parts], user, fd


def recv_body_from(link: Link, secure: bool) -> tuple[list[bytes], memoryview, str, int] | None:
    """:func:`recv_from`, but the last part (the body) is not copied: a view of its frame.

    The view's ``obj`` is the received frame; :meth:`Link.send` given that view's frame
    (see :func:`frame_of`) forwards the body without copying it either.
    """
    try:
        parts = link.sock.recv_multipart(flags=zmq.NOBLOCK, copy=False)
    except zmq.Again:
        return None
    user, fd = _origin(parts[-1], secure)
    return [p.bytes for p in parts[:-1]], parts[-1].buffer, user, fd


def frame_of(body: bytes | memoryview) -> bytes | zmq.Frame:
    """What to send for ``body``: the received frame itself when ``body`` is a view of one."""
    if isinstance(body, memoryview) and isinstance(body.obj, zmq.Frame):
        return body.obj
    return body if isinstance(body, bytes) else bytes(body)


def connection_id(fd: int) -> int:
    """An id of the connection now on ``fd`` (its socket's inode), or -1 if none is open.

    A descriptor number is reused after a connection closes; the inode is not, so the hub
    can tell whether ``fd`` is still the connection it saw a key on.
    """
    if fd < 0:
        return -1
    try:
        return os.fstat(fd).st_ino
    except OSError:
        return -1


def cut(fd: int) -> bool:
    """Shut down the connection on ``fd`` (libzmq notices, closes it and forgets the peer)."""
    if fd < 0:
        return False
    try:
        dup = os.dup(fd)
    except OSError:
        return False
    sock = socket.socket(fileno=dup)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    finally:
        sock.close()  # closes the duplicate only; libzmq's descriptor closes when it sees EOF
    return True
