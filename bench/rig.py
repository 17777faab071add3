"""The processes of one benchmark run (hub, load, station…), and a spinning neighbour process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from copilot.bus import KeyStore, Security
from copilot.proc import die_with_parent
from copilot.protocol import MachinesRequest
from copilot.station.client import HubUnreachableError, request_once


def free_address() -> str:
    """A loopback TCP address whose port and port + 1 are free (the hub binds both)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return f"tcp://127.0.0.1:{port}"


class Rig:
    """The processes of one measurement, killed at the end."""

    def __init__(self, data: Path, config: str = "") -> None:
        self.data = data
        data.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "COPILOT_DATA_DIR": str(data),
            "COPILOT_CONFIG": str(data / "none.toml"),
        }
        (data / "none.toml").write_text(config)  # settings of this rig's processes
        KeyStore(data).init()
        self.address = free_address()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.hub: subprocess.Popen[bytes] | None = None

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        self.procs.append(proc)
        return proc

    def start_hub(self) -> subprocess.Popen[bytes]:
        self.hub = self.spawn("copilot", "-q", "hub", "--bind", self.address)
        security = Security.from_data_path(self.data, "cli", False)
        for _ in range(50):
            try:
                request_once(security, self.address, MachinesRequest(), 0.5)
                return self.hub
            except HubUnreachableError:
                continue
        raise RuntimeError("hub did not start")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


SPIN = "while True:\n    pass\n"


@contextlib.contextmanager
def busy_core(enabled: bool) -> Iterator[subprocess.Popen[bytes] | None]:
    """Keep one core busy with another process (a spinning Python) while the block runs."""
    if not enabled:
        yield None
        return
    proc = subprocess.Popen(
        [sys.executable, "-c", SPIN],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
