"""Fault schedules for the simulated plant: what goes wrong, where, when and how badly.

Contract
--------
* A :class:`FaultSpec` names a machine id, a fault kind (one of :data:`FAULT_KINDS`), the
  onset in seconds after plant start, a duration (``0`` = until the end of the run or until the
  machine is put into maintenance), a severity ``0..1`` and, for sensor faults only, the tag
  whose reading goes wrong (omitted = the machine's usual sensor for that fault).
* :func:`load_schedule` reads a TOML file made of ``[[fault]]`` tables (see
  ``faults.example.toml``) and checks everything that can be checked without a plant: fault
  kinds, machine id syntax, times, severity. Anything wrong raises :class:`FaultScheduleError`
  with one sentence naming the file and the entry number (1-based).
* Whether a machine id exists, whether a fault applies to that machine's kind and whether a tag
  exists is checked by :class:`copilot.sim.plant.Plant` when the schedule is attached to it.
* :func:`default_schedule` gives a deterministic demo schedule for a list of machine ids.
* :class:`FaultRecord` is what the plant logs when a fault is actually injected; scoring uses
  these records as onset labels.

Nothing here does any simulation, I/O other than reading the schedule file, or uses wall-clock
time or global random state.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np

from copilot.protocol.codec import valid_id
from copilot.sim.errors import FaultScheduleError

__all__ = [
    "APPLICABLE_FAULTS",
    "FAULT_KINDS",
    "MACHINE_KINDS",
    "PROCESS_FAULTS",
    "SENSOR_FAULTS",
    "FaultRecord",
    "FaultSchedule",
    "FaultScheduleError",
    "FaultSpec",
    "default_schedule",
    "entry_error",
    "kind_of",
    "load_schedule",
]

FAULT_KINDS: tuple[str, ...] = (
    "bearing_wear",
    "overheating",
    "jam",
    "sensor_drift",
    "stuck_sensor",
    "dropout",
    "leak",
)
"""Every fault kind the simulator knows."""

SENSOR_FAULTS: frozenset[str] = frozenset({"sensor_drift", "stuck_sensor", "dropout"})
"""Faults of a measurement, not of the process: they take a ``tag``."""

PROCESS_FAULTS: frozenset[str] = frozenset(FAULT_KINDS) - SENSOR_FAULTS
"""Faults of the machine itself: they change the physics."""

MACHINE_KINDS: tuple[str, ...] = ("cnc", "press", "conveyor", "compressor", "oven", "robot")
"""Machine kinds of the simulator, in the order a plant cycles through them."""

APPLICABLE_FAULTS: dict[str, frozenset[str]] = {
    "cnc": SENSOR_FAULTS | {"bearing_wear", "overheating"},
    "press": SENSOR_FAULTS | {"overheating", "leak"},
    "conveyor": SENSOR_FAULTS | {"bearing_wear", "overheating", "jam"},
    "compressor": SENSOR_FAULTS | {"bearing_wear", "overheating", "leak"},
    "oven": SENSOR_FAULTS | {"bearing_wear", "overheating"},
    "robot": SENSOR_FAULTS | {"bearing_wear", "overheating"},
}
"""Which fault kinds apply to which machine kind."""


class FaultSpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One scheduled fault.

    ``onset_s`` is seconds after plant start; ``duration_s`` ``0`` means until the end of the
    run (or until the machine goes into maintenance); ``severity`` is ``0..1``; ``tag`` names the
    sensor of a sensor fault (``None`` = the machine's usual sensor for that fault).
    """

    machine: str
    fault: str
    onset_s: float
    duration_s: float = 0.0
    severity: float = 0.7
    tag: str | None = None


