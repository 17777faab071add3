"""Simulated machines: coupled, physically plausible signals, deterministic by seed.

Contract
--------
* A :class:`MachineModel` describes itself with ``info`` (:class:`MachineInfo`), ``tags``
  (:class:`TagSpec`, aliases ``0..n-1`` in list order) and ``commands`` (:class:`CommandSpec`).
  Every machine has an enum tag ``state`` (labels :data:`STATE_LABELS`, value = index),
  ``power_kw`` and ``energy_kwh`` (monotonic); most have ``part_count`` (monotonic while
  running) and ``cycle_time_s``; machines with a door have a bool door tag (``True`` = open).
* ``step(t, dt)`` advances the physics by ``dt`` seconds to sim time ``t`` (seconds since
  start) and returns ``(values, quality)``: a value for every tag by name, and the quality
  code (:class:`Quality`) of every tag that is not Good; a missing name means Good. Readings
  saturate at the tag's ``eng_range`` like a real transmitter; a Bad tag reads ``None``.
* ``execute(name, args)`` really changes the machine and returns a :class:`CommandResult`
  with ``ok``, a ``cause`` when refused, a sentence for people and the values observed
  right after (enum ``state`` is given by its label there).
* Faults (:class:`Fault` subclasses) are injected with a severity ``0..1``, an onset and a
  duration; process faults change the physics, sensor faults change one tag's reading. A
  fault that trips the machine latches state ``fault`` until the condition has cleared *and*
  ``reset_fault`` is executed. Putting a machine into maintenance repairs its faults.
* All randomness comes from one numpy ``Generator`` per machine, seeded from ``seed``. There
  is no wall clock and no global random state: the same seed and the same sequence of calls
  give the same values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, NamedTuple

import msgspec
import numpy as np

from copilot.arguments import ArgProblem, parse_args
from copilot.protocol.messages import (
    AlarmSpec,
    ArgSpec,
    Check,
    CommandSpec,
    Limits,
    MachineInfo,
    Quality,
    Range,
    Scalar,
    TagSpec,
    Value,
)
from copilot.sim.faults import APPLICABLE_FAULTS, FAULT_KINDS, SENSOR_FAULTS, FaultRecord

__all__ = [
    "FAULT_CLASSES",
    "IDLE",
    "MAINTENANCE",
    "MODEL_CLASSES",
    "MODE_CHOICES",
    "RUNNING",
    "SETUP",
    "STATE_LABELS",
    "BearingWear",
    "CncMachine",
    "CommandResult",
    "Compressor",
    "Conveyor",
    "CuringOven",
    "Dropout",
    "Fault",
    "InjectionPress",
    "Jam",
    "Leak",
    "MachineModel",
    "Overheating",
    "RobotCell",
    "SensorDrift",
    "SensorFault",
    "StuckSensor",
]

STATE_LABELS: tuple[str, ...] = ("running", "idle", "setup", "fault", "maintenance")
"""Labels of the ``state`` enum tag; the tag's value is the index."""

RUNNING, IDLE, SETUP, FAULT, MAINTENANCE = range(5)
MODE_CHOICES: list[str] = ["idle", "setup", "maintenance"]
"""Choices of the ``set_mode`` command."""

MAX_SUBSTEP_S = 1.0
"""Larger steps are split into substeps of at most this many seconds."""

_BAD_SENSOR = int(Quality.BAD_SENSOR_FAILURE)
_TWO_PI = 2.0 * math.pi


class CommandResult(msgspec.Struct, omit_defaults=True):
    """Outcome of a command.

    ``cause`` (when refused) is one of ``interlock``, ``out_of_range``, ``bad_state``,
    ``unknown_command``, ``bad_args`` or, from the plant, ``unknown_machine``. ``message`` is a
    sentence for people; ``observed`` holds values read right after executing.
    """

    ok: bool
    cause: str = ""
    message: str = ""
    observed: dict[str, Value] = msgspec.field(default_factory=dict)


def _lag(x: float, target: float, dt: float, tau: float) -> float:
    """First-order lag of ``x`` toward ``target`` with time constant ``tau`` (exact step)."""
    return x + (target - x) * (1.0 - math.exp(-dt / tau))


def _snap(x: float, eps: float = 1e-3) -> float:
    """Zero ``x`` when it is practically zero (a stopped motor reads exactly 0)."""
    return 0.0 if -eps < x < eps else x


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _fmt(x: float) -> str:
    """A number the way people write it: ``1200``, ``6.5``."""
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


class _Draws:
    """Buffered scalar draws from one numpy Generator (fast, and still deterministic)."""

    __slots__ = ("_gen", "_n", "_ni", "_u", "_ui")
    _CHUNK = 256

    def __init__(self, gen: np.random.Generator) -> None:
        self._gen = gen
        self._n: list[float] = []
        self._ni = 0
        self._u: list[float] = []
        self._ui = 0

    def normal(self) -> float:
        """A standard normal draw."""
        i = self._ni
        if i >= len(self._n):
            self._n = self._gen.standard_normal(self._CHUNK).tolist()
            i = 0
        self._ni = i + 1
        return self._n[i]

    def uniform(self, lo: float = 0.0, hi: float = 1.0) -> float:
        """A uniform draw in ``[lo, hi)``."""
        i = self._ui
        if i >= len(self._u):
            self._u = self._gen.random(self._CHUNK).tolist()
            i = 0
        self._ui = i + 1
        return lo + (hi - lo) * self._u[i]


# --------------------------------------------------------------------------------------------
# Faults.


class Fault:
    """A fault injected into one machine: severity ``0..1``, onset and duration (0 = open-ended).

    ``level(t)`` ramps from 0 at the onset to ``severity`` over ``ramp_s`` seconds; each model
    turns the level of a process fault into physics (extra heat, wear, leak flow...).
    """

    kind: ClassVar[str] = ""

    def __init__(
        self, severity: float, onset_s: float, duration_s: float = 0.0, tag: str | None = None
    ) -> None:
        self.severity = float(severity)
        self.onset_s = float(onset_s)
        self.duration_s = float(duration_s)
        self.tag = tag
        self.record: FaultRecord | None = None
        self.ramp_s = self._ramp()

    def _ramp(self) -> float:
        return 0.0

    def level(self, t: float) -> float:
        """Intensity at time ``t``: 0 before the onset, up to ``severity`` after the ramp."""
        if t < self.onset_s:
            return 0.0
        if self.ramp_s <= 0.0:
            return self.severity
        return self.severity * min(1.0, (t - self.onset_s) / self.ramp_s)

    def expired(self, t: float) -> bool:
        """Whether the fault's duration has elapsed at ``t``."""
        return self.duration_s > 0.0 and t >= self.onset_s + self.duration_s


class BearingWear(Fault):
    """Bearing or gearbox wear: vibration, friction and temperature rise over the duration."""

    kind = "bearing_wear"

    def _ramp(self) -> float:
        return self.duration_s if self.duration_s > 0 else 900.0


class Overheating(Fault):
    """Cooling failure or stuck heater: a temperature climbs toward and past its limits."""

    kind = "overheating"

    def _ramp(self) -> float:
        return min(self.duration_s, 60.0) if self.duration_s > 0 else 60.0


class Jam(Fault):
    """A conveyor jam: the belt stalls, current spikes, the drive trips."""

    kind = "jam"


class Leak(Fault):
    """A leak (air or hydraulic): pressure decays and the machine runs loaded more."""

    kind = "leak"

    def _ramp(self) -> float:
        return min(self.duration_s, 45.0) if self.duration_s > 0 else 45.0


class SensorFault(Fault):
    """A fault of one tag's measurement; the process itself is untouched."""

    def apply(self, value: Value, t: float) -> tuple[Value, int]:
        """The reading and quality code reported instead of ``value`` at ``t``."""
        return value, 0


class SensorDrift(SensorFault):
    """The reading drifts away from the truth, by up to ``severity`` × span over the duration."""

    kind = "sensor_drift"

    def __init__(
        self, severity: float, onset_s: float, duration_s: float = 0.0, tag: str | None = None
    ) -> None:
        super().__init__(severity, onset_s, duration_s, tag)
        self.lo = 0.0
        self.hi = 1.0
        self.decimals = 2
        self.sign = 0.0

    def _ramp(self) -> float:
        return self.duration_s if self.duration_s > 0 else 900.0

    def bind(self, lo: float, hi: float, decimals: int) -> None:
        """Set the tag's engineering range and resolution."""
        self.lo, self.hi, self.decimals = lo, hi, decimals

    def apply(self, value: Value, t: float) -> tuple[Value, int]:
        """The drifted reading (clamped to the range), still Good quality."""
        if not isinstance(value, float | int) or isinstance(value, bool):
            return value, 0
        if self.sign == 0.0:
            self.sign = 1.0 if value <= 0.5 * (self.lo + self.hi) else -1.0
        x = value + self.sign * self.level(t) * (self.hi - self.lo)
        return round(_clamp(x, self.lo, self.hi), self.decimals), 0


class StuckSensor(SensorFault):
    """The reading freezes at its value at the onset; quality stays Good (as in real life)."""

    kind = "stuck_sensor"

    def __init__(
        self, severity: float, onset_s: float, duration_s: float = 0.0, tag: str | None = None
    ) -> None:
        super().__init__(severity, onset_s, duration_s, tag)
        self._frozen = False
        self._held: Value = None

    def apply(self, value: Value, t: float) -> tuple[Value, int]:
        """The value held since the onset."""
        if not self._frozen and value is not None:
            self._frozen = True
            self._held = value
        return self._held, 0


class Dropout(SensorFault):
    """The sensor fails: no value, quality Bad (sensor failure)."""

    kind = "dropout"

    def apply(self, value: Value, t: float) -> tuple[Value, int]:
        """``None`` with :attr:`Quality.BAD_SENSOR_FAILURE`."""
        return None, _BAD_SENSOR


FAULT_CLASSES: dict[str, type[Fault]] = {
    cls.kind: cls
    for cls in (BearingWear, Overheating, Jam, Leak, SensorDrift, StuckSensor, Dropout)
}
"""Fault kind → class."""
assert set(FAULT_CLASSES) == set(FAULT_KINDS)


class _Trip(NamedTuple):
    reason: str
    check: Callable[[], str | None]


# --------------------------------------------------------------------------------------------
# Auxiliary signals (load tests): vectorised per machine.

_AUX_KINDS: tuple[str, ...] = ("temp", "pressure", "vibration", "flow", "level", "current")


