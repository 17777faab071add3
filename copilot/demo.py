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
import subprocess
import threading
import time
import tomllib
from pathlib import Path
from typing import Literal

import msgspec

from copilot.bus import Security
from copilot.proc import spawn, terminate
from copilot.protocol import MachinesRequest
from copilot.settings import Settings
from copilot.sim.run import SimulatedPlant
from copilot.station.client import HubUnreachableError, request_once

log = logging.getLogger(__name__)

Action = Literal["kill_agent", "restart_agent", "inject_fault", "stop_hub", "start_hub"]


class ScenarioError(ValueError):
    """A scenario file is wrong; the message names the file and the event."""


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
        self.settings = settings
        self.address = settings.hub.bind
        self.scenario = scenario or Scenario()
        self._common = ["--insecure"] if settings.security.insecure else []
        self.hub: subprocess.Popen[bytes] | None = None
        self._hub_stopped_on_purpose = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.plant: SimulatedPlant | None = None
        self.started = time.monotonic()

    def start_hub(self) -> None:
        """Start (or restart) the hub process and wait until it answers."""
        self.hub = spawn(["hub", "--bind", self.address, *self._common])
        self._hub_stopped_on_purpose = False
        security = Security.from_data_path(
            self.settings.data_path, "cli", self.settings.security.insecure
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.hub.poll() is not None:
                raise RuntimeError(f"the hub exited with status {self.hub.returncode}")
            try:
                request_once(security, self.address, MachinesRequest(), 0.5)
                return
            except HubUnreachableError:
                continue
        raise RuntimeError("the hub did not answer within 15 s")

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
        self.plant = SimulatedPlant(client, security, self._stop)
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
