"""Raw pyzmq baseline: the same frames PUB → zmq.proxy → SUB over CurveZMQ, nothing decoded.

``python -m bench.raw proxy FRONT BACK KEYDIR`` runs an XSUB/XPUB proxy (CURVE server on both
sides); ``python -m bench.raw pub FRONT KEYDIR FRAMESFILE SECONDS`` publishes the frames in
FRAMESFILE (msgpack list of bytes) as fast as libzmq takes them.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import msgspec
import zmq
import zmq.auth


def _server(sock: zmq.Socket[bytes], keydir: Path) -> None:
    public, secret = zmq.auth.load_certificate(str(keydir / "hub.key_secret"))
    sock.curve_server = True
    sock.curve_publickey = public
    sock.curve_secretkey = secret


def client(sock: zmq.Socket[bytes], keydir: Path, identity: str) -> None:
    """Make ``sock`` a CURVE client of the baseline's server key."""
    public, secret = zmq.auth.load_certificate(str(keydir / f"{identity}.key_secret"))
    server, _ = zmq.auth.load_certificate(str(keydir / "hub.key"))
    sock.curve_serverkey = server
    sock.curve_publickey = public
    sock.curve_secretkey = secret


def proxy(front: str, back: str, keydir: Path) -> None:
    ctx = zmq.Context()
    xsub = ctx.socket(zmq.XSUB)
    xpub = ctx.socket(zmq.XPUB)
    for sock in (xsub, xpub):
        sock.linger = 0
        _server(sock, keydir)
    xsub.rcvhwm = 50_000
    xpub.sndhwm = 50_000
    xsub.bind(front)
    xpub.bind(back)
    with contextlib.suppress(KeyboardInterrupt, zmq.ContextTerminated):
        zmq.proxy(xsub, xpub)


def pub(front: str, keydir: Path, frames_file: Path, seconds: float) -> None:
    frames = msgspec.msgpack.decode(frames_file.read_bytes(), type=list[bytes])
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.linger = 0
    sock.sndhwm = 50_000
    client(sock, keydir, "agent")
    sock.connect(front)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(100):
            sock.send_multipart(frames)
    sock.close()
    ctx.term()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "proxy":
        proxy(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        pub(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), float(sys.argv[5]))