class _AuxBank:
    """Extra realistic signals: mean-reverting random walks that follow the machine's activity.

    Each signal relaxes toward ``mu_idle + (mu_run - mu_idle) * activity`` with its own time
    constant, plus process noise (stationary spread ~1.5 % of span) and measurement noise.
    """

    def __init__(self, gen: np.random.Generator, first_alias: int, count: int) -> None:
        self._gen = gen
        self.tags: list[TagSpec] = []
        self.names: list[str] = []
        mu0: list[float] = []
        dmu: list[float] = []
        tau: list[float] = []
        spread: list[float] = []
        noise: list[float] = []
        lo: list[float] = []
        hi: list[float] = []
        offset = int(gen.integers(len(_AUX_KINDS)))
        for i in range(count):
            kind = _AUX_KINDS[(offset + i) % len(_AUX_KINDS)]
            name = f"aux_{kind}_{i + 1:02d}"
            u = gen.random(3).tolist()
            if kind == "temp":
                idle = 25.0 + 10.0 * u[0]
                run = idle + 8.0 + 22.0 * u[1]
                unit, eng = "°C", (0.0, 150.0)
                normal = (math.floor(idle - 8.0), math.ceil(run + 8.0))
                limits = Limits(hi=normal[1] + 10.0, hihi=normal[1] + 20.0)
                t_c, nf, desc = 60.0 + 540.0 * u[2], 0.005, "Auxiliary temperature"
            elif kind == "pressure":
                run = 3.0 + 6.0 * u[0]
                idle = run * (0.88 + 0.1 * u[1])
                unit, eng = "bar", (0.0, 16.0)
                normal = (round(run * 0.8, 1), round(run * 1.15, 1))
                limits = Limits(
                    lolo=round(run * 0.55, 1),
                    lo=round(run * 0.7, 1),
                    hi=round(run * 1.25, 1),
                    hihi=round(run * 1.4, 1),
                )
                t_c, nf, desc = 5.0 + 55.0 * u[2], 0.005, "Auxiliary pressure"
            elif kind == "vibration":
                idle, run = 0.3, 1.0 + 2.0 * u[0]
                unit, eng = "mm/s", (0.0, 20.0)
                normal = (0.0, 4.5)
                limits = Limits(hi=7.1, hihi=11.2)
                t_c, nf, desc = 2.0 + 18.0 * u[2], 0.01, "Auxiliary vibration velocity (RMS)"
            elif kind == "flow":
                run = 40.0 + 80.0 * u[0]
                idle = run * 0.2 * u[1]
                unit, eng = "l/min", (0.0, 200.0)
                normal = (0.0, round(run * 1.2))
                limits = Limits(hi=round(run * 1.35), hihi=round(run * 1.5))
                t_c, nf, desc = 3.0 + 27.0 * u[2], 0.01, "Auxiliary flow"
            elif kind == "level":
                idle = run = 35.0 + 35.0 * u[0]
                unit, eng = "%", (0.0, 100.0)
                normal = (20.0, 85.0)
                limits = Limits(lolo=10.0, lo=15.0, hi=90.0, hihi=95.0)
                t_c, nf, desc = 120.0 + 780.0 * u[2], 0.005, "Auxiliary tank level"
            else:
                idle, run = 0.5 + 1.5 * u[0], 8.0 + 17.0 * u[1]
                unit, eng = "A", (0.0, 50.0)
                normal = (0.0, 30.0)
                limits = Limits(hi=36.0, hihi=42.0)
                t_c, nf, desc = 1.0 + 9.0 * u[2], 0.01, "Auxiliary motor current"
            span = eng[1] - eng[0]
            self.tags.append(
                TagSpec(
                    name=name,
                    alias=first_alias + i,
                    type="float",
                    unit=unit,
                    description=desc,
                    eng_range=Range(eng[0], eng[1]),
                    normal=Range(float(normal[0]), float(normal[1])),
                    limits=limits,
                    deadband=round(0.005 * span, 3),
                    max_age_ms=5000,
                )
            )
            self.names.append(name)
            mu0.append(idle)
            dmu.append(run - idle)
            tau.append(t_c)
            spread.append((0.03 if kind == "level" else 0.015) * span)
            noise.append(nf * span)
            lo.append(eng[0])
            hi.append(eng[1])
        self._mu0 = np.array(mu0)
        self._dmu = np.array(dmu)
        self._tau = np.array(tau)
        self._spread = np.array(spread)
        self._noise = np.array(noise)
        self._lo = np.array(lo)
        self._hi = np.array(hi)
        self._x = self._mu0 + self._dmu * 0.5
        self._dt = -1.0
        self._a = np.zeros(count)
        self._s = np.zeros(count)
        self.values: list[float] = []

    def settle(self, activity: float) -> None:
        """Start every signal at its current operating point."""
        self._x = self._mu0 + self._dmu * activity
        self.values = np.round(self._x, 2).tolist()

    def advance(self, dt: float, activity: float) -> None:
        """Advance every signal by ``dt`` seconds and refresh :attr:`values`."""
        if dt != self._dt:
            self._dt = dt
            a = np.exp(-dt / self._tau)
            self._a = 1.0 - a
            # Exact OU discretisation: stationary standard deviation == spread.
            self._s = self._spread * np.sqrt(1.0 - a * a)
        z = self._gen.standard_normal((2, self._x.size))
        x = self._x
        x += (self._mu0 + self._dmu * activity - x) * self._a + self._s * z[0]
        m = x + self._noise * z[1]
        np.maximum(m, self._lo, out=m)
        np.minimum(m, self._hi, out=m)
        self.values = np.round(m, 2).tolist()


# --------------------------------------------------------------------------------------------
# The base model.


