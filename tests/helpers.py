"""Helpers shared by the tests: waiting for conditions, free ports, real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from copilot.bus import Bus, Security
from copilot.proc import die_with_parent
from copilot.protocol import MachinesReply, MachinesRequest
from copilot.settings import StationSettings
from copilot.station import LinkState, Station
from copilot.station.client import HubUnreachableError, request_once

ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def free_hub_address() -> str:
    """A loopback address whose port P and P+1 are both free."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port > 65000:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return f"tcp://127.0.0.1:{port}"
    raise RuntimeError("no free port pair")


class Plant:
    """Real processes started for one test, all killed at the end."""

    def __init__(self, data_dir: Path, address: str) -> None:
        self.data_dir = data_dir
        self.address = address
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "COPILOT_DATA_DIR": str(data_dir),
            "COPILOT_CONFIG": str(data_dir / "none.toml"),
            "PYTHONUNBUFFERED": "1",
        }
        (data_dir / "none.toml").write_text("")

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "copilot", *args],
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent,  # no orphans even if the test run itself is killed
        )
        self.procs.append(proc)
        return proc

    def hub(self, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = self.spawn("hub", "--bind", self.address, *extra, env=env)
        self.wait_hub(proc)
        return proc

    def wait_hub(self, proc: subprocess.Popen[bytes] | None = None, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                _out, err = proc.communicate()
                raise AssertionError(f"hub exited {proc.returncode}: {err.decode()[-2000:]}")
            try:
                reply = request_once(self.security("cli"), self.address, MachinesRequest(), 0.5)
            except HubUnreachableError:
                continue
            assert isinstance(reply, MachinesReply)
            return
        raise AssertionError("hub did not answer")

    def sim(self, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return self.spawn("sim", "--hub", self.address, *extra, env=env)

    def security(self, identity: str, insecure: bool = False) -> Security:
        return Security.from_data_path(self.data_dir, identity, insecure)

    def machines(self) -> MachinesReply:
        reply = request_once(self.security("cli"), self.address, MachinesRequest(), 3)
        assert isinstance(reply, MachinesReply)
        return reply

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            proc.wait(5)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


class StationHandle:
    """An in-process station with its own bus, closed at the end of the test."""

    def __init__(self, security: Security, address: str, settings: StationSettings) -> None:
        self.bus = Bus(security)
        self.station = Station(self.bus, address, settings)
        self.station.start()

    def wait_live(self, timeout: float = 15) -> Station:
        wait_until(lambda: self.station.state == LinkState.LIVE, timeout, "station live")
        return self.station

    def close(self) -> None:
        self.station.stop()
        self.bus.close()


class InProcessHub:
    """A hub on a thread of the test process (real sockets), for reading its state directly."""

    def __init__(self, data_dir: Path, **settings: object) -> None:
        from copilot.hub import Hub
        from copilot.settings import HubSettings

        self.address = free_hub_address()
        self.bus = Bus(
            Security.from_data_path(data_dir, "hub", bool(settings.pop("insecure", False)))
        )
        self.hub = Hub(self.bus, HubSettings(bind=self.address, **settings))  # type: ignore[arg-type]
        self.hub.start()

    def close(self) -> None:
        self.hub.request_stop()
        self.hub.join(3)
        self.bus.close()


class CountingAgent:
    """An in-process agent for one small machine that publishes a counter every 50 ms."""

    def __init__(
        self,
        data_dir: Path,
        address: str,
        machine_id: str = "mixer-1",
        period_s: float = 0.05,
        insecure: bool = False,
    ) -> None:
        from copilot.agent import AgentRunner, AgentSession
        from copilot.protocol import MachineInfo, Range, TagSpec

        self.bus = Bus(Security.from_data_path(data_dir, "agent", insecure))
        self.count = 0
        self.publishing = True
        self.session = AgentSession(
            self.bus,
            address,
            MachineInfo(id=machine_id, name=machine_id.title(), kind="mixer"),
            [
                TagSpec(name="count", alias=0, type="int"),
                TagSpec(name="temp", alias=1, unit="°C", normal=Range(20, 60)),
            ],
        )

        def tick(now: float) -> None:
            if self.publishing:
                self.count += 1
                self.session.publish({"count": self.count, "temp": 20 + self.count % 40})

        self.runner = AgentRunner([self.session], tick, period_s)
        self.runner.start()

    def close(self) -> None:
        self.runner.request_stop()
        self.runner.join(3)
        self.bus.close()