class FaultSchedule(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A list of scheduled faults; in TOML each is a ``[[fault]]`` table.

    ``source`` names where the schedule came from (a file path) for error messages.
    """

    faults: list[FaultSpec] = msgspec.field(default_factory=list, name="fault")
    source: str = ""


class FaultRecord(msgspec.Struct, omit_defaults=True):
    """A fault that was actually injected into a machine (the onset label for scoring).

    ``tag`` is the resolved sensor of a sensor fault (``None`` for process faults).
    ``cleared_s`` is filled in later, when the fault ends (its duration elapsed or the
    machine was put into maintenance); ``None`` while it is still active.
    """

    machine: str
    fault: str
    tag: str | None
    onset_s: float
    duration_s: float
    severity: float
    cleared_s: float | None = None


def kind_of(machine_id: str) -> str | None:
    """The machine kind encoded in a simulator id (``"cnc-02"`` → ``"cnc"``), or None."""
    head, sep, _ = machine_id.rpartition("-")
    if sep and head in APPLICABLE_FAULTS:
        return head
    return None


def entry_error(source: str, index: int, spec: FaultSpec, problem: str) -> FaultScheduleError:
    """Build the error for entry ``index`` (0-based) of a schedule: one sentence for people."""
    where = f"Fault schedule {source}" if source else "Fault schedule"
    return FaultScheduleError(
        f"{where}, entry {index + 1} ({spec.fault} on {spec.machine}): {problem.rstrip('.')}."
    )


def _check_entry(source: str, index: int, spec: FaultSpec) -> None:
    if spec.fault not in FAULT_KINDS:
        raise entry_error(
            source,
            index,
            spec,
            f"unknown fault kind {spec.fault!r}; use one of {', '.join(FAULT_KINDS)}",
        )
    if not valid_id(spec.machine):
        raise entry_error(
            source,
            index,
            spec,
            f"{spec.machine!r} is not a valid machine id (lower-case letters, digits, '-' and '_')",
        )
    if not (math.isfinite(spec.onset_s) and spec.onset_s >= 0):
        raise entry_error(
            source, index, spec, f"onset_s must be 0 or more seconds, not {spec.onset_s}"
        )
    if not (math.isfinite(spec.duration_s) and spec.duration_s >= 0):
        raise entry_error(
            source,
            index,
            spec,
            f"duration_s must be 0 (until the end) or more seconds, not {spec.duration_s}",
        )
    if not (0.0 <= spec.severity <= 1.0):
        raise entry_error(
            source, index, spec, f"severity must lie between 0 and 1, not {spec.severity}"
        )
    if spec.tag is not None and spec.fault not in SENSOR_FAULTS:
        raise entry_error(
            source,
            index,
            spec,
            f"tag is only used by sensor faults ({', '.join(sorted(SENSOR_FAULTS))}), "
            f"not by {spec.fault}",
        )


def validate_schedule(schedule: FaultSchedule) -> None:
    """Check every entry of ``schedule`` that can be checked without a plant.

    Raises:
        FaultScheduleError: on the first invalid entry.

    """
    for i, spec in enumerate(schedule.faults):
        _check_entry(schedule.source, i, spec)


_PATH_RE = re.compile(r"^\$\.fault\[(\d+)\](?:\.(\w+))?")


def load_schedule(path: str | Path) -> FaultSchedule:
    """Read and validate a TOML fault schedule made of ``[[fault]]`` tables.

    Raises:
        FaultScheduleError: the file cannot be read, is not TOML, or an entry is invalid.

    """
    p = Path(path)
    source = str(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FaultScheduleError(
            f"Fault schedule {source} cannot be read: {exc.strerror or exc}."
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FaultScheduleError(f"Fault schedule {source} is not valid TOML: {exc}.") from exc
    if "source" in data:
        raise FaultScheduleError(
            f"Fault schedule {source} has an unknown top-level key 'source'; "
            "only [[fault]] tables are allowed."
        )
    try:
        schedule = msgspec.convert(data, FaultSchedule)
    except msgspec.ValidationError as exc:
        raise _conversion_error(source, data, str(exc)) from exc
    schedule.source = source
    validate_schedule(schedule)
    return schedule


def _conversion_error(source: str, data: object, text: str) -> FaultScheduleError:
    """Turn a msgspec validation message into one sentence naming the entry."""
    detail, _, at = text.partition(" - at `")
    at = at.rstrip("`")
    m = _PATH_RE.match(at)
    if m is None:
        if at.startswith("$.fault"):
            return FaultScheduleError(
                f"Fault schedule {source}: 'fault' must be a list of [[fault]] tables ({detail})."
            )
        return FaultScheduleError(
            f"Fault schedule {source}: {detail} (only [[fault]] tables are allowed)."
        )
    n = int(m.group(1))
    field = m.group(2)
    what = ""
    if isinstance(data, dict):
        entries = data.get("fault")
        if isinstance(entries, list) and n < len(entries) and isinstance(entries[n], dict):
            entry = entries[n]
            what = f" ({entry.get('fault', '?')} on {entry.get('machine', '?')})"
    where = f" in field {field}" if field else ""
    return FaultScheduleError(f"Fault schedule {source}, entry {n + 1}{what}: {detail}{where}.")


def default_schedule(machine_ids: Sequence[str], seed: int) -> FaultSchedule:
    """A demo schedule: a handful of faults over the first minutes, deterministic by ``seed``.

    Machines are picked by the kind encoded in their ids (see :func:`kind_of`); a fault whose
    machine kind is absent is left out, and the sensor faults fall back to any machine.
    """
    rng = np.random.default_rng([seed % 2**64, 0xFA17])
    by_kind: dict[str, list[str]] = {}
    for mid in machine_ids:
        kind = kind_of(mid)
        if kind is not None:
            by_kind.setdefault(kind, []).append(mid)
    everyone = list(machine_ids)
    taken: set[str] = set()

    def pick(kinds: Sequence[str]) -> str | None:
        if kinds:
            pool = [m for k in kinds for m in by_kind.get(k, []) if m not in taken]
        else:
            pool = [m for m in everyone if m not in taken]
        if not pool:
            return None
        choice = pool[int(rng.integers(len(pool)))]
        taken.add(choice)
        return choice

    plan: list[tuple[Sequence[str], str, float, float, float]] = [
        (("cnc",), "bearing_wear", 60.0, 900.0, 0.8),
        (("compressor",), "leak", 120.0, 600.0, 0.7),
        (("conveyor",), "jam", 180.0, 90.0, 1.0),
        (("oven", "press"), "overheating", 240.0, 600.0, 0.8),
        ((), "sensor_drift", 90.0, 600.0, 0.3),
        ((), "stuck_sensor", 300.0, 240.0, 0.7),
        ((), "dropout", 360.0, 90.0, 0.7),
    ]
    faults: list[FaultSpec] = []
    for kinds, fault, onset, duration, severity in plan:
        jitter = float(rng.uniform(-15.0, 15.0))
        chosen = pick(kinds)
        if chosen is None:
            continue
        faults.append(
            FaultSpec(
                machine=chosen,
                fault=fault,
                onset_s=float(round(onset + jitter)),
                duration_s=duration,
                severity=severity,
            )
        )
    faults.sort(key=lambda f: f.onset_s)
    return FaultSchedule(faults=faults, source="default schedule")