class MachineModel:
    """A simulated machine: metadata, physics, modes, commands and faults.

    Subclasses declare their tags in ``_declare``, set their initial physical state in
    ``_init_physics``, advance it in ``_physics`` and write true values in ``_publish_kind``.
    The base class handles modes, interlocks, doors, commands, faults, noise, drift,
    saturation, energy metering and auxiliary signals.

    Args:
        number: 1-based number of the machine within its kind (``cnc-03`` is number 3).
        line: production line, e.g. ``line-1``.
        seed: seed of this machine's Generator (an int or a sequence of ints, e.g.
            ``(plant_seed, machine_index)``).
        total_tags: pad with auxiliary signals up to this many tags (0 = natural tags only).
        autonomous: whether the machine changes mode on its own (batches, setups, door).
        initial_state: ``running`` or ``idle`` to force the state at t=0 (default: random,
            mostly running).

    """

    KIND: ClassVar[str] = "machine"
    LABEL: ClassVar[str] = "Machine"
    AREA: ClassVar[str] = ""
    FAULTS: ClassVar[frozenset[str]] = frozenset()
    DOOR_TAG: ClassVar[str | None] = None
    DOOR_WORDS: ClassVar[str] = "guard door"
    MEAN_RUN_S: ClassVar[float] = 1800.0
    SET_COMMAND: ClassVar[str] = "set_speed"
    SET_LABEL: ClassVar[str] = "Set speed"
    SET_ARG: ClassVar[ArgSpec] = ArgSpec(name="value")
    SET_TAG: ClassVar[str] = ""
    ACTUAL_TAG: ClassVar[str] = ""
    SENSOR_TAG: ClassVar[str] = ""

    def __init__(
        self,
        number: int = 1,
        *,
        line: str = "line-1",
        seed: int | Sequence[int] = 0,
        total_tags: int = 0,
        autonomous: bool = True,
        initial_state: str | None = None,
    ) -> None:
        self.info = MachineInfo(
            id=f"{self.KIND}-{number:02d}",
            name=f"{self.LABEL} {number}",
            kind=self.KIND,
            line=line,
            area=self.AREA,
        )
        entropy = [int(s) % 2**63 for s in seed] if isinstance(seed, Sequence) else seed % 2**63
        self.rng = np.random.default_rng(np.random.SeedSequence(entropy))
        self.draws = _Draws(self.rng)
        self.autonomous = autonomous
        self.t = 0.0

        # Tag declaration.
        self.tags: list[TagSpec] = []
        self._noisy: list[tuple[str, float, float, int]] = []
        self._sigma: list[float] = []
        self._exact_float: list[tuple[str, int]] = []
        self._decimals: dict[str, int] = {}
        self.v: dict[str, float] = {}
        self.vx: dict[str, Value] = {}
        self.tags.append(
            TagSpec(
                name="state",
                alias=0,
                type="enum",
                description="Operating state",
                labels=list(STATE_LABELS),
                max_age_ms=5000,
                alarm=AlarmSpec(on=[FAULT], priority="high", message="tripped (fault latched)"),
            )
        )
        self._declare()
        self._aux: _AuxBank | None = None
        if total_tags > len(self.tags):
            self._aux = _AuxBank(self.rng, len(self.tags), total_tags - len(self.tags))
            self.tags.extend(self._aux.tags)
            for name in self._aux.names:
                self._decimals[name] = 2
        self._tag_by_name = {t.name: t for t in self.tags}
        self._analog = {name for name, *_ in self._noisy}
        if self._aux is not None:
            self._analog.update(self._aux.names)
        self.commands: list[CommandSpec] = self._build_commands()
        self._command_specs = {c.name: c for c in self.commands}

        # Noise: measurement noise per analog tag plus a slow bias drift, drawn in chunks.
        self._sigma_arr = np.array(self._sigma)
        self._bias = np.zeros(len(self._sigma))
        self._bias_sd = self._sigma_arr * 0.4
        self._zbuf: list[list[float]] = []
        self._zi = 0
        self._last_dt = 0.1

        # Modes, doors, trips, faults.
        d = self.draws
        if initial_state is None:
            self.state = RUNNING if d.uniform() < 0.85 else IDLE
        elif initial_state in ("running", "idle"):
            self.state = STATE_LABELS.index(initial_state)
        else:
            raise ValueError(f"initial_state must be 'running' or 'idle', not {initial_state!r}")
        self._hold = False
        self._next_at = d.uniform(20.0, 180.0)
        self.door_open = False
        self._door_close_at = math.inf
        self._trip: _Trip | None = None
        self._faults: list[Fault] = []
        self._sensor_faults: list[SensorFault] = []
        self.f_wear = self.f_heat = self.f_leak = self.f_jam = 0.0
        self.wear = d.uniform(0.02, 0.12)

        # Environment and meters.
        self._start_hour = 8.0
        self._amb_base = 21.0 + (2.5 if self.AREA == "Molding" else 0.0) + d.uniform(-1.0, 1.0)
        self._amb_drift = 0.0
        self.ambient = self._ambient_at(0.0)
        self.power = 0.0
        self.energy = float(round(d.uniform(5_000.0, 80_000.0), 1))
        self.parts = int(d.uniform(0.0, 20_000.0))
        self.activity = 0.0

        self._init_physics()
        for _ in range(20):  # let the fast lags (speeds, currents, vibration) settle
            self._physics(0.0, 0.1)
        if self._aux is not None:
            self._aux.settle(self.activity)
        self._publish()

    # -- declaration helpers ------------------------------------------------------------------

    def _add(self, spec: TagSpec) -> None:
        spec.alias = len(self.tags)
        self.tags.append(spec)

    def _analog_tag(
        self,
        name: str,
        unit: str,
        eng: tuple[float, float],
        normal: tuple[float, float],
        *,
        lolo: float | None = None,
        lo: float | None = None,
        hi: float | None = None,
        hihi: float | None = None,
        noise: float = 0.005,
        decimals: int = 1,
        key: bool = False,
        description: str = "",
        deadband: float | None = None,
    ) -> None:
        """Declare a float tag; ``noise`` is the measurement noise as a fraction of span.

        ``deadband`` defaults to 0.5 % of the span (hysteresis against a noisy value).
        """
        span = eng[1] - eng[0]
        has_limits = any(x is not None for x in (lolo, lo, hi, hihi))
        self._add(
            TagSpec(
                name=name,
                alias=0,
                type="float",
                unit=unit,
                description=description,
                eng_range=Range(float(eng[0]), float(eng[1])),
                normal=Range(float(normal[0]), float(normal[1])),
                limits=Limits(lolo=lolo, lo=lo, hi=hi, hihi=hihi) if has_limits else None,
                deadband=float(f"{0.005 * span:.2g}") if deadband is None else deadband,
                max_age_ms=5000,
                key=key,
            )
        )
        self._decimals[name] = decimals
        self.v[name] = 0.0
        if noise > 0.0:
            self._noisy.append((name, float(eng[0]), float(eng[1]), decimals))
            self._sigma.append(noise * span)
        else:
            self._exact_float.append((name, decimals))

    def _common_tags(
        self,
        power: tuple[float, float],
        *,
        parts: bool = True,
        cycle: tuple[float, float, float, float] | None = None,
        cycle_key: bool = False,
    ) -> None:
        """Declare power/energy, part count, cycle time and door tags.

        ``power`` is ``(eng_hi, normal_hi)`` in kW; ``cycle`` is
        ``(eng_hi, normal_lo, normal_hi, hi)`` in seconds.
        """
        self._analog_tag(
            "power_kw",
            "kW",
            (0.0, power[0]),
            (0.0, power[1]),
            noise=0.01,
            decimals=2,
            description="Electrical power",
        )
        self._analog_tag(
            "energy_kwh",
            "kWh",
            (0.0, 1e7),
            (0.0, 1e7),
            noise=0.0,
            decimals=3,
            description="Energy meter (monotonic)",
            # A meter that only counts up has no noise to band against. With the default
            # 50,000 kWh its whole first life sat inside the band at the bottom of its range,
            # so every view's classifier walked its whole look-back on every read.
            deadband=0.0,
        )
        if parts:
            self._add(
                TagSpec(
                    name="part_count",
                    alias=0,
                    type="int",
                    unit="parts",
                    description="Good parts produced (monotonic)",
                    eng_range=Range(0.0, 1e9),
                    normal=Range(0.0, 1e9),
                    max_age_ms=5000,
                )
            )
            self.vx["part_count"] = 0
        if cycle is not None:
            self._analog_tag(
                "cycle_time_s",
                "s",
                (0.0, cycle[0]),
                (cycle[1], cycle[2]),
                hi=cycle[3],
                noise=0.0,
                decimals=1,
                key=cycle_key,
                description="Duration of the last completed cycle",
            )
        if self.DOOR_TAG is not None:
            self._add(
                TagSpec(
                    name=self.DOOR_TAG,
                    alias=0,
                    type="bool",
                    description=f"{self.DOOR_WORDS.capitalize()} open (true) or closed (false)",
                    max_age_ms=5000,
                    # Open while it runs is the alarm; open for setup or idle is work.
                    alarm=AlarmSpec(
                        on=[1],
                        priority="low",
                        running_only=True,
                        message=f"{self.DOOR_WORDS} open",
                    ),
                )
            )
            self.vx[self.DOOR_TAG] = False

    def _flag_tag(self, name: str, description: str, alarm: AlarmSpec | None = None) -> None:
        self._add(TagSpec(name=name, alias=0, type="bool", description=description, alarm=alarm))
        self.vx[name] = False

    def _build_commands(self) -> list[CommandSpec]:
        door = [f"{self.DOOR_WORDS} open"] if self.DOOR_TAG else []
        door_check = (
            [Check(kind="interlock", tag=self.DOOR_TAG, op="eq", value=1.0, words=door[0])]
            if self.DOOR_TAG
            else []
        )
        running = Check(
            kind="interlock", tag="state", op="eq", value=float(RUNNING), words="machine running"
        )
        return [
            CommandSpec(
                name="start",
                label="Start",
                risk="confirm",
                interlocks=[*door, "fault active", *self._extra_interlocks()],
                permissives=["machine idle or in setup"],
                description=f"Start the {self.LABEL.lower()} (production).",
                checks=[
                    *door_check,
                    Check(
                        kind="interlock",
                        tag="state",
                        op="eq",
                        value=float(FAULT),
                        words="fault active",
                    ),
                    Check(
                        kind="permissive",
                        tag="state",
                        op="in",
                        values=[float(IDLE), float(SETUP)],
                        words="machine not idle or in setup",
                    ),
                ],
            ),
            CommandSpec(
                name="stop",
                label="Stop",
                risk="routine",
                description="Controlled stop to idle.",
            ),
            CommandSpec(
                name="reset_fault",
                label="Reset fault",
                risk="confirm",
                interlocks=["fault condition still present"],
                permissives=["a fault is latched"],
                checks=[
                    Check(
                        kind="permissive",
                        tag="state",
                        op="eq",
                        value=float(FAULT),
                        words="no fault is latched",
                    )
                ],
                description="Acknowledge and reset a latched trip once its cause has cleared.",
            ),
            CommandSpec(
                name=self.SET_COMMAND,
                label=self.SET_LABEL,
                args=[self.SET_ARG],
                risk="confirm",
                description=f"{self.SET_LABEL}.",
            ),
            CommandSpec(
                name="set_mode",
                label="Set mode",
                args=[
                    ArgSpec(
                        name="mode",
                        type="enum",
                        choices=list(MODE_CHOICES),
                        description="Operating mode",
                    )
                ],
                risk="sign",
                interlocks=["machine running"],
                permissives=["machine stopped"],
                checks=[running],
                description="Switch between idle, setup and maintenance "
                "(maintenance locks the machine out and repairs faults).",
            ),
        ]

    # -- hooks for subclasses -----------------------------------------------------------------

    def _declare(self) -> None:
        raise NotImplementedError

    def _init_physics(self) -> None:
        raise NotImplementedError

    def _physics(self, t: float, dt: float) -> None:
        raise NotImplementedError

    def _publish_kind(self) -> None:
        raise NotImplementedError

    def _apply_setpoint(self, value: float) -> None:
        raise NotImplementedError

    def _on_start(self) -> None:
        """Called when the machine starts running."""

    def _on_stop(self) -> None:
        """Called when the machine stops running (stop, batch end, trip)."""

    def _extra_interlocks(self) -> list[str]:
        return []

    def _extra_blockers(self) -> list[str]:
        return []

    # -- public API -----------------------------------------------------------------------------

    @property
    def state_label(self) -> str:
        """The current state as a word (``running``, ``idle``...)."""
        return STATE_LABELS[self.state]

    @property
    def trip_reason(self) -> str | None:
        """Why the machine tripped, while a trip is latched; else None."""
        return self._trip.reason if self._trip is not None else None

    @property
    def active_faults(self) -> list[Fault]:
        """Faults currently injected (including those whose onset is still ahead)."""
        return list(self._faults)

    def tag(self, name: str) -> TagSpec:
        """The TagSpec named ``name`` (KeyError if unknown)."""
        return self._tag_by_name[name]

    def step(self, t: float, dt: float) -> tuple[dict[str, Value], dict[str, int]]:
        """Advance by ``dt`` seconds to sim time ``t``; return values and non-Good qualities."""
        if dt > 0.0:
            if dt <= MAX_SUBSTEP_S:
                self._advance(t, dt)
            else:
                n = math.ceil(dt / MAX_SUBSTEP_S)
                h = dt / n
                t0 = t - dt
                for k in range(1, n + 1):
                    self._advance(t0 + k * h, h)
            self._last_dt = dt
            if self._aux is not None:
                self._aux.advance(dt, self.activity)
        self.t = t
        self._publish()
        values = self._measure()
        quality: dict[str, int] = {}
        for f in self._sensor_faults:
            name = f.tag
            if name is not None and name in values and t >= f.onset_s:
                val, q = f.apply(values[name], t)
                values[name] = val
                if q:
                    quality[name] = q
        return values, quality

    def execute(self, name: str, args: Mapping[str, Scalar]) -> CommandResult:
        """Execute command ``name`` with ``args``; the machine's state really changes."""
        spec = self._command_specs.get(name)
        if spec is None:
            return CommandResult(
                ok=False,
                cause="unknown_command",
                message=f"{self.info.name} has no command {name!r}; it accepts "
                f"{', '.join(c.name for c in self.commands)}.",
            )
        parsed = self._parse_args(spec, args)
        if isinstance(parsed, CommandResult):
            return parsed
        if name == "start":
            return self._cmd_start()
        if name == "stop":
            return self._cmd_stop()
        if name == "reset_fault":
            return self._cmd_reset()
        if name == "set_mode":
            return self._cmd_mode(str(parsed["mode"]))
        return self._cmd_set(float(parsed[self.SET_ARG.name]))

    def reseed(self, seed: int | Sequence[int]) -> None:
        """Go on from the current state with a fresh random stream drawn from ``seed``.

        Two deep copies of one machine share its random state: stepped alike they draw the
        same noise, demand and cycle times. Reseeding one makes its future an independent
        sample of the same machine from the same state (what was already drawn, such as a
        door's scheduled time, stays); buffered draws are discarded.
        """
        entropy = [int(s) % 2**63 for s in seed] if isinstance(seed, Sequence) else seed % 2**63
        fresh = np.random.default_rng(np.random.SeedSequence(entropy))
        self.rng.bit_generator.state = fresh.bit_generator.state  # the aux bank shares self.rng
        self.draws = _Draws(self.rng)
        self._zi = len(self._zbuf)

    def fault_problem(self, kind: str, tag: str | None = None) -> str | None:
        """Why fault ``kind`` (on ``tag``) cannot be injected here, or None if it can."""
        if kind not in FAULT_KINDS:
            return f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}"
        if kind not in self.FAULTS:
            fits = sorted(k for k, faults in APPLICABLE_FAULTS.items() if kind in faults)
            return (
                f"{kind} does not apply to a {self.KIND} machine (it applies to {', '.join(fits)})"
            )
        if tag is None:
            return None
        if kind not in SENSOR_FAULTS:
            return f"tag is only used by sensor faults, not by {kind}"
        if tag not in self._tag_by_name:
            return f"{self.info.id} has no tag {tag!r}"
        if tag == "state":
            return "state is not a sensor reading"
        if kind == "sensor_drift" and tag not in self._analog:
            return f"sensor_drift needs a measured analog tag and {tag} is not one"
        return None

    def inject_fault(
        self,
        kind: str,
        severity: float = 0.7,
        onset_s: float | None = None,
        duration_s: float = 0.0,
        tag: str | None = None,
    ) -> Fault:
        """Inject a fault starting at ``onset_s`` (default: now); return it.

        A sensor fault without ``tag`` hits the machine's usual sensor (``SENSOR_TAG``).

        Raises:
            ValueError: the fault does not apply, the tag is unknown or the numbers are invalid.

        """
        problem = self.fault_problem(kind, tag)
        if problem is not None:
            raise ValueError(f"{self.info.name}: {problem}.")
        if not 0.0 <= severity <= 1.0:
            raise ValueError(f"{self.info.name}: severity must lie between 0 and 1.")
        if not (math.isfinite(duration_s) and duration_s >= 0.0):
            raise ValueError(f"{self.info.name}: duration_s must be 0 or more seconds.")
        if kind in SENSOR_FAULTS and tag is None:
            tag = self.SENSOR_TAG
        fault = FAULT_CLASSES[kind](
            severity, self.t if onset_s is None else onset_s, duration_s, tag
        )
        if isinstance(fault, SensorDrift) and tag is not None:
            rng = self._tag_by_name[tag].eng_range
            assert rng is not None
            fault.bind(rng.lo, rng.hi, self._decimals.get(tag, 2))
        self._faults.append(fault)
        if isinstance(fault, SensorFault):
            self._sensor_faults.append(fault)
        return fault

    # -- internals: time ----------------------------------------------------------------------

    def _ambient_at(self, t: float) -> float:
        hour = self._start_hour + t / 3600.0
        return self._amb_base - 3.5 * math.cos(_TWO_PI * (hour - 3.0) / 24.0) + self._amb_drift

    def _advance(self, t: float, dt: float) -> None:
        if self._faults:
            self._update_faults(t)
        self._amb_drift += -self._amb_drift * dt / 1800.0 + 0.02 * math.sqrt(dt) * (
            self.draws.normal()
        )
        self.ambient = self._ambient_at(t)
        if self.door_open and t >= self._door_close_at:
            self.door_open = False
            self._door_close_at = math.inf
        if self.autonomous and not self._hold:
            self._autonomy(t, dt)
        self._physics(t, dt)
        self.energy += self.power * dt / 3600.0

    def _update_faults(self, t: float) -> None:
        wear = heat = leak = jam = 0.0
        keep: list[Fault] = []
        for f in self._faults:
            if f.expired(t):
                if f.record is not None and f.record.cleared_s is None:
                    f.record.cleared_s = f.onset_s + f.duration_s
                continue
            keep.append(f)
            kind = f.kind
            if kind == "bearing_wear":
                wear = max(wear, f.level(t))
            elif kind == "overheating":
                heat = max(heat, f.level(t))
            elif kind == "leak":
                leak = max(leak, f.level(t))
            elif kind == "jam":
                jam = max(jam, f.level(t))
        if len(keep) != len(self._faults):
            self._faults = keep
            self._sensor_faults = [f for f in keep if isinstance(f, SensorFault)]
        self.f_wear, self.f_heat, self.f_leak, self.f_jam = wear, heat, leak, jam

    def _repair(self, t: float) -> None:
        for f in self._faults:
            if f.record is not None and f.record.cleared_s is None:
                f.record.cleared_s = t
        self._faults = []
        self._sensor_faults = []
        self.f_wear = self.f_heat = self.f_leak = self.f_jam = 0.0

    def _autonomy(self, t: float, dt: float) -> None:
        """Plausible unattended behaviour: batches end, changeovers happen, doors open."""
        d = self.draws
        s = self.state
        if s == RUNNING:
            if self.MEAN_RUN_S > 0.0 and d.uniform() < dt / self.MEAN_RUN_S:
                self._set_state(IDLE)
                self._next_at = t + d.uniform(60.0, 240.0)
        elif s == IDLE:
            if self.door_open:
                return
            if self.DOOR_TAG is not None and d.uniform() < dt / 900.0:
                self._open_door(t + d.uniform(8.0, 40.0))
                self._next_at = max(self._next_at, self._door_close_at + d.uniform(3.0, 15.0))
            elif t >= self._next_at:
                if self.MEAN_RUN_S > 0.0 and d.uniform() < 0.2:
                    length = d.uniform(120.0, 360.0)
                    self.state = SETUP
                    self._next_at = t + length
                    if self.DOOR_TAG is not None:
                        self._open_door(t + length - d.uniform(10.0, 30.0))
                elif not self._blockers():
                    self._set_state(RUNNING)
        elif s == SETUP and t >= self._next_at and not self.door_open:
            self.state = IDLE
            self._next_at = t + d.uniform(5.0, 30.0)

    def _open_door(self, close_at: float) -> None:
        if self.DOOR_TAG is not None:
            self.door_open = True
            self._door_close_at = close_at

    def _close_door(self) -> None:
        self.door_open = False
        self._door_close_at = math.inf

    def _set_state(self, new: int) -> None:
        old = self.state
        self.state = new
        if new == RUNNING and old != RUNNING:
            self._on_start()
        elif old == RUNNING and new != RUNNING:
            self._on_stop()

    def _trip_now(self, reason: str, check: Callable[[], str | None]) -> None:
        """Latch a trip: state fault until the condition clears and reset_fault is executed."""
        if self._trip is not None or self.state == MAINTENANCE:
            return
        self._trip = _Trip(reason, check)
        self._hold = True
        self._set_state(FAULT)

    def _blockers(self) -> list[str]:
        out: list[str] = []
        if self.door_open:
            out.append(f"{self.DOOR_WORDS} open")
        if self._trip is not None:
            out.append(f"fault active ({self._trip.reason}); reset the fault first")
        out.extend(self._extra_blockers())
        return out

    # -- internals: measurement -----------------------------------------------------------------

    def _publish(self) -> None:
        v = self.v
        v["power_kw"] = self.power
        v["energy_kwh"] = self.energy
        if "part_count" in self.vx:
            self.vx["part_count"] = self.parts
        if self.DOOR_TAG is not None:
            self.vx[self.DOOR_TAG] = self.door_open
        self._publish_kind()

    def _noise_row(self) -> list[float]:
        i = self._zi
        if i >= len(self._zbuf):
            k = 64
            z = self.rng.standard_normal((k + 1, len(self._sigma)))
            # Slow sensor bias drift: OU process (tau 1 h), interpolated across the chunk.
            rho = math.exp(-k * self._last_dt / 3600.0)
            new_bias = self._bias * rho + self._bias_sd * math.sqrt(1.0 - rho * rho) * z[k]
            ramp = np.linspace(1.0 / k, 1.0, k)[:, None]
            bias = self._bias + (new_bias - self._bias) * ramp
            self._bias = new_bias
            self._zbuf = (z[:k] * self._sigma_arr + bias).tolist()
            i = 0
        self._zi = i + 1
        return self._zbuf[i]

    def _measure(self) -> dict[str, Value]:
        v = self.v
        out: dict[str, Value] = {"state": self.state}
        row = self._noise_row()
        for (name, lo, hi, nd), n in zip(self._noisy, row, strict=True):
            x = v[name]
            if x != 0.0:
                x += n
                if x < lo:
                    x = lo
                elif x > hi:
                    x = hi
            out[name] = round(x, nd)
        for name, nd in self._exact_float:
            out[name] = round(v[name], nd)
        out.update(self.vx)
        if self._aux is not None:
            out.update(zip(self._aux.names, self._aux.values, strict=True))
        return out

    def _observed(self, *names: str) -> dict[str, Value]:
        self._publish()
        out: dict[str, Value] = {"state": self.state_label}
        for name in names:
            if name in self.v:
                out[name] = round(self.v[name], self._decimals.get(name, 2))
            elif name in self.vx:
                out[name] = self.vx[name]
        return out

    # -- internals: commands ------------------------------------------------------------------

    def _refuse(self, cause: str, message: str, *names: str) -> CommandResult:
        return CommandResult(
            ok=False, cause=cause, message=message, observed=self._observed(*names)
        )

    def _parse_args(
        self, spec: CommandSpec, args: Mapping[str, Scalar]
    ) -> dict[str, Scalar] | CommandResult:
        parsed = parse_args(spec, args)  # the one validator (copilot.arguments)
        if isinstance(parsed, ArgProblem):
            message = f"{self.info.name}: {parsed.sentence}"
            if parsed.cause == "out_of_range":
                return self._refuse(parsed.cause, message, self.SET_TAG)
            return CommandResult(ok=False, cause=parsed.cause, message=message)
        return parsed

    def _cmd_start(self) -> CommandResult:
        who = self.info.name
        watch = (self.SET_TAG, self.ACTUAL_TAG)
        if self.state == RUNNING:
            return CommandResult(
                ok=True, message=f"{who} is already running.", observed=self._observed(*watch)
            )
        if self.state == MAINTENANCE:
            return self._refuse(
                "bad_state", f"{who} cannot start: it is in maintenance; set mode idle first."
            )
        blockers = self._blockers()
        if blockers:
            return self._refuse("interlock", f"{who} cannot start: {', '.join(blockers)}.")
        self._hold = False
        self._set_state(RUNNING)
        return CommandResult(
            ok=True,
            message=f"{who} started; {self._start_words()}.",
            observed=self._observed(*watch),
        )

    def _start_words(self) -> str:
        return "running up"

    def _stop_words(self) -> str:
        return "it is idle"

    def _cmd_stop(self) -> CommandResult:
        who = self.info.name
        if self.state != RUNNING:
            return CommandResult(
                ok=True,
                message=f"{who} is not running ({self.state_label}); nothing to stop.",
                observed=self._observed(self.ACTUAL_TAG),
            )
        self._hold = True
        self._set_state(IDLE)
        return CommandResult(
            ok=True,
            message=f"{who} stopped; {self._stop_words()}.",
            observed=self._observed(self.ACTUAL_TAG),
        )

    def _cmd_reset(self) -> CommandResult:
        who = self.info.name
        trip = self._trip
        if trip is None:
            return self._refuse("bad_state", f"{who} has no fault to reset.")
        problem = trip.check()
        if problem is not None:
            return self._refuse(
                "interlock", f"{who} cannot reset the fault ({trip.reason}): {problem}."
            )
        self._trip = None
        self._hold = True
        if self.state == FAULT:
            self.state = IDLE
            tail = "it is idle and can be started"
        else:
            tail = f"it stays in {self.state_label}"
        return CommandResult(
            ok=True,
            message=f"{who} fault reset ({trip.reason}); {tail}.",
            observed=self._observed(),
        )

    def _cmd_set(self, value: float) -> CommandResult:
        self._apply_setpoint(value)
        unit = f" {self.SET_ARG.unit}" if self.SET_ARG.unit else ""
        what = self.SET_ARG.description.lower() or self.SET_ARG.name
        return CommandResult(
            ok=True,
            message=f"{self.info.name} {what} set to {_fmt(value)}{unit}.",
            observed=self._observed(self.SET_TAG, self.ACTUAL_TAG),
        )

    def _cmd_mode(self, mode: str) -> CommandResult:
        who = self.info.name
        door = (self.DOOR_TAG,) if self.DOOR_TAG else ()
        target = STATE_LABELS.index(mode)
        if self.state == target:
            return CommandResult(
                ok=True, message=f"{who} is already in {mode}.", observed=self._observed(*door)
            )
        if self.state == RUNNING:
            return self._refuse(
                "bad_state", f"{who} is running; stop it before switching to {mode}."
            )
        if self.state == FAULT and target != MAINTENANCE:
            reason = self._trip.reason if self._trip else "fault"
            return self._refuse(
                "bad_state",
                f"{who} has a latched fault ({reason}); reset it first, "
                "or switch to maintenance to repair it.",
            )
        self._hold = True
        t = self.t
        if target == MAINTENANCE:
            self._repair(t)
            self.state = MAINTENANCE
            self._open_door(math.inf)
            message = f"{who} is in maintenance (locked out); its faults are being repaired."
        elif target == SETUP:
            self.state = SETUP
            self._open_door(t + self.draws.uniform(60.0, 300.0))
            message = f"{who} is in setup."
        else:
            self._close_door()
            if self._trip is not None:
                self.state = FAULT
                message = (
                    f"{who} left {self.state_label}, but the fault ({self._trip.reason}) "
                    "is still latched; reset it."
                )
            else:
                self.state = IDLE
                message = f"{who} is idle."
        return CommandResult(ok=True, message=message, observed=self._observed(*door))


