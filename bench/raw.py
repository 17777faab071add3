"""Raw pyzmq baseline: the same frames PUB → zmq.proxy → SUB over CurveZMQ, nothing decoded.

``python -m bench.raw proxy FRONT BACK KEYDIR`` runs an XSUB/XPUB proxy (CURVE server on both
sides); ``python -m bench.raw pub FRONT KEYDIR FRAMESFILE SECONDS`` publishes the frames in
FRAMESFILE (msgpack list of bytes) as fast as libzmq takes them. :func:`baseline` runs both and
measures what a SUB in this process receives: the machine's raw pyzmq figure, printed beside the
benchmarks' own so that runs on different machines can be compared.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import msgspec
import numpy as np
import zmq
import zmq.auth

from copilot.protocol import Codec, Header
from copilot.protocol.columns import pack

TAGS = 200
BATCH_TICKS = 5  # the ingest benchmark's DATA message: 5 ticks of a machine's 200 tags


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


def baseline(data: Path, window: float, tags: int = TAGS, batch_ticks: int = BATCH_TICKS) -> float:
    """Samples/s of DATA frames (``tags`` × ``batch_ticks`` samples each) PUB → proxy → SUB."""
    from bench.rig import Rig  # here, so that ``python -m bench.raw`` stays light

    batch = tags * batch_ticks
    frames = Codec().frames(
        Header(src="load-000", epoch=1, seq=1, ts=time.time_ns(), hub_epoch=1, hub_seq=1),
        pack(
            np.tile(np.arange(tags), batch_ticks),
            np.full(batch, 50.0),
            np.full(batch, time.time_ns()),
        ),
    )
    data.mkdir(parents=True, exist_ok=True)
    frames_file = data / "frames.msgpack"
    frames_file.write_bytes(msgspec.msgpack.encode([b"m/load-000/", *frames]))
    rig = Rig(data / "raw")
    host, port = rig.address.rsplit(":", 1)
    front, back = rig.address, f"{host}:{int(port) + 1}"
    keys = data / "raw" / "keys"
    rig.spawn("bench.raw", "proxy", front, back, str(keys))
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    sub.rcvhwm = 50_000
    client(sub, keys, "station")
    sub.connect(back)
    sub.subscribe(b"")
    rig.spawn("bench.raw", "pub", front, str(keys), str(frames_file), str(window + 4))
    try:
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        if not poller.poll(10_000):
            raise RuntimeError("raw baseline got nothing")
        end_warm = time.monotonic() + 1.5
        while time.monotonic() < end_warm:
            sub.recv_multipart()
        count, t0 = 0, time.monotonic()
        end = t0 + window
        while time.monotonic() < end:
            if poller.poll(100):
                sub.recv_multipart()
                count += 1
        return count * batch / (time.monotonic() - t0)
    finally:
        sub.close()
        ctx.term()
        rig.close()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "proxy":
        proxy(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        pub(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), float(sys.argv[5]))
