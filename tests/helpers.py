"""Helpers shared by the tests: waiting for conditions, free ports, real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from copilot.bus import Bus, Security
from copilot.proc import die_with_parent
from copilot.protocol import MachinesReply, MachinesRequest
from copilot.settings import StationSettings
from copilot.station import LinkState, Station
from copilot.station.client import HubUnreachableError, request_once

ROOT = Path(__file__).resolve().parents[1]


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

    def ask(self, body: Any, answer: type[Any], timeout: float = 3.0) -> Any:
        """One request with the CLI key; its answer (of type ``answer``) or ``None``."""
        try:
            reply = request_once(self.security("cli"), self.address, body, timeout)
        except HubUnreachableError:
            return None
        return reply if isinstance(reply, answer) else None

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


# -- hostile peers and the hub's own account of them (tests/core/test_trust.py) ---------------


def run_cli(
    plant: Plant, *args: str, timeout: float = 30, env_hub: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``copilot ARGS`` on the plant's data folder (``env_hub``: COPILOT_HUB set to it)."""
    return subprocess.run(
        [sys.executable, "-m", "copilot", *args],
        env={**plant.env, **({"COPILOT_HUB": plant.address} if env_hub else {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def allow_key(
    plant: Plant, key_file: Path, name: str, role: str = "agent", machines: str = ""
) -> bool:
    """``copilot keys allow FILE --role R --name N [--machines M]``; whether the binding took.

    A CLI without ``--machines`` (before machine bindings landed) admits the key unbound, and
    ``False`` says so: the hub's first-claim rule is then the only thing protecting a machine.
    """
    args = ["keys", "allow", str(key_file), "--role", role, "--name", name]
    done = run_cli(plant, *args, *(["--machines", machines] if machines else []))
    if machines and done.returncode != 0 and "--machines" in done.stderr:
        done = run_cli(plant, *args)
        assert done.returncode == 0, done.stderr
        return False
    assert done.returncode == 0, done.stderr
    return bool(machines)


def hub_limits(**limits: object) -> dict[str, str]:
    """``COPILOT_HUB__*`` variables for the limits this hub's settings know (others are left out).

    On a hub that predates a limit the attack still runs, against the hub's defaults.
    """
    from copilot.settings import HubSettings

    known = set(HubSettings.__struct_fields__)
    return {f"COPILOT_HUB__{k.upper()}": str(v) for k, v in limits.items() if k in known}


def hub_status(plant: Plant) -> dict[str, Any]:
    """``copilot hub status --json`` as a dict (fails the test if the command does not work)."""
    done = run_cli(plant, "hub", "status", "--json", env_hub=True)
    assert done.returncode == 0, f"copilot hub status --json failed: {done.stderr[-1000:]}"
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def drops(status: dict[str, Any], reason: str, *, peer: str = "", machine: str = "") -> int:
    """How many drops ``copilot hub status --json`` counts for ``reason`` (hub, peer or machine)."""
    if peer:
        rows = [p for p in status.get("peers", []) if p.get("key") == peer]
        return sum(int(p.get("drops", {}).get(reason, 0)) for p in rows)
    if machine:
        rows = [m for m in status.get("machines", []) if m.get("id") == machine]
        return sum(int(m.get("drops", {}).get(reason, 0)) for m in rows)
    return int(status.get("hub", {}).get("drops", {}).get(reason, 0))


def wait_counted(
    plant: Plant, reason: str, *, at_least: int = 1, peer: str = "", machine: str = ""
) -> dict[str, Any]:
    """Wait until ``copilot hub status --json`` counts ``reason`` (under ``peer``/``machine``)."""
    seen: dict[str, Any] = {}

    def counted() -> bool:
        nonlocal seen
        seen = hub_status(plant)
        return drops(seen, reason) >= at_least and (
            not (peer or machine) or drops(seen, reason, peer=peer, machine=machine) >= at_least
        )

    try:
        wait_until(counted, 15, f"hub status to count {reason!r}")
    except AssertionError:
        raise AssertionError(
            f"`copilot hub status --json` does not count {at_least} x {reason!r}"
            f"{' for ' + (peer or machine) if peer or machine else ''}: {seen}"
        ) from None
    return seen


class RawPeer:
    """A hostile but well-formed peer: a DEALER with a real admitted key and the real codec.

    It says whatever a test tells it to, as an attacker holding one key would. The test thread
    owns its socket (create, use and close it on that thread).
    """

    def __init__(self, security: Security, address: str) -> None:
        from copilot.bus import Poller, hub_endpoints
        from copilot.protocol import Codec

        self.bus = Bus(security)
        router_ep, _ = hub_endpoints(address)
        self.link = self.bus.dealer(router_ep)
        self.codec = Codec()
        self.poller = Poller([self.link])
        self.received: list[tuple[Any, Any]] = []

    def send(
        self, body: Any, *, src: str, epoch: int, seq: int, ts: int | None = None, wait: float = 10
    ) -> None:
        """Send one message, waiting (up to ``wait`` s) for the connection to take it."""
        from copilot.protocol import Header

        header = Header(src=src, epoch=epoch, seq=seq, ts=time.time_ns() if ts is None else ts)
        self.send_frames(self.codec.frames(header, body), wait)

    def send_frames(self, frames: list[bytes], wait: float = 10) -> None:
        """Send raw frames (``[COP1, header, body]``) once the connection takes them."""
        wait_until(lambda: self.link.send(frames, block=False), wait, "the hub to take a message")

    def drain(self, timeout: float = 0.0) -> list[Any]:
        """Bodies received since the last call (waiting up to ``timeout`` s for the first)."""
        got: list[Any] = []
        if self.poller.poll(timeout):
            while (frames := self.link.recv()) is not None:
                decoded = self.codec.decode(frames)
                if decoded is not None:
                    self.received.append(decoded)
                    got.append(decoded[1])
        return got

    def bodies(self, kind: type) -> list[Any]:
        """Every received body of type ``kind`` so far."""
        self.drain()
        return [body for _header, body in self.received if isinstance(body, kind)]

    def close(self) -> None:
        self.bus.close()


class RawSubscriber:
    """A SUB on the hub's update stream with a real key: counts what it receives, and when."""

    def __init__(self, security: Security, address: str) -> None:
        from copilot.bus import Poller, hub_endpoints

        self.bus = Bus(security)
        _, pub_ep = hub_endpoints(address)
        self.link = self.bus.sub(pub_ep)
        self.link.subscribe(b"")
        self.poller = Poller([self.link])
        self.messages = 0
        self.last_at = 0.0

    def drain(self, timeout: float = 0.0) -> int:
        """Read what has arrived (waiting up to ``timeout`` s); return how many messages."""
        n = 0
        if self.poller.poll(timeout):
            while self.link.recv() is not None:
                n += 1
        if n:
            self.messages += n
            self.last_at = time.monotonic()
        return n

    def close(self) -> None:
        self.bus.close()


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default), in MB."""
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 1e6


class DrivenAgent:
    """An in-process agent for one machine whose tag values a test sets; published every 50 ms.

    Its ``tags`` temperatures ``temp_0``… have HI 80 / HIHI 90 limits and a 1 °C deadband, so a
    test decides which alarms are raised by setting values.
    """

    def __init__(
        self,
        plant: Plant,
        machine: str = "mixer-1",
        tags: int = 2,
        *,
        area: str = "Area A",
        line: str = "",
        noise: float = 0.0,
    ) -> None:
        import threading

        import numpy as np

        from copilot.agent import AgentRunner, AgentSession
        from copilot.protocol import Limits, MachineInfo, TagSpec

        self.bus = Bus(plant.security("agent"))
        specs = [
            TagSpec(
                name=f"temp_{i}",
                alias=i,
                unit="°C",
                description=f"Zone {i} temperature",
                limits=Limits(hi=80.0, hihi=90.0),
                deadband=1.0,
            )
            for i in range(tags)
        ]
        self.values = {s.name: 50.0 for s in specs}
        self._lock = threading.Lock()
        self.session = AgentSession(
            self.bus,
            plant.address,
            MachineInfo(id=machine, name="Mixer 1", kind="mixer", area=area, line=line),
            specs,
        )

        rng = np.random.default_rng(7)

        def tick(now: float) -> None:
            with self._lock:
                values = dict(self.values)
            if noise:  # a measured signal is never exactly constant
                values = {k: v + float(rng.normal(0.0, noise)) for k, v in values.items()}
            self.session.publish(values)

        self.runner = AgentRunner([self.session], tick, 0.05)
        self.runner.start()

    def set(self, **values: float) -> None:
        with self._lock:
            self.values.update(values)

    def set_all(self, value: float) -> None:
        with self._lock:
            self.values = dict.fromkeys(self.values, value)

    def close(self) -> None:
        self.runner.request_stop()
        self.runner.join(3)
        self.bus.close()


FAST_KDF_N = 2**10  # scrypt cost of the people tests add (verification uses each row's own)


def add_person(
    data_dir: Path, user: str, role: str | Sequence[str], pin: str, name: str = ""
) -> None:
    """Put a person in the hub's people file (cheap scrypt parameters, for speed)."""
    from copilot.gate.people import KdfParams, PeopleStore, people_path

    roles = [role] if isinstance(role, str) else list(role)
    with PeopleStore(people_path(data_dir), kdf=KdfParams(n=FAST_KDF_N)) as store:
        store.add(user, name or user.replace("-", " ").title(), roles, pin)


def login(station: Station, user: str, pin: str, timeout: float = 10.0) -> None:
    """Log ``user`` in on ``station`` through the hub; fail the test with the hub's sentence."""
    from copilot.station import GateAnswered

    refused: list[str] = []
    request = -1

    def heard(event: object) -> None:
        if isinstance(event, GateAnswered) and event.request_id == request and not event.ok:
            refused.append(event.message)

    station.add_listener(heard)
    wait_until(lambda: station.state == LinkState.LIVE, timeout, "the station live")
    request = station.login(user, pin)
    wait_until(
        lambda: refused or (station.session is not None and station.session.user == user),
        timeout,
        f"{user} logged in",
    )
    assert not refused, refused[0]


class GatedAgent:
    """An in-process press with commands, interlocks and a handler that counts actuations.

    Tags: ``speed`` (rpm, 0–100), ``guard_door`` (bool), ``state`` (0 running, 1 idle). Commands:
    ``stop`` (routine), ``set_speed`` (confirm, rpm 0–100), ``start`` (confirm; interlock guard
    door open, permissive idle), ``reset`` (sign), ``purge`` (two-person), ``slow`` (routine,
    takes 2 s). ``clock`` is the agent's clock (a skewed one makes commands expire in transit).
    """

    def __init__(
        self,
        plant: Plant,
        machine: str = "press-1",
        area: str = "Molding",
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        import threading

        from copilot.agent import AgentRunner, AgentSession, CommandOutcome
        from copilot.protocol import (
            ArgSpec,
            Check,
            Command,
            CommandSpec,
            MachineInfo,
            Range,
            TagSpec,
        )

        self.bus = Bus(plant.security("agent"))
        self.values: dict[str, float] = {"speed": 40.0, "guard_door": 0.0, "state": 1.0}
        self.actuations: list[tuple[str, dict[str, object]]] = []
        self.origins: list[str] = []  # the origin of every command that reached the machine
        self._lock = threading.Lock()
        tags = [
            TagSpec(name="speed", alias=0, unit="rpm", eng_range=Range(0, 100), writable=True),
            TagSpec(name="guard_door", alias=1, type="bool"),
            TagSpec(name="state", alias=2, type="enum", labels=["running", "idle"]),
        ]
        commands = [
            CommandSpec(name="stop", label="Stop", risk="routine"),
            CommandSpec(
                name="set_speed",
                label="Set speed",
                risk="confirm",
                args=[ArgSpec(name="speed", unit="rpm", range=Range(0, 100))],
            ),
            CommandSpec(
                name="start",
                label="Start",
                risk="confirm",
                checks=[
                    Check(
                        kind="interlock",
                        tag="guard_door",
                        op="eq",
                        value=1,
                        words="guard door open",
                    ),
                    Check(kind="permissive", tag="state", op="eq", value=1, words="not idle"),
                ],
            ),
            CommandSpec(name="reset", label="Reset", risk="sign"),
            CommandSpec(name="purge", label="Purge", risk="two_person"),
            CommandSpec(name="slow", label="Slow cycle", risk="routine"),
        ]

        def handle(cmd: Command) -> CommandOutcome:
            if cmd.name == "slow":
                time.sleep(2.0)  # a machine that takes its time (the answer can be lost)
            with self._lock:
                self.actuations.append((cmd.name, dict(cmd.args)))
                self.origins.append(cmd.origin)
                if cmd.name == "set_speed":
                    self.values["speed"] = float(cmd.args["speed"])  # type: ignore[arg-type]
                elif cmd.name == "start":
                    self.values["state"] = 0.0
                elif cmd.name == "stop":
                    self.values["state"] = 1.0
                observed = {"speed": self.values["speed"], "state": self.values["state"]}
            return CommandOutcome(ok=True, message=f"{cmd.name} done.", observed=observed)

        self.session = AgentSession(
            self.bus,
            plant.address,
            MachineInfo(id=machine, name="Press 1", kind="press", area=area),
            tags,
            commands,
            handle,
            journal_path=plant.data_dir / f"{machine}-journal.sqlite",
            clock=clock,
        )

        def tick(now: float) -> None:
            with self._lock:
                values = dict(self.values)
            self.session.publish(values)

        self.runner = AgentRunner([self.session], tick, 0.05)
        self.runner.start()

    def set(self, **values: float) -> None:
        with self._lock:
            self.values.update(values)

    def count(self, name: str) -> int:
        with self._lock:
            return sum(1 for n, _ in self.actuations if n == name)

    def close(self) -> None:
        self.runner.request_stop()
        self.runner.join(3)
        self.bus.close()


def other_station_security(plant: Plant, folder: Path, name: str) -> Security:
    """Keys of another station host (its own key, admitted as ``station:<name>``)."""
    import shutil

    from copilot.bus import KeyStore

    store = KeyStore(folder / name)
    store.init()
    shutil.copy(plant.data_dir / "keys" / "hub.key", store.dir / "hub.key")
    allow_key(plant, store.dir / "station.key", name, "station")
    return Security.from_data_path(folder / name, "station", False)


def settled(station: Station, cmd_id: str, timeout: float = 10.0) -> Any:
    """A command's status once it is final (past any approval), as the station holds it."""
    from copilot.protocol import FINAL_STATES

    wait_until(
        lambda: (s := station.store.commands.get(cmd_id)) is not None and s.state in FINAL_STATES,
        timeout,
        f"command {cmd_id} final",
    )
    return station.store.commands[cmd_id]