# --------------------------------------------------------------------------------------------
# Machine kinds.


class CncMachine(MachineModel):
    """CNC machining centre: spindle speed, bearing temperature, vibration, motor current.

    Current follows speed and cutting load (plus an acceleration term while spinning up);
    power follows current; the bearing temperature follows losses with a 4-minute lag;
    vibration rises with speed squared and with wear. Trips: spindle over-temperature
    (> 82 °C) and sustained vibration (> 11.2 mm/s for 2 s).
    """

    KIND = "cnc"
    LABEL = "CNC"
    AREA = "Machining"
    FAULTS = APPLICABLE_FAULTS["cnc"]
    DOOR_TAG = "guard_door"
    MEAN_RUN_S = 2400.0
    SET_COMMAND = "set_speed"
    SET_LABEL = "Set spindle speed"
    SET_ARG = ArgSpec(
        name="speed_rpm",
        type="float",
        unit="rpm",
        range=Range(1000.0, 10000.0),
        description="Spindle speed setpoint",
    )
    SET_TAG = "speed_setpoint_rpm"
    ACTUAL_TAG = "spindle_speed_rpm"
    SENSOR_TAG = "spindle_temp_c"

    def _declare(self) -> None:
        a = self._analog_tag
        a("spindle_speed_rpm", "rpm", (0, 12000), (1000, 10000), hi=10500, hihi=11500,
          decimals=0, key=True, description="Spindle speed")  # fmt: skip
        a("speed_setpoint_rpm", "rpm", (0, 12000), (1000, 10000), noise=0.0, decimals=0,
          description="Spindle speed setpoint")  # fmt: skip
        a("spindle_temp_c", "°C", (0, 120), (20, 65), hi=72, hihi=82, key=True,
          description="Spindle bearing temperature")  # fmt: skip
        a("vibration_mm_s", "mm/s", (0, 20), (0, 4.5), hi=7.1, hihi=11.2, noise=0.01,
          decimals=2, key=True, description="Spindle vibration velocity (RMS)")  # fmt: skip
        a("motor_current_a", "A", (0, 60), (0, 35), hi=45, hihi=55, noise=0.01,
          description="Spindle motor current")  # fmt: skip
        self._common_tags((40.0, 25.0), parts=True, cycle=(600.0, 20.0, 200.0, 300.0))

    def _heat(self, n: float, load: float, wear: float) -> float:
        """Steady temperature rise of the spindle bearing above ambient."""
        spin = min(1.0, n / 0.3)
        rise = 3.0 + (3.0 + 25.0 * math.pow(n, 1.3) + 10.0 * load + 25.0 * wear) * spin
        return rise + self.f_heat * 45.0 * min(1.0, n / 0.6)

    def _plan_cycle(self) -> float:
        scale = math.pow(8000.0 / self.speed_sp, 0.6)
        return self.base_cycle * scale * (1.0 + 0.015 * self.draws.normal())

    def _init_physics(self) -> None:
        d = self.draws
        self.speed_sp = float(round(d.uniform(6000.0, 9000.0), -2))
        self.base_cycle = d.uniform(40.0, 110.0)
        running = self.state == RUNNING
        self.speed = self.speed_sp if running else 0.0
        self.cut = d.uniform(0.3, 0.8) if running else 0.0
        self.seg_left = d.uniform(3.0, 15.0)
        self.load_f = self.cut
        n = self.speed / 10000.0
        self.temp = self.ambient + self._heat(n, self.load_f, self.wear)
        self.vib = 0.0
        self.current = 0.0
        self.vib_high_s = 0.0
        self.cycle_len = self._plan_cycle()
        self.cycle_pos = d.uniform(0.0, self.cycle_len)
        self.cycle_time = self.cycle_len
        self.activity = n * (0.5 + self.load_f)

    def _on_stop(self) -> None:
        self.cycle_pos = 0.0

    def _start_words(self) -> str:
        return f"spindle ramping to {_fmt(self.speed_sp)} rpm"

    def _stop_words(self) -> str:
        return "the spindle is running down"

    def _apply_setpoint(self, value: float) -> None:
        self.speed_sp = value
        self.cycle_len = self._plan_cycle()

    def _physics(self, t: float, dt: float) -> None:
        d = self.draws
        running = self.state == RUNNING
        prev = self.speed
        target = self.speed_sp if running else 0.0
        self.speed = s = _snap(_lag(prev, target, dt, 1.2 if running else 2.0), 1.0)
        accel = abs(s - prev) / dt
        n = s / 10000.0
        load = 0.0
        if running and s > 0.9 * self.speed_sp:
            self.seg_left -= dt
            if self.seg_left <= 0.0:
                self.seg_left = d.uniform(3.0, 15.0)
                self.cut = 0.05 if d.uniform() < 0.15 else d.uniform(0.25, 0.9)
            load = self.cut
            self.cycle_pos += dt
            if self.cycle_pos >= self.cycle_len:
                self.parts += 1
                self.cycle_time = self.cycle_len
                self.cycle_pos -= self.cycle_len
                self.cycle_len = self._plan_cycle()
        wear = self.wear + self.f_wear
        self.load_f = _lag(self.load_f, load, dt, 60.0)
        if s > 0.0:
            current = 3.0 + 6.0 * n + 26.0 * load * min(1.0, 1.5 * n) + 0.004 * accel
            current += 6.0 * wear * n
            vib = 0.25 + 1.6 * n * n + 0.6 * load * n + 9.0 * wear * n + 0.5 * accel / 6000.0
        else:
            current = vib = 0.0
        self.current = current
        self.vib = _snap(_lag(self.vib, vib, dt, 0.7), 0.01)
        self.temp = _lag(self.temp, self.ambient + self._heat(n, self.load_f, wear), dt, 240.0)
        standby = 0.3 if self.state == MAINTENANCE else 1.2
        self.power = 0.6 * current + standby
        self.activity = n * (0.5 + self.load_f)
        if self.temp > 82.0:
            self._trip_now("spindle over-temperature", self._temp_ok)
        self.vib_high_s = self.vib_high_s + dt if self.vib > 11.2 else 0.0
        if self.vib_high_s >= 2.0:
            self._trip_now("spindle vibration too high", self._vib_ok)

    def _temp_ok(self) -> str | None:
        if self.temp < 72.0:
            return None
        return f"spindle temperature is still {self.temp:.1f} °C (it must fall below 72 °C)"

    def _vib_ok(self) -> str | None:
        if self.vib < 7.1:
            return None
        return f"spindle vibration is still {self.vib:.1f} mm/s (it must fall below 7.1 mm/s)"

    def _publish_kind(self) -> None:
        v = self.v
        v["spindle_speed_rpm"] = self.speed
        v["speed_setpoint_rpm"] = self.speed_sp
        v["spindle_temp_c"] = self.temp
        v["vibration_mm_s"] = self.vib
        v["motor_current_a"] = self.current
        v["cycle_time_s"] = self.cycle_time


