"""The demo rig: a hub process, the simulated plant on a thread, and an optional scenario.

Used by ``copilot demo`` with or without a window. A scenario is a TOML list of events at given
seconds after the start::

    [[event]]
    at_s = 20
    action = "kill_agent"        # kill_agent | restart_agent | inject_fault | stop_hub | start_hub
    machine = "press-02"
    fault = "overheating"        # inject_fault only
    severity = 0.8

Every process the rig starts is stopped by :meth:`DemoRig.stop` within two seconds, and dies
with the demo process if that is killed.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
import time
import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import msgspec

from copilot.bus import Security
from copilot.gate.people import PeopleStore, ensure_demo, people_path
from copilot.gate.policy import EXAMPLE as EXAMPLE_POLICY
from copilot.proc import spawn, terminate
from copilot.protocol import MachinesRequest
from copilot.settings import Settings
from copilot.sim.plant import Plant
from copilot.sim.run import SimulatedPlant, build_plant
from copilot.station.client import HubUnreachableError, request_once

log = logging.getLogger(__name__)

Action = Literal["kill_agent", "restart_agent", "inject_fault", "stop_hub", "start_hub"]


class ScenarioError(ValueError):
    """A scenario file is wrong; the message names the file and the event."""


class DemoError(RuntimeError):
    """The demo cannot start; ``str()`` is one sentence, empty when the hub said it already."""


def port_in_use(address: str) -> str | None:
    """A sentence if the hub's two TCP ports (P and P+1) cannot be bound here, else None."""
    parsed = urlparse(address)
    if parsed.scheme != "tcp" or not parsed.hostname:
        return None
    try:
        port = parsed.port
    except ValueError:
        return None  # the hub explains a bad address itself
    if port is None:
        return None
    for p in (port, port + 1):
        try:
            family = socket.AF_INET6 if ":" in parsed.hostname else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ZeroMQ binds
                s.bind((parsed.hostname, p))
        except OSError as exc:
            if exc.errno in (98, 48):  # EADDRINUSE (Linux, BSD)
                return (
                    f"Cannot start the demo's hub on {address}: port {p} is already in use "
                    "(another demo or hub?); stop it or choose another address with --bind."
                )
            return None  # not ours to judge (e.g. an address of another host): the hub says
    return None


class ScenarioEvent(msgspec.Struct, forbid_unknown_fields=True):
    """One scripted event."""

    at_s: float
    action: Action
    machine: str = ""
    fault: str = "overheating"
    severity: float = 0.8
    duration_s: float = 0.0


class Scenario(msgspec.Struct, forbid_unknown_fields=True):
    """A timeline of scripted events."""

    event: list[ScenarioEvent] = msgspec.field(default_factory=list)


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        scenario = msgspec.convert(raw, Scenario)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"Cannot read scenario {path}: {exc}.") from None
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"Scenario {path}: {exc}.") from None
    for i, event in enumerate(scenario.event, 1):
        needs_machine = event.action in ("kill_agent", "restart_agent", "inject_fault")
        if needs_machine and not event.machine:
            raise ScenarioError(f"Scenario {path}, event {i}: {event.action} needs a machine.")
    return scenario


