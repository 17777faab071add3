"""A simulated plant: many machines, one seed, scheduled and scripted faults.

Contract
--------
* ``Plant(machines, tags_per_machine, seed, schedule)`` builds ``machines`` models cycling
  through :data:`~copilot.sim.models.MODEL_CLASSES` (``cnc-01``, ``press-01``,
  ``conveyor-01``, ``compressor-01``, ``oven-01``, ``robot-01``, ``cnc-02``...), spread over
  up to three lines. Machine ``i`` is seeded from ``(seed, i)``, so the same arguments and the
  same calls give the same values, whatever else runs in the process.
* ``tags_per_machine`` larger than a machine's natural tag count pads it with auxiliary
  signals up to exactly that many tags (aliases ``0..n-1``); 0 keeps the natural tags only.
* ``step(t, dt)`` injects every scheduled fault whose onset has been reached, then steps
  every machine (or only those named in ``machines``: a runner may step the plant in slices,
  each machine still by ``dt``); it returns ``{machine_id: (values, quality)}`` as
  :meth:`MachineModel.step <copilot.sim.models.MachineModel.step>` does.
* Every injected fault is appended to :attr:`Plant.fault_log` as a
  :class:`~copilot.sim.faults.FaultRecord` and passed to :attr:`Plant.on_fault`, if set.
* ``execute`` and ``inject`` act on one machine by id.

No sockets, threads, wall-clock time or global random state here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from copilot.protocol.messages import Scalar, Value
from copilot.sim.faults import (
    FaultRecord,
    FaultSchedule,
    FaultScheduleError,
    FaultSpec,
    entry_error,
    validate_schedule,
)
from copilot.sim.models import MODEL_CLASSES, CommandResult, MachineModel

__all__ = ["FaultScheduleError", "Plant", "StepResult"]

StepResult = dict[str, tuple[dict[str, Value], dict[str, int]]]
"""What :meth:`Plant.step` returns: per machine id, its values and non-Good qualities."""


class Plant:
    """A deterministic simulated plant.

    Args:
        machines: how many machines to build.
        tags_per_machine: pad every machine with auxiliary signals up to this many tags
            (0 = natural tags only; a value below a machine's natural count changes nothing).
        seed: plant seed; machine ``i`` uses ``(seed, i)``.
        schedule: faults to inject when their onsets are reached (None = no faults).
        on_fault: called with each :class:`FaultRecord` when a fault is injected.
        autonomous: whether machines change mode on their own (batches, setups, doors).

    Raises:
        ValueError: bad counts.
        FaultScheduleError: the schedule names an unknown machine, a fault that does not apply
            to that machine, or an unknown tag.

    """

    def __init__(
        self,
        machines: int = 12,
        tags_per_machine: int = 0,
        seed: int = 0,
        schedule: FaultSchedule | None = None,
        *,
        on_fault: Callable[[FaultRecord], None] | None = None,
        autonomous: bool = True,
    ) -> None:
        if machines < 0:
            raise ValueError(f"machines must be 0 or more, not {machines}")
        if tags_per_machine < 0:
            raise ValueError(f"tags_per_machine must be 0 or more, not {tags_per_machine}")
        self.seed = seed
        self.tags_per_machine = tags_per_machine
        kinds = list(MODEL_CLASSES.values())
        n_lines = 1 if machines < 6 else 2 if machines <= 12 else 3
        counts: dict[str, int] = {}
        self.machines: list[MachineModel] = []
        for i in range(machines):
            cls = kinds[i % len(kinds)]
            counts[cls.KIND] = counts.get(cls.KIND, 0) + 1
            line = f"line-{i * n_lines // machines + 1}"
            self.machines.append(
                cls(
                    counts[cls.KIND],
                    line=line,
                    seed=(seed % 2**63, i),
                    total_tags=tags_per_machine,
                    autonomous=autonomous,
                )
            )
        self.by_id: dict[str, MachineModel] = {m.info.id: m for m in self.machines}
        self.t = 0.0
        self.fault_log: list[FaultRecord] = []
        self.on_fault: Callable[[FaultRecord], None] | None = on_fault
        self._pending: list[FaultSpec] = []
        if schedule is not None:
            self.add_schedule(schedule)

    def machine(self, machine_id: str) -> MachineModel:
        """The machine with id ``machine_id`` (KeyError if there is none)."""
        return self.by_id[machine_id]

    def add_schedule(self, schedule: FaultSchedule) -> None:
        """Validate ``schedule`` against this plant and queue its faults.

        Raises:
            FaultScheduleError: an entry is invalid (the message names the entry).

        """
        validate_schedule(schedule)
        for i, spec in enumerate(schedule.faults):
            m = self.by_id.get(spec.machine)
            if m is None:
                raise entry_error(
                    schedule.source,
                    i,
                    spec,
                    f"there is no machine {spec.machine!r} in this plant",
                )
            problem = m.fault_problem(spec.fault, spec.tag)
            if problem is not None:
                raise entry_error(schedule.source, i, spec, problem)
        self._pending.extend(schedule.faults)
        self._pending.sort(key=lambda f: f.onset_s)

    def set_schedule(self, schedule: FaultSchedule) -> None:
        """Replace the faults still pending (not yet injected) by those of ``schedule``.

        Raises:
            FaultScheduleError: an entry is invalid; the pending faults are then unchanged.

        """
        pending = self._pending
        self._pending = []
        try:
            self.add_schedule(schedule)
        except FaultScheduleError:
            self._pending = pending
            raise

    @property
    def pending_faults(self) -> list[FaultSpec]:
        """Scheduled faults whose onset has not been reached yet, in onset order."""
        return list(self._pending)

    def step(self, t: float, dt: float, machines: Sequence[str] | None = None) -> StepResult:
        """Inject due faults, then advance every machine (or ``machines``) by ``dt`` to ``t``."""
        self.t = t
        pending = self._pending
        if pending and pending[0].onset_s <= t:
            due = 0
            while due < len(pending) and pending[due].onset_s <= t:
                due += 1
            for spec in pending[:due]:
                self._inject(
                    spec.machine,
                    spec.fault,
                    spec.severity,
                    spec.onset_s,
                    spec.duration_s,
                    spec.tag,
                )
            del pending[:due]
        if machines is None:
            return {m.info.id: m.step(t, dt) for m in self.machines}
        return {mid: self.by_id[mid].step(t, dt) for mid in machines}

    def execute(
        self, machine_id: str, name: str, args: Mapping[str, Scalar] | None = None
    ) -> CommandResult:
        """Execute command ``name`` on machine ``machine_id``."""
        m = self.by_id.get(machine_id)
        if m is None:
            return CommandResult(
                ok=False,
                cause="unknown_machine",
                message=f"There is no machine {machine_id!r} in this plant.",
            )
        return m.execute(name, args or {})

    def inject(
        self,
        machine_id: str,
        fault: str,
        severity: float = 0.7,
        duration_s: float = 0.0,
        tag: str | None = None,
    ) -> FaultRecord:
        """Start a fault on ``machine_id`` now (at the time of the last step).

        Raises:
            ValueError: unknown machine, inapplicable fault, unknown tag or bad numbers.

        """
        if machine_id not in self.by_id:
            raise ValueError(f"There is no machine {machine_id!r} in this plant.")
        return self._inject(machine_id, fault, severity, self.t, duration_s, tag)

    def _inject(
        self,
        machine_id: str,
        fault: str,
        severity: float,
        onset_s: float,
        duration_s: float,
        tag: str | None,
    ) -> FaultRecord:
        injected = self.by_id[machine_id].inject_fault(fault, severity, onset_s, duration_s, tag)
        record = FaultRecord(
            machine=machine_id,
            fault=fault,
            tag=injected.tag,
            onset_s=onset_s,
            duration_s=duration_s,
            severity=severity,
        )
        injected.record = record
        self.fault_log.append(record)
        if self.on_fault is not None:
            self.on_fault(record)
        return record