class InjectionPress(MachineModel):
    """Injection moulding press: barrel and mould temperatures, pressures, clamp force.

    A shot cycles through close, inject, hold, cool (plasticising first) and open/eject. Pump
    current follows the phase; hydraulic oil temperature follows the average pump load with a
    5-minute lag; the peak injection pressure per shot rises when the melt is colder. A leak
    lowers the system pressure and makes the pump work harder. Trips: hydraulic oil
    over-temperature (> 70 °C), hydraulic pressure below 110 bar for 3 s while running.
    """

    KIND = "press"
    LABEL = "Press"
    AREA = "Molding"
    FAULTS = APPLICABLE_FAULTS["press"]
    DOOR_TAG = "guard_door"
    MEAN_RUN_S = 3000.0
    SET_COMMAND = "set_setpoint"
    SET_LABEL = "Set barrel temperature"
    SET_ARG = ArgSpec(
        name="setpoint_c",
        type="float",
        unit="°C",
        range=Range(180.0, 260.0),
        description="Barrel temperature setpoint",
    )
    SET_TAG = "barrel_setpoint_c"
    ACTUAL_TAG = "barrel_temp_c"
    SENSOR_TAG = "mould_temp_c"

    _PHASES: ClassVar[tuple[str, ...]] = ("close", "inject", "hold", "cool", "open")

    def _declare(self) -> None:
        a = self._analog_tag
        a("barrel_temp_c", "°C", (0, 400), (200, 260), lo=190, hi=270, hihi=290, key=True,
          description="Barrel (melt) temperature")  # fmt: skip
        a("barrel_setpoint_c", "°C", (0, 400), (180, 260), noise=0.0,
          description="Barrel temperature setpoint")  # fmt: skip
        a("mould_temp_c", "°C", (0, 150), (40, 80), hi=90, hihi=110,
          description="Mould temperature")  # fmt: skip
        a("injection_pressure_bar", "bar", (0, 2500), (700, 1500), lo=500, hi=1800, hihi=2100,
          noise=0.0, decimals=0, key=True,
          description="Peak injection pressure of the last shot")  # fmt: skip
        a("hydraulic_pressure_bar", "bar", (0, 250), (140, 175), lolo=110, lo=130, hi=190,
          hihi=210, description="Hydraulic system pressure")  # fmt: skip
        a("oil_temp_c", "°C", (0, 100), (30, 55), hi=60, hihi=70,
          description="Hydraulic oil temperature")  # fmt: skip
        a("clamp_force_kn", "kN", (0, 3000), (0, 2200), hi=2400, hihi=2600, decimals=0,
          description="Clamp force")  # fmt: skip
        a("motor_current_a", "A", (0, 120), (0, 80), hi=95, hihi=110, noise=0.01,
          description="Hydraulic pump motor current")  # fmt: skip
        a("heater_power_kw", "kW", (0, 20), (2, 15), noise=0.01, decimals=2,
          description="Barrel heater power")  # fmt: skip
        self._common_tags((100.0, 60.0), parts=True, cycle=(120.0, 15.0, 45.0, 60.0),
                          cycle_key=True)  # fmt: skip

    def _init_physics(self) -> None:
        d = self.draws
        self.barrel_sp = float(round(d.uniform(215.0, 245.0)))
        self.mould_sp = float(round(d.uniform(45.0, 70.0)))
        self.cool_base = d.uniform(10.0, 22.0)
        self.clamp_set = float(round(d.uniform(1500.0, 2000.0), -1))
        self.cavities = (1, 2, 4)[int(d.uniform(0.0, 3.0))]
        running = self.state == RUNNING
        self.barrel = self.barrel_sp
        self.mould = self.mould_sp + (5.0 if running else 0.0)
        self.load_f = 0.44 if running else 0.08
        self.oil = self.ambient + 2.0 + 10.0 + 25.0 * self.load_f
        self.hyd = 160.0
        self.current = 0.0
        self.heater = 0.0
        self.clamp = 0.0
        self.low_p_s = 0.0
        self.phase = int(d.uniform(0.0, 5.0)) if running else 0
        self.durations = self._plan_durations()
        self.phase_t = d.uniform(0.0, self.durations[self.phase])
        self.cycle_time = sum(self.durations)
        self.peak = self._peak()

    def _plan_durations(self) -> list[float]:
        cool = self.cool_base * (1.0 + 0.02 * (self.mould - self.mould_sp))
        cool *= 1.0 + 0.02 * self.draws.normal()
        return [1.6, 1.2, 3.0, max(cool, 4.0), 2.8]

    def _peak(self) -> float:
        p = 1050.0 + 9.0 * (230.0 - self.barrel) + 3.0 * (self.mould_sp - self.mould)
        p *= (1.0 - 0.3 * self.f_leak) * (1.0 + 0.015 * self.draws.normal())
        return _clamp(p, 0.0, 2500.0)

    def _on_stop(self) -> None:
        self.phase = 0
        self.phase_t = 0.0

    def _start_words(self) -> str:
        return "the automatic cycle is starting"

    def _apply_setpoint(self, value: float) -> None:
        self.barrel_sp = value

    def _physics(self, t: float, dt: float) -> None:
        s = self.state
        running = s == RUNNING
        pump_on = s in (RUNNING, IDLE, SETUP)
        heaters_on = s != MAINTENANCE
        leak = self.f_leak
        if running:
            self.phase_t += dt
            while self.phase_t >= self.durations[self.phase]:
                self.phase_t -= self.durations[self.phase]
                if self.phase == 1:
                    self.peak = self._peak()
                if self.phase == 4:
                    self.parts += self.cavities
                    self.cycle_time = sum(self.durations)
                    self.durations = self._plan_durations()
                    self.phase = 0
                else:
                    self.phase += 1
            ph = self.phase
            if ph == 3:
                load = 0.5 if self.phase_t < 0.6 * self.durations[3] else 0.12
            else:
                load = (0.55, 0.95, 0.6, 0.0, 0.45)[ph]
            clamp_target = 0.0 if ph == 4 else self.clamp_set
        else:
            ph = -1
            load = 0.08 if pump_on else 0.0
            clamp_target = 0.0
        if pump_on:
            load = min(1.0, load + 0.35 * leak)
            p_target = 160.0 - 60.0 * leak - (18.0 if ph == 1 else 0.0)
            self.hyd = _lag(self.hyd, p_target, dt, 1.5)
            current = 12.0 + 45.0 * load
        else:
            self.hyd = _snap(_lag(self.hyd, 0.0, dt, 4.0), 0.05)
            current = 0.0
        self.current = _snap(_lag(self.current, current, dt, 0.3), 0.01)
        self.load_f = _lag(self.load_f, load, dt, 90.0)
        self.clamp = _snap(_lag(self.clamp, clamp_target, dt, 0.4), 1.0)
        amb = self.ambient
        if heaters_on:
            self.barrel = _lag(self.barrel, self.barrel_sp, dt, 150.0)
            heater = 0.045 * (self.barrel - amb) + 0.9 * (self.barrel_sp - self.barrel)
            self.heater = _clamp(heater - (1.5 if running else 0.0), 0.0, 14.0)
            mould_target = self.mould_sp + (5.0 if running else 0.0)
            self.mould = _lag(self.mould, mould_target, dt, 200.0)
        else:
            self.barrel = _lag(self.barrel, amb, dt, 900.0)
            self.heater = 0.0
            self.mould = _lag(self.mould, amb, dt, 1200.0)
        oil = amb + 2.0
        if pump_on:
            oil += 10.0 + 25.0 * self.load_f + 10.0 * leak + 45.0 * self.f_heat
        self.oil = _lag(self.oil, oil, dt, 300.0)
        tcu = (3.0 if running else 1.0) if heaters_on else 0.0
        self.power = 0.6 * self.current + self.heater + tcu + 0.5
        self.activity = min(1.0, self.load_f * 1.8)
        if self.oil > 70.0:
            self._trip_now("hydraulic oil over-temperature", self._oil_ok)
        self.low_p_s = self.low_p_s + dt if (running and self.hyd < 110.0) else 0.0
        if self.low_p_s >= 3.0:
            self._trip_now("hydraulic pressure low", self._pressure_ok)

    def _oil_ok(self) -> str | None:
        if self.oil < 60.0:
            return None
        return f"hydraulic oil is still {self.oil:.1f} °C (it must fall below 60 °C)"

    def _pressure_ok(self) -> str | None:
        if 160.0 - 60.0 * self.f_leak >= 130.0:
            return None
        return "the hydraulic circuit still leaks and cannot hold pressure"

    def _publish_kind(self) -> None:
        v = self.v
        v["barrel_temp_c"] = self.barrel
        v["barrel_setpoint_c"] = self.barrel_sp
        v["mould_temp_c"] = self.mould
        v["injection_pressure_bar"] = self.peak
        v["hydraulic_pressure_bar"] = self.hyd
        v["oil_temp_c"] = self.oil
        v["clamp_force_kn"] = self.clamp
        v["motor_current_a"] = self.current
        v["heater_power_kw"] = self.heater
        v["cycle_time_s"] = self.cycle_time