class DemoRig:
    """Hub child process + simulated plant thread + scenario timeline."""

    def __init__(self, settings: Settings, scenario: Scenario | None = None) -> None:
        """Build the plant model (checking the fault schedule and scenario); start nothing yet.

        Raises:
            FaultScheduleError, SimSettingsError, ScenarioError: one sentence each.

        """
        self.settings = settings
        self.address = settings.hub.bind
        self.scenario = scenario or Scenario()
        self.model: Plant = build_plant(settings.sim)
        for i, event in enumerate(self.scenario.event, 1):
            if event.machine and event.machine not in self.model.by_id:
                raise ScenarioError(
                    f"Scenario event {i} ({event.action}): there is no machine "
                    f"{event.machine!r} in the demo's plant; {self.some_machines()}."
                )
        self._common = ["--insecure"] if settings.security.insecure else []
        self.hub: subprocess.Popen[bytes] | None = None
        self._hub_stopped_on_purpose = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.plant: SimulatedPlant | None = None
        self.started = time.monotonic()

    def machines(self) -> dict[str, list[str]]:
        """Every machine id of the plant and its tag ids, in plant order."""
        return {m.info.id: [t.name for t in m.tags] for m in self.model.machines}

    def some_machines(self, n: int = 5) -> str:
        """``its machines are cnc-01, press-01, … (12)``: a hint for an error message."""
        ids = list(self.model.by_id)
        if not ids:
            return "the plant has no machines (--machines 0)"
        more = f", … ({len(ids)} in all)" if len(ids) > n else ""
        return f"its machines are {', '.join(ids[:n])}{more}"

    def start_hub(self) -> None:
        """Start (or restart) the hub process and wait until it answers.

        Raises:
            DemoError: the port is taken, or the hub exited (it has said why: the message is
                empty then) or did not answer within 15 s.

        """
        busy = port_in_use(self.address)
        if busy:
            raise DemoError(busy)
        alarms = ["--alarms", self.settings.hub.alarm_file] if self.settings.hub.alarm_file else []
        policy = ["--policy", self.settings.hub.policy_file or str(EXAMPLE_POLICY)]
        if self.settings.hub.gate:
            self.demo_people()
        self.hub = spawn(["hub", "--bind", self.address, *self._common, *alarms, *policy])
        self._hub_stopped_on_purpose = False
        security = Security.from_data_path(
            self.settings.data_path, "cli", self.settings.security.insecure
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.hub.poll() is not None:
                code = self.hub.returncode
                # Status 1: the hub printed its one sentence (port in use, data folder locked).
                raise DemoError("" if code == 1 else f"The demo's hub exited with status {code}.")
            try:
                request_once(security, self.address, MachinesRequest(), 0.5)
            except HubUnreachableError:
                continue
            if self.hub.poll() is None:
                return
        terminate([self.hub])
        raise DemoError(f"The demo's hub did not answer on {self.address} within 15 s.")

    def demo_people(self) -> list[str]:
        """Create the demo's people where missing; the ids of those it added.

        demo-operator (PIN 1111), demo-supervisor (2222), demo-engineer (3333).
        """
        self.settings.data_path.mkdir(parents=True, exist_ok=True)
        with PeopleStore(people_path(self.settings.data_path)) as store:
            return [p.user for p in ensure_demo(store)]

    def stop_hub(self) -> None:
        """Stop the hub process (a scenario step)."""
        self._hub_stopped_on_purpose = True
        if self.hub is not None:
            terminate([self.hub])

    def start(self) -> None:
        """Start the hub, then the plant and the scenario on threads."""
        self.start_hub()
        client = msgspec.structs.replace(
            self.settings,
            client=msgspec.structs.replace(self.settings.client, hub=self.address),
        )
        security = Security.from_data_path(
            self.settings.data_path, "agent", self.settings.security.insecure
        )
        self.plant = SimulatedPlant(client, security, self._stop, self.model)
        self.started = time.monotonic()
        self._thread(self.plant.run, "demo-plant")
        if self.scenario.event:
            self._thread(self._play, "demo-scenario")

    def _thread(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _play(self) -> None:
        for event in sorted(self.scenario.event, key=lambda e: e.at_s):
            wait = self.started + event.at_s - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            log.warning("scenario t=%.0f s: %s %s", event.at_s, event.action, event.machine)
            try:
                self._do(event)
            except Exception:  # a failed step is reported; the demo goes on
                log.exception("scenario step %s failed", event.action)

    def _do(self, event: ScenarioEvent) -> None:
        assert self.plant is not None
        match event.action:
            case "stop_hub":
                self.stop_hub()
            case "start_hub":
                self.start_hub()
            case "inject_fault":
                self.plant.request(
                    "inject_fault",
                    event.machine,
                    fault=event.fault,
                    severity=event.severity,
                    duration_s=event.duration_s,
                )
            case "kill_agent" | "restart_agent":
                self.plant.request(event.action, event.machine)

    def problem(self) -> str | None:
        """A sentence if a process died that should not have."""
        if self.hub is not None and not self._hub_stopped_on_purpose:
            code = self.hub.poll()
            if code is not None:
                return f"The hub process exited with status {code}; see the messages above."
        return None

    def stop(self) -> None:
        """Stop the scenario, the plant (sending DEATH) and the hub."""
        self._stop.set()
        for thread in self._threads:
            thread.join(1.5)
        if self.hub is not None:
            terminate([self.hub])
