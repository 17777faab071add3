"""Run the simulated plant as real agents: one :class:`~copilot.agent.AgentSession` per machine.

Built only on the agent SDK. All sessions share one thread and one key pair (the ``agent``
identity of this data folder). Every machine is stepped by ``1 / rate_hz`` simulated seconds
and publishes every tag once per period, but a big plant is not stepped in lockstep: the period
is cut into slices of about :data:`SLICE_SAMPLES` samples (at most one per machine, each at
least :data:`SLICE_MIN_S`), and each slice steps and publishes its share of the plant — a real
plant's controllers do not all scan at the same instant, and the hub and stations see a steady
stream instead of one burst of every tag per period. A plant whose whole period is one small
batch (the default twelve machines) stays one slice: spreading it would only wake every
receiver more often.
Commands from the hub run against the plant model, with its interlocks. Every injected fault
is logged and appended to ``<data>/sim/faults.jsonl`` with its onset, so that anomaly detection
can be scored later.
"""

from __future__ import annotations

import logging
import math
import queue
import re
import threading
import time
from pathlib import Path

import msgspec

from copilot.agent import AgentRunner, AgentSession, CommandOutcome
from copilot.bus import Bus, Security
from copilot.protocol import Command
from copilot.settings import Settings, SimSettings
from copilot.sim.errors import SimSettingsError
from copilot.sim.faults import (
    FaultRecord,
    default_schedule,
    kind_of,
    load_schedule,
)
from copilot.sim.plant import Plant

log = logging.getLogger(__name__)

MAX_RATE_HZ = 1000.0  # samples per second per tag; beyond this the plant cannot keep time
SLICE_MIN_S = 0.01  # the shortest slice of a period the machines' phases are spread over
SLICE_SAMPLES = 1000  # about this many samples a slice (200 machines × 50 tags: 10 slices)


def check_sim_settings(sim: SimSettings) -> None:
    """Refuse settings the plant cannot run with, naming the flag and the settings key."""
    if sim.machines < 0:
        raise SimSettingsError(
            f"The number of machines (--machines, sim.machines) must be 0 or more, "
            f"not {sim.machines}."
        )
    if sim.tags_per_machine < 0:
        raise SimSettingsError(
            "The tags per machine (--tags-per-machine, sim.tags_per_machine) must be 0 or more, "
            f"not {sim.tags_per_machine}."
        )
    if not (math.isfinite(sim.rate_hz) and 0 < sim.rate_hz <= MAX_RATE_HZ):
        raise SimSettingsError(
            "The sample rate (--rate, sim.rate_hz) must be more than 0 and at most "
            f"{MAX_RATE_HZ:g} samples per second per tag, not {sim.rate_hz:g}."
        )


def _beyond_plant(machine_id: str, plant: Plant) -> bool:
    """``press-07`` on a plant with two presses: a machine a bigger plant would have."""
    kind = kind_of(machine_id)
    return (
        kind is not None
        and machine_id not in plant.by_id
        and re.fullmatch(rf"{re.escape(kind)}-\d{{2,}}", machine_id) is not None
    )


def build_plant(sim: SimSettings) -> Plant:
    """The plant model for ``sim``, with its fault schedule checked against it.

    Entries of the schedule for machines that only a bigger plant has (the example schedule
    names the default twelve) are skipped, with one warning that lists them; any other problem
    raises :class:`~copilot.sim.faults.FaultScheduleError` (one sentence).
    """
    check_sim_settings(sim)
    plant = Plant(machines=sim.machines, tags_per_machine=sim.tags_per_machine, seed=sim.seed)
    if not sim.faults:
        if sim.machines > 0:
            plant.set_schedule(default_schedule([m.info.id for m in plant.machines], sim.seed))
        return plant
    schedule = load_schedule(sim.faults)
    kept = [f for f in schedule.faults if not _beyond_plant(f.machine, plant)]
    if len(kept) < len(schedule.faults):
        skipped = [
            f"{i} ({f.machine})"
            for i, f in enumerate(schedule.faults, 1)
            if _beyond_plant(f.machine, plant)
        ]
        log.warning(
            "Fault schedule %s: skipped %s for machines this %d-machine plant does not have: %s.",
            schedule.source,
            "entry" if len(skipped) == 1 else f"{len(skipped)} entries",
            sim.machines,
            ", ".join(skipped),
        )
    plant.set_schedule(
        msgspec.structs.replace(schedule, faults=kept)
        if len(kept) < len(schedule.faults)
        else schedule
    )
    return plant