class Conveyor(MachineModel):
    """Belt conveyor: belt speed, throughput, motor current and temperature, jam detection.

    Current follows speed and belt fill (upstream supply wanders slowly); the motor
    temperature follows current with a ~7-minute lag; gearbox vibration rises with speed and
    wear. A jam stalls the belt, spikes the current to the drive's limit, sets
    ``jam_detected`` after 1 s and trips the drive after 2.5 s.
    """

    KIND = "conveyor"
    LABEL = "Conveyor"
    AREA = "Assembly"
    FAULTS = APPLICABLE_FAULTS["conveyor"]
    DOOR_TAG = None
    MEAN_RUN_S = 3600.0
    SET_COMMAND = "set_speed"
    SET_LABEL = "Set belt speed"
    SET_ARG = ArgSpec(
        name="speed_m_min",
        type="float",
        unit="m/min",
        range=Range(5.0, 45.0),
        description="Belt speed setpoint",
    )
    SET_TAG = "speed_setpoint_m_min"
    ACTUAL_TAG = "belt_speed_m_min"
    SENSOR_TAG = "motor_temp_c"

    def _declare(self) -> None:
        a = self._analog_tag
        a("belt_speed_m_min", "m/min", (0, 60), (5, 45), hi=50, hihi=55, decimals=2, key=True,
          description="Belt speed")  # fmt: skip
        a("speed_setpoint_m_min", "m/min", (0, 60), (5, 45), noise=0.0, decimals=2,
          description="Belt speed setpoint")  # fmt: skip
        a("items_per_min", "items/min", (0, 150), (10, 110), noise=0.02, key=True,
          description="Throughput")  # fmt: skip
        a("motor_current_a", "A", (0, 20), (1, 10), hi=13, hihi=16, noise=0.01, key=True,
          description="Drive motor current")  # fmt: skip
        a("motor_temp_c", "°C", (0, 150), (25, 80), hi=100, hihi=120,
          description="Drive motor winding temperature")  # fmt: skip
        a("drive_vibration_mm_s", "mm/s", (0, 20), (0, 4.5), hi=7.1, hihi=11.2, noise=0.01,
          decimals=2, description="Gearbox vibration velocity (RMS)")  # fmt: skip
        self._flag_tag(
            "jam_detected",
            "Jam detected by the photo-eyes",
            AlarmSpec(on=[1], priority="high", message="jam detected by the photo-eyes"),
        )
        self._common_tags((15.0, 8.0), parts=True)

    def _init_physics(self) -> None:
        d = self.draws
        self.speed_sp = float(round(d.uniform(18.0, 32.0)))
        self.pitch = d.uniform(0.4, 0.8)
        self.fill_mean = d.uniform(0.6, 0.9)
        self.fill = self.fill_mean
        running = self.state == RUNNING
        self.speed = self.speed_sp if running else 0.0
        self.rate = self.speed / self.pitch * self.fill
        self.count_acc = 0.0
        v = self.speed / 30.0
        self.current = (
            1.8 + 4.2 * v * (0.55 + 0.6 * self.fill) + 2.0 * self.wear if running else 0.0
        )
        self.current_f = self.current
        self.temp = self.ambient + 6.0 + 4.5 * self.current_f
        self.vib = 0.0
        self.jam_age = 0.0

    def _extra_interlocks(self) -> list[str]:
        return ["jam detected"]

    def _extra_blockers(self) -> list[str]:
        return ["jam detected"] if self.f_jam > 0.0 and self.jam_age >= 1.0 else []

    def _start_words(self) -> str:
        return f"belt ramping to {_fmt(self.speed_sp)} m/min"

    def _stop_words(self) -> str:
        return "the belt is slowing down"

    def _apply_setpoint(self, value: float) -> None:
        self.speed_sp = value

    def _physics(self, t: float, dt: float) -> None:
        d = self.draws
        running = self.state == RUNNING
        jam = self.f_jam
        if running:
            target, tau = (0.0, 0.25) if jam > 0.0 else (self.speed_sp, 1.0)
        else:
            target, tau = 0.0, 1.5
        self.speed = _snap(_lag(self.speed, target, dt, tau), 0.01)
        fill = _lag(self.fill, self.fill_mean, dt, 120.0) + 0.01 * math.sqrt(dt) * d.normal()
        self.fill = _clamp(fill, 0.05, 1.0)
        rate = self.speed / self.pitch * self.fill
        self.rate = _snap(_lag(self.rate, rate, dt, 15.0), 0.01)
        self.count_acc += rate * dt / 60.0
        if self.count_acc >= 1.0:
            whole = int(self.count_acc)
            self.parts += whole
            self.count_acc -= whole
        self.jam_age = self.jam_age + dt if jam > 0.0 else 0.0
        wear = self.wear + self.f_wear
        v = self.speed / 30.0
        if running and jam > 0.0:
            current = 14.0 + 2.5 * jam
        elif running:
            current = 1.8 + 4.2 * v * (0.55 + 0.6 * self.fill) + 2.0 * wear
        else:
            current = 0.0
        self.current = _snap(_lag(self.current, current, dt, 0.3), 0.01)
        self.current_f = _lag(self.current_f, self.current, dt, 60.0)
        heat = 6.0 + 4.5 * self.current_f + (90.0 * self.f_heat if running else 0.0)
        self.temp = _lag(self.temp, self.ambient + heat, dt, 400.0)
        vib = (0.4 + 1.4 * v * (0.8 + 0.4 * self.fill) + 6.0 * wear * v) if self.speed else 0.0
        if running and jam > 0.0 and self.jam_age < 1.0:
            vib += 4.0
        self.vib = _snap(_lag(self.vib, vib, dt, 1.0), 0.01)
        self.power = 0.35 + 0.62 * self.current
        self.activity = min(1.0, self.speed / 45.0)
        if running and self.jam_age >= 2.5:
            self._trip_now("belt jam", self._jam_ok)
        elif self.temp > 120.0:
            self._trip_now("drive motor over-temperature", self._temp_ok)

    def _jam_ok(self) -> str | None:
        return "the belt is still jammed; clear the jam first" if self.f_jam > 0.0 else None

    def _temp_ok(self) -> str | None:
        if self.temp < 100.0:
            return None
        return f"the drive motor is still {self.temp:.1f} °C (it must fall below 100 °C)"

    def _publish_kind(self) -> None:
        v = self.v
        v["belt_speed_m_min"] = self.speed
        v["speed_setpoint_m_min"] = self.speed_sp
        v["items_per_min"] = self.rate
        v["motor_current_a"] = self.current
        v["motor_temp_c"] = self.temp
        v["drive_vibration_mm_s"] = self.vib
        self.vx["jam_detected"] = self.f_jam > 0.0 and self.jam_age >= 1.0


class Compressor(MachineModel):
    """Fixed-speed screw compressor with load/unload control and an air receiver.

    The compressor loads below ``setpoint − 0.6 bar`` and unloads at the setpoint; receiver
    pressure integrates delivered minus consumed air; the outlet flow meter measures plant
    demand plus leaks. A leak raises consumption: pressure decays and the compressor runs
    loaded more (``load_pct`` rises). Trips: discharge over-temperature (> 110 °C), vibration.
    """

    KIND = "compressor"
    LABEL = "Compressor"
    AREA = "Utilities"
    FAULTS = APPLICABLE_FAULTS["compressor"]
    DOOR_TAG = None
    MEAN_RUN_S = 0.0
    SET_COMMAND = "set_setpoint"
    SET_LABEL = "Set pressure setpoint"
    SET_ARG = ArgSpec(
        name="pressure_bar",
        type="float",
        unit="bar",
        range=Range(6.0, 8.5),
        description="Unload pressure setpoint",
    )
    SET_TAG = "pressure_setpoint_bar"
    ACTUAL_TAG = "discharge_pressure_bar"
    SENSOR_TAG = "discharge_pressure_bar"

    CAPACITY_M3_MIN: ClassVar[float] = 12.0
    VOLUME_M3: ClassVar[float] = 5.0

    def _declare(self) -> None:
        a = self._analog_tag
        a("discharge_pressure_bar", "bar", (0, 12), (6.2, 8.0), lolo=5.0, lo=6.0, hi=8.5,
          hihi=9.0, decimals=2, key=True, description="Discharge (receiver) pressure")  # fmt: skip
        a("pressure_setpoint_bar", "bar", (0, 12), (6.0, 8.5), noise=0.0, decimals=2,
          description="Unload pressure setpoint")  # fmt: skip
        a("discharge_temp_c", "°C", (0, 130), (55, 95), hi=100, hihi=110,
          description="Air-end discharge temperature")  # fmt: skip
        a("oil_temp_c", "°C", (0, 120), (50, 85), hi=95, hihi=105,
          description="Oil temperature")  # fmt: skip
        a("motor_current_a", "A", (0, 200), (30, 150), hi=165, hihi=180, noise=0.01,
          description="Main motor current")  # fmt: skip
        a("flow_m3_min", "m³/min", (0, 20), (2, 11), hi=13, noise=0.01, decimals=2, key=True,
          description="Outlet air flow (free air delivered)")  # fmt: skip
        a("load_pct", "%", (0, 100), (20, 85), hi=95, noise=0.005, key=True,
          description="Loaded duty over the last minutes")  # fmt: skip
        a("vibration_mm_s", "mm/s", (0, 20), (0, 4.5), hi=7.1, hihi=11.2, noise=0.01,
          decimals=2, description="Air-end vibration velocity (RMS)")  # fmt: skip
        self._common_tags((120.0, 85.0), parts=False)

    def _init_physics(self) -> None:
        d = self.draws
        self.p_sp = 7.5
        self.demand_mean = d.uniform(5.5, 7.5)
        self.demand_phase = d.uniform(0.0, _TWO_PI)
        self.demand_ou = 0.0
        running = self.state == RUNNING
        self.p = d.uniform(self.p_sp - 0.6, self.p_sp) if running else 6.0
        self.loaded = running and d.uniform() < 0.5
        self.duty = self.demand_mean / self.CAPACITY_M3_MIN if running else 0.0
        self.current = 0.0
        self.flow = 0.0
        self.vib = 0.0
        self.t_dis = self.ambient + (52.0 if running else 2.0)
        self.t_oil = self.ambient + (40.0 + 10.0 * self.duty if running else 2.0)

    def _start_words(self) -> str:
        return f"building pressure to {_fmt(self.p_sp)} bar"

    def _apply_setpoint(self, value: float) -> None:
        self.p_sp = value

    def _physics(self, t: float, dt: float) -> None:
        on = self.state == RUNNING
        p = self.p
        if not on or (self.loaded and p >= self.p_sp):
            self.loaded = False
        elif not self.loaded and p <= self.p_sp - 0.6:
            self.loaded = True
        loaded = self.loaded
        self.demand_ou += -self.demand_ou * dt / 300.0 + 0.04 * math.sqrt(dt) * self.draws.normal()
        demand = self.demand_mean * (
            1.0 + 0.12 * math.sin(_TWO_PI * t / 1700.0 + self.demand_phase)
        )
        demand = max(0.0, demand + self.demand_ou)
        out = (demand + 10.0 * self.f_leak) * max(p, 0.0) / 7.0
        q_in = self.CAPACITY_M3_MIN if loaded else 0.0
        self.p = _clamp(p + (q_in - out) * 1.013 / self.VOLUME_M3 / 60.0 * dt, 0.0, 12.0)
        self.flow = out
        wear = self.wear + self.f_wear
        heat = self.f_heat
        if on and loaded:
            current = 125.0 * (0.85 + 0.15 * p / 7.0) + 8.0 * wear
            t_dis = self.ambient + 58.0 + 12.0 * wear + 55.0 * heat
        elif on:
            current = 42.0
            t_dis = self.ambient + 40.0 + 40.0 * heat
        else:
            current = 0.0
            t_dis = self.ambient + 2.0
        self.current = _snap(_lag(self.current, current, dt, 0.8), 0.01)
        self.t_dis = _lag(self.t_dis, t_dis, dt, 45.0)
        self.duty = _lag(self.duty, 1.0 if loaded else 0.0, dt, 300.0)
        t_oil = self.ambient + ((40.0 + 10.0 * self.duty + 30.0 * heat) if on else 2.0)
        self.t_oil = _lag(self.t_oil, t_oil, dt, 300.0)
        vib = (0.9 + 1.0 * (1.0 if loaded else 0.0) + 8.0 * wear) if on else 0.0
        self.vib = _snap(_lag(self.vib, vib, dt, 2.0), 0.01)
        self.power = 0.6 * self.current + (1.8 if on else 0.2)
        self.activity = (0.3 + 0.7 * self.duty) if on else 0.0
        if self.t_dis > 110.0:
            self._trip_now("discharge over-temperature", self._temp_ok)
        elif self.vib > 11.2:
            self._trip_now("vibration too high", self._vib_ok)

    def _temp_ok(self) -> str | None:
        if self.t_dis < 100.0:
            return None
        return f"discharge temperature is still {self.t_dis:.1f} °C (it must fall below 100 °C)"

    def _vib_ok(self) -> str | None:
        if self.vib < 7.1:
            return None
        return f"vibration is still {self.vib:.1f} mm/s (it must fall below 7.1 mm/s)"

    def _publish_kind(self) -> None:
        v = self.v
        v["discharge_pressure_bar"] = self.p
        v["pressure_setpoint_bar"] = self.p_sp
        v["discharge_temp_c"] = self.t_dis
        v["oil_temp_c"] = self.t_oil
        v["motor_current_a"] = self.current
        v["flow_m3_min"] = self.flow
        v["load_pct"] = 100.0 * self.duty
        v["vibration_mm_s"] = self.vib