class SimulatedPlant:
    """The plant model wired to agent sessions; :meth:`run` blocks until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        security: Security,
        stop: threading.Event,
        plant: Plant | None = None,
    ) -> None:
        sim = settings.sim
        self.settings = settings
        self.stop = stop
        self.plant = plant if plant is not None else build_plant(sim)
        self.fault_log = settings.data_path / "sim" / "faults.jsonl"
        self.fault_log.parent.mkdir(parents=True, exist_ok=True)
        self.plant.on_fault = self._on_fault
        self.bus = Bus(security)
        self.dt = 1.0 / sim.rate_hz
        self.t = 0.0
        ids = [m.info.id for m in self.plant.machines]
        samples = sum(len(m.tags) for m in self.plant.machines)
        most = min(len(ids), int(self.dt / SLICE_MIN_S))
        n_slices = max(1, min(most, math.ceil(samples / SLICE_SAMPLES)))
        self.slices = [ids[i::n_slices] for i in range(n_slices)]  # lines and kinds interleaved
        self._slice = 0
        self.started = time.time()
        journal_dir = settings.data_path / "agents"
        self.sessions = {
            m.info.id: AgentSession(
                self.bus,
                settings.client.hub,
                m.info,
                m.tags,
                m.commands,
                handler=self._handler(m.info.id),
                journal_path=journal_dir / f"{m.info.id}.sqlite",
                heartbeat_ms=settings.agent.heartbeat_ms,
                sndhwm=settings.agent.sndhwm,
                settings=settings.agent,
            )
            for m in self.plant.machines
        }
        self.paused: set[str] = set()
        self._requests: queue.SimpleQueue[tuple[str, str, dict[str, object]]] = queue.SimpleQueue()
        self.runner = AgentRunner(
            list(self.sessions.values()), self._tick, self.dt / len(self.slices), stop_event=stop
        )

    def _on_fault(self, record: FaultRecord) -> None:
        log.info(
            "fault injected: %s on %s at t=%.1f s (severity %.2f%s)",
            record.fault,
            record.machine,
            record.onset_s,
            record.severity,
            f", tag {record.tag}" if record.tag else "",
        )
        line = msgspec.json.encode(
            {**msgspec.to_builtins(record), "wall_time": self.started + record.onset_s}
        )
        with open(self.fault_log, "ab") as fh:
            fh.write(line + b"\n")

    def _handler(self, machine_id: str):  # type: ignore[no-untyped-def]
        def handle(cmd: Command) -> CommandOutcome:
            result = self.plant.execute(machine_id, cmd.name, dict(cmd.args))
            return CommandOutcome(
                ok=result.ok,
                message=result.message,
                cause=result.cause,
                observed=dict(result.observed) if result.observed else None,
            )

        return handle

    def request(self, action: str, machine: str, **params: object) -> None:
        """Ask, from any thread, for ``kill_agent``, ``restart_agent`` or ``inject_fault``."""
        self._requests.put((action, machine, params))

    def _apply_requests(self) -> None:
        while True:
            try:
                action, machine, params = self._requests.get_nowait()
            except queue.Empty:
                return
            session = self.sessions.get(machine)
            if session is None:
                log.error("scenario: no machine %r in the simulated plant", machine)
                continue
            if action == "kill_agent":
                log.warning("scenario: killing the agent of %s", machine)
                self.paused.add(machine)
                session.silence()
            elif action == "restart_agent":
                log.warning("scenario: restarting the agent of %s", machine)
                self.paused.discard(machine)
                session.revive()
            elif action == "inject_fault":
                self.plant.inject(
                    machine,
                    str(params.get("fault", "overheating")),
                    severity=float(str(params.get("severity", 0.8))),
                    duration_s=float(str(params.get("duration_s", 0.0))),
                )

    def _tick(self, now: float) -> None:
        """One slice of the period: its machines are stepped by a whole period and publish."""
        self._apply_requests()
        self.t += self.dt / len(self.slices)
        share = self.slices[self._slice]
        self._slice = (self._slice + 1) % len(self.slices)
        stamp = int(now * 1e9)
        for machine_id, (values, quality) in self.plant.step(self.t, self.dt, share).items():
            if machine_id in self.paused:
                continue
            self.sessions[machine_id].publish(values, stamp, quality or None)

    def run(self) -> None:
        """Publish until ``stop`` is set; then every session sends DEATH."""
        log.info(
            "simulated plant: %d machines, %d tags, %.1f Hz, seed %d, hub %s",
            len(self.sessions),
            sum(len(m.tags) for m in self.plant.machines),
            1 / self.dt,
            self.settings.sim.seed,
            self.settings.client.hub,
        )
        try:
            self.runner.run()
        finally:
            self.bus.close()


def run_plant(settings: Settings, security: Security, stop: threading.Event) -> None:
    """Build the simulated plant and run it until ``stop`` is set."""
    SimulatedPlant(settings, security, stop).run()


def journal_path(data_path: Path, machine_id: str) -> Path:
    """Where a simulated machine's command journal lives."""
    return data_path / "agents" / f"{machine_id}.sqlite"