class CuringOven(MachineModel):
    """Three-zone convection curing oven with PI heater control and a circulation fan.

    Each zone relaxes toward ``ambient + heater_kW × 7 °C/kW − losses`` with a 5-minute time
    constant; parts (while running) and an open door cool zone 1 most. The fan must run for
    the heaters to be enabled. Overheating models a heater contactor stuck closed in zone 2;
    the over-temperature limiter trips the oven above 215 °C.
    """

    KIND = "oven"
    LABEL = "Oven"
    AREA = "Assembly"
    FAULTS = APPLICABLE_FAULTS["oven"]
    DOOR_TAG = "door_open"
    DOOR_WORDS = "oven door"
    MEAN_RUN_S = 3600.0
    SET_COMMAND = "set_setpoint"
    SET_LABEL = "Set oven temperature"
    SET_ARG = ArgSpec(
        name="setpoint_c",
        type="float",
        unit="°C",
        range=Range(160.0, 195.0),
        description="Oven temperature setpoint",
    )
    SET_TAG = "setpoint_c"
    ACTUAL_TAG = "zone2_temp_c"
    SENSOR_TAG = "zone2_temp_c"

    KZ: ClassVar[float] = 7.0
    PMAX: ClassVar[float] = 40.0
    _ZONE_LOSS: ClassVar[tuple[float, float, float]] = (14.0, 8.0, 4.0)

    def _declare(self) -> None:
        a = self._analog_tag
        for i in (1, 2, 3):
            a(f"zone{i}_temp_c", "°C", (0, 300), (170, 190), lolo=150, lo=160, hi=200, hihi=215,
              key=i < 3, description=f"Zone {i} air temperature")  # fmt: skip
        a("setpoint_c", "°C", (0, 300), (160, 195), noise=0.0,
          description="Oven temperature setpoint")  # fmt: skip
        a("heater_power_kw", "kW", (0, 150), (30, 110), noise=0.01, key=True,
          description="Total heater power")  # fmt: skip
        a("fan_speed_rpm", "rpm", (0, 1800), (1350, 1500), lo=1200, lolo=1000, decimals=0,
          description="Circulation fan speed")  # fmt: skip
        a("fan_vibration_mm_s", "mm/s", (0, 20), (0, 4.5), hi=7.1, hihi=11.2, noise=0.01,
          decimals=2, description="Circulation fan vibration velocity (RMS)")  # fmt: skip
        self._common_tags((200.0, 130.0), parts=True)

    def _init_physics(self) -> None:
        d = self.draws
        self.sp = 180.0
        running = self.state == RUNNING
        self.temps = [self.sp + d.uniform(-1.0, 1.0) for _ in range(3)]
        self.integ = [(loss / self.KZ if running else 0.0) for loss in self._ZONE_LOSS]
        self.heat = [0.0, 0.0, 0.0]
        self.fan = 1450.0
        self.vib = 0.0
        self.part_every = d.uniform(15.0, 30.0)
        self.part_t = d.uniform(0.0, self.part_every)
        self.cooldown = False

    def _start_words(self) -> str:
        return "the conveyor is moving parts through the oven"

    def _apply_setpoint(self, value: float) -> None:
        self.sp = value

    def _physics(self, t: float, dt: float) -> None:
        s = self.state
        running = s == RUNNING
        contactor = s in (RUNNING, IDLE, SETUP)
        fan_on = contactor or (s == FAULT and self.cooldown)
        wear = self.wear + self.f_wear
        fan_target = 1450.0 * (1.0 - 0.03 * wear) if fan_on else 0.0
        self.fan = _snap(_lag(self.fan, fan_target, dt, 6.0), 1.0)
        heaters = contactor and self.fan > 1000.0
        amb = self.ambient
        tau = 300.0 if self.fan > 500.0 else 900.0
        door = self.door_open
        total = 0.0
        for i in range(3):
            temp = self.temps[i]
            loss = self._ZONE_LOSS[i] if running else 0.0
            if door:
                loss += (30.0, 10.0, 2.0)[i]
            if heaters:
                e = self.sp - temp
                self.integ[i] = _clamp(self.integ[i] + 0.01 * e * dt, -12.0, 12.0)
                p = (self.sp - amb) / self.KZ + 3.0 * e + self.integ[i]
                p = _clamp(p, 0.0, self.PMAX)
            else:
                self.integ[i] = 0.0
                p = 0.0
            if i == 1 and contactor and self.f_heat > 0.0:
                p = max(p, self.PMAX * (0.5 + 0.5 * self.f_heat))
            self.heat[i] = p
            total += p
            self.temps[i] = _lag(temp, amb + p * self.KZ - loss, dt, tau)
        if running:
            self.part_t += dt
            if self.part_t >= self.part_every:
                self.part_t -= self.part_every
                self.parts += 1
        f = self.fan / 1450.0
        vib = (0.5 + 1.5 * f * f + 9.0 * wear * f) if self.fan > 0.0 else 0.0
        self.vib = _snap(_lag(self.vib, vib, dt, 2.0), 0.01)
        self.power = total + 5.5 * f * f * f + (0.75 if running else 0.0) + 0.5
        self.activity = min(1.0, total / 100.0)
        hottest = max(self.temps)
        if hottest > 215.0:
            zone = self.temps.index(hottest) + 1
            self.cooldown = True
            self._trip_now(f"zone {zone} over-temperature", self._temp_ok)
        elif self.vib > 11.2:
            self.cooldown = False
            self._trip_now("circulation fan vibration too high", self._vib_ok)

    def _temp_ok(self) -> str | None:
        hottest = max(self.temps)
        if hottest < 200.0:
            return None
        zone = self.temps.index(hottest) + 1
        return f"zone {zone} is still {hottest:.1f} °C (it must fall below 200 °C)"

    def _vib_ok(self) -> str | None:
        if self.vib < 7.1:
            return None
        return f"fan vibration is still {self.vib:.1f} mm/s (it must fall below 7.1 mm/s)"

    def _publish_kind(self) -> None:
        v = self.v
        v["zone1_temp_c"] = self.temps[0]
        v["zone2_temp_c"] = self.temps[1]
        v["zone3_temp_c"] = self.temps[2]
        v["setpoint_c"] = self.sp
        v["heater_power_kw"] = sum(self.heat)
        v["fan_speed_rpm"] = self.fan
        v["fan_vibration_mm_s"] = self.vib


class RobotCell(MachineModel):
    """Six-axis robot cell: cycle time, joint torque and motor temperatures, guard door.

    A cycle is a motion phase (faster with a higher speed override) then a wait for parts.
    Torque of the most loaded joint (J2) follows the motion profile and gearbox wear; joint
    motor temperatures follow the RMS torque with a 10-minute lag. Trips: J2 motor
    over-temperature (> 80 °C), J2 overload (torque > 120 % for 0.5 s).
    """

    KIND = "robot"
    LABEL = "Robot"
    AREA = "Assembly"
    FAULTS = APPLICABLE_FAULTS["robot"]
    DOOR_TAG = "guard_door"
    MEAN_RUN_S = 2400.0
    SET_COMMAND = "set_speed"
    SET_LABEL = "Set speed override"
    SET_ARG = ArgSpec(
        name="override_pct",
        type="float",
        unit="%",
        range=Range(10.0, 100.0),
        description="Speed override",
    )
    SET_TAG = "speed_override_pct"
    ACTUAL_TAG = "cycle_time_s"
    SENSOR_TAG = "j2_temp_c"

    _JOINT_GAIN: ClassVar[tuple[float, float, float]] = (0.7, 1.0, 0.6)

    def _declare(self) -> None:
        a = self._analog_tag
        a("torque_pct", "%", (0, 150), (10, 85), hi=100, hihi=120, noise=0.01, key=True,
          description="J2 torque (most loaded joint), % of rated")  # fmt: skip
        for i in (1, 2, 3):
            a(f"j{i}_temp_c", "°C", (0, 120), (25, 60), hi=70, hihi=80, key=i == 2,
              description=f"Joint {i} motor temperature")  # fmt: skip
        a("speed_override_pct", "%", (0, 100), (10, 100), noise=0.0, decimals=0,
          description="Speed override")  # fmt: skip
        self._common_tags((15.0, 8.0), parts=True, cycle=(120.0, 8.0, 40.0, 60.0),
                          cycle_key=True)  # fmt: skip

    def _init_physics(self) -> None:
        d = self.draws
        self.override = float(5 * round(d.uniform(80.0, 100.0) / 5))
        self.base_motion = d.uniform(10.0, 20.0)
        self.payload = d.uniform(0.3, 0.8)
        running = self.state == RUNNING
        self.motion_len = self._motion_len()
        self.wait_len = d.uniform(0.5, 4.0)
        self.pos = d.uniform(0.0, self.motion_len + self.wait_len) if running else 0.0
        self.cycle_time = self.motion_len + self.wait_len
        self.torque = 0.0
        self.torque_f = 55.0 if running else 0.0
        self.over_s = 0.0
        self.joints = [
            self.ambient + self._joint_rise(i, self.torque_f, self.wear) for i in range(3)
        ]

    def _motion_len(self) -> float:
        return self.base_motion / math.pow(self.override / 100.0, 0.85)

    def _joint_rise(self, i: int, torque: float, wear: float) -> float:
        rise = 6.0 + self._JOINT_GAIN[i] * (torque / 100.0) ** 2 * 40.0
        if i == 1:
            rise += 18.0 * wear + (60.0 * self.f_heat if self.state == RUNNING else 0.0)
        return rise

    def _on_stop(self) -> None:
        self.pos = 0.0

    def _start_words(self) -> str:
        return f"cycling at {_fmt(self.override)} % speed override"

    def _apply_setpoint(self, value: float) -> None:
        self.override = value
        self.motion_len = self._motion_len()

    def _physics(self, t: float, dt: float) -> None:
        d = self.draws
        running = self.state == RUNNING
        wear = self.wear + self.f_wear
        if running:
            self.pos += dt
            if self.pos >= self.motion_len + self.wait_len:
                self.pos -= self.motion_len + self.wait_len
                self.parts += 1
                self.cycle_time = self.motion_len + self.wait_len
                self.motion_len = self._motion_len() * (1.0 + 0.01 * d.normal())
                self.wait_len = d.uniform(0.5, 4.0)
            if self.pos < self.motion_len:
                o = self.override / 100.0
                shape = 0.75 + 0.25 * math.sin(_TWO_PI * 3.0 * self.pos / self.motion_len)
                torque = (35.0 + 30.0 * self.payload + 25.0 * o * o) * shape
                moving = o
            else:
                torque = 18.0 + 20.0 * self.payload
                moving = 0.0
            torque *= 1.0 + 0.35 * wear
        elif self.state in (IDLE, SETUP):
            torque = 18.0 + 20.0 * self.payload  # brakes released, holding position
            moving = 0.0
        else:
            torque = moving = 0.0
        self.torque = _snap(_lag(self.torque, torque, dt, 0.8), 0.01)
        self.torque_f = _lag(self.torque_f, self.torque, dt, 120.0)
        for i in range(3):
            rise = self._joint_rise(i, self.torque_f, wear)
            self.joints[i] = _lag(self.joints[i], self.ambient + rise, dt, 300.0)
        self.power = 0.9 + (0.06 * self.torque * (0.3 + moving) if self.torque else 0.0)
        self.activity = min(1.0, self.torque_f / 100.0)
        if self.joints[1] > 80.0:
            self._trip_now("joint 2 motor over-temperature", self._temp_ok)
        self.over_s = self.over_s + dt if self.torque > 120.0 else 0.0
        if self.over_s >= 0.5:
            self._trip_now("joint 2 overload", lambda: None)

    def _temp_ok(self) -> str | None:
        if self.joints[1] < 70.0:
            return None
        return f"joint 2 motor is still {self.joints[1]:.1f} °C (it must fall below 70 °C)"

    def _publish_kind(self) -> None:
        v = self.v
        v["torque_pct"] = self.torque
        v["j1_temp_c"] = self.joints[0]
        v["j2_temp_c"] = self.joints[1]
        v["j3_temp_c"] = self.joints[2]
        v["speed_override_pct"] = self.override
        v["cycle_time_s"] = self.cycle_time


MODEL_CLASSES: dict[str, type[MachineModel]] = {
    cls.KIND: cls
    for cls in (CncMachine, InjectionPress, Conveyor, Compressor, CuringOven, RobotCell)
}
"""Machine kind → model class, in the order a plant cycles through them."""
