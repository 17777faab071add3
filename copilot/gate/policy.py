"""The site's command policy: who may command what, where, at which tier, and by voice.

A TOML file (``docs/command-policy.md``; an example in ``policy.example.toml``) read once when
the hub starts, checked whole before the hub binds: each error is one sentence naming the
file, the rule and what to do (:class:`PolicyError`). Without a file, :data:`DEFAULT` holds:
Operators, Engineers and Supervisors may issue every command at the machine's own risk tier,
Observers and SecurityAdmins none.

Rules are read top to bottom and the **first** rule that matches decides (as a firewall does),
so a narrow rule goes above a broad one:

* ``[[allow]]`` — ``commands`` (name globs), ``machines`` (id globs) or ``areas``, ``roles``.
  A command no rule matches is refused to everyone.
* ``[[tier]]`` — the same selectors and ``tier`` (``routine``/``confirm``/``sign``/
  ``two_person`` or 1–4): overrides the machine's risk class.
* ``[voice]`` ``commands`` — what voice may propose; voice never reaches tier 3 or 4.
* ``[approval]`` (``timeout_s``, ``roles``), ``[session]`` (``idle_warn_s``, ``idle_lock_s``),
  ``[lockout]`` (``attempts``, ``duration_s``), ``[audit]`` (``roles`` that may read it),
  ``[stations.<key name>]`` (``areas`` that station may show and command).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from copilot.protocol import ROLES, TIERS, CommandSpec, MachineInfo

TIER_NAMES = {v: k for k, v in TIERS.items()}


class PolicyError(ValueError):
    """A policy file that cannot be used; the message is one sentence for the integrator."""


class _Selector(msgspec.Struct, forbid_unknown_fields=True):
    commands: list[str] = msgspec.field(default_factory=lambda: ["*"])
    machines: list[str] = msgspec.field(default_factory=list)
    areas: list[str] = msgspec.field(default_factory=list)


class _Allow(_Selector, forbid_unknown_fields=True):
    roles: list[str] = msgspec.field(default_factory=list)


class _Tier(_Selector, forbid_unknown_fields=True):
    tier: int | str = 0


class _Voice(msgspec.Struct, forbid_unknown_fields=True):
    commands: list[str] = msgspec.field(default_factory=lambda: ["*"])


class _Approval(msgspec.Struct, forbid_unknown_fields=True):
    timeout_s: float = 120.0
    roles: list[str] = msgspec.field(default_factory=lambda: ["Supervisor"])


class _Session(msgspec.Struct, forbid_unknown_fields=True):
    idle_warn_s: float = 240.0
    idle_lock_s: float = 300.0


class _Lockout(msgspec.Struct, forbid_unknown_fields=True):
    attempts: int = 5
    duration_s: float = 300.0


class _Audit(msgspec.Struct, forbid_unknown_fields=True):
    roles: list[str] = msgspec.field(
        default_factory=lambda: ["Operator", "Engineer", "Supervisor", "SecurityAdmin"]
    )


class _Station(msgspec.Struct, forbid_unknown_fields=True):
    areas: list[str] = msgspec.field(default_factory=list)


class _File(msgspec.Struct, forbid_unknown_fields=True):
    version: int = 1
    allow: list[_Allow] = msgspec.field(
        default_factory=lambda: [_Allow(roles=["Operator", "Engineer", "Supervisor"])]
    )
    tier: list[_Tier] = msgspec.field(default_factory=list)
    voice: _Voice = msgspec.field(default_factory=_Voice)
    approval: _Approval = msgspec.field(default_factory=_Approval)
    session: _Session = msgspec.field(default_factory=_Session)
    lockout: _Lockout = msgspec.field(default_factory=_Lockout)
    audit: _Audit = msgspec.field(default_factory=_Audit)
    stations: dict[str, _Station] = msgspec.field(default_factory=dict)


def _glob(patterns: Sequence[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(fnmatch.translate(p) for p in patterns))


@dataclass(frozen=True)
class Rule:
    """One ``[[allow]]`` or ``[[tier]]`` rule, compiled."""

    number: int
    commands: re.Pattern[str]
    machines: re.Pattern[str] | None
    areas: frozenset[str]
    roles: frozenset[str] = frozenset()
    tier: int = 0
    command_globs: tuple[str, ...] = ()
    machine_globs: tuple[str, ...] = ()

    def matches(self, machine: MachineInfo, command: str) -> bool:
        """Whether this rule is about ``command`` on ``machine``."""
        if not self.commands.fullmatch(command):
            return False
        if self.machines is not None and not self.machines.fullmatch(machine.id):
            return False
        return not self.areas or machine.area in self.areas


@dataclass(frozen=True)
class Decision:
    """What the policy says about one person, command and machine."""

    allowed: bool
    tier: int
    voice: bool
    why: str = ""


@dataclass(frozen=True)
class Policy:
    """A loaded policy (see the module docstring); every lookup is a pure function."""

    allow: tuple[Rule, ...]
    tiers: tuple[Rule, ...]
    voice: re.Pattern[str] | None
    approval_timeout_s: float
    approver_roles: frozenset[str]
    idle_warn_s: float
    idle_lock_s: float
    lockout_attempts: int
    lockout_s: float
    audit_roles: frozenset[str]
    station_areas: dict[str, frozenset[str]]
    source: str = "(built-in default)"
    voice_globs: tuple[str, ...] = ()

    def tier(self, machine: MachineInfo, spec: CommandSpec) -> int:
        """The effective tier: the first ``[[tier]]`` rule that matches, else the risk class."""
        for rule in self.tiers:
            if rule.matches(machine, spec.name):
                return rule.tier
        return TIERS.get(spec.risk, 2)

    def decide(self, roles: Sequence[str], machine: MachineInfo, spec: CommandSpec) -> Decision:
        """Whether a person with ``roles`` may issue ``spec`` on ``machine``, at which tier."""
        tier = self.tier(machine, spec)
        voice = tier <= 2 and self.voice is not None and bool(self.voice.fullmatch(spec.name))
        label = (spec.label or spec.name).lower()
        for rule in self.allow:
            if rule.matches(machine, spec.name):
                if rule.roles & set(roles):
                    return Decision(True, tier, voice)
                needed = " or ".join(sorted(rule.roles)) or "nobody"
                return Decision(
                    False,
                    tier,
                    False,
                    f"Your role may not {label} on {machine.name}; it needs {needed} "
                    f"(policy rule {rule.number}).",
                )
        return Decision(
            False, tier, False, f"No rule of the site policy lets anyone {label} on {machine.name}."
        )

    def areas_of(self, station: str) -> frozenset[str]:
        """The areas a station key (its name) is limited to; empty: all areas."""
        return self.station_areas.get(station, frozenset())


def _roles(where: str, roles: Sequence[str]) -> frozenset[str]:
    for role in roles:
        if role not in ROLES:
            raise PolicyError(f"{where}: unknown role {role!r}; the roles are {', '.join(ROLES)}.")
    return frozenset(roles)


def _tier_of(where: str, value: int | str) -> int:
    if isinstance(value, str) and value in TIERS:
        return TIERS[value]
    if isinstance(value, int) and 1 <= value <= 4:
        return value
    raise PolicyError(
        f"{where}: tier {value!r} is not one of 1-4 or {', '.join(TIERS)}; pick one of those."
    )


def _rule(where: str, number: int, raw: _Selector, roles: frozenset[str], tier: int) -> Rule:
    if raw.machines and raw.areas:
        raise PolicyError(f"{where}: give machines or areas, not both.")
    if not raw.commands:
        raise PolicyError(f'{where}: commands is empty; use ["*"] for every command.')
    commands = _glob(raw.commands)
    assert commands is not None
    return Rule(
        number,
        commands,
        _glob(raw.machines),
        frozenset(raw.areas),
        roles,
        tier,
        tuple(raw.commands),
        tuple(raw.machines),
    )


def _positive(where: str, value: float) -> float:
    if not value > 0:
        raise PolicyError(f"{where} must be more than 0 (it is {value}).")
    return value


def parse_policy(text: str, source: str = "the policy") -> Policy:
    """Check and compile a policy file's text (raises :class:`PolicyError`, one sentence)."""
    try:
        raw = msgspec.toml.decode(text, type=_File)
    except msgspec.DecodeError as exc:
        detail = str(exc).replace("`", "")
        raise PolicyError(f"{source}: {detail}; see docs/command-policy.md.") from None
    if raw.version != 1:
        raise PolicyError(f"{source}: version {raw.version} is not known; this hub reads 1.")
    allow = tuple(
        _rule(
            f"{source}, [[allow]] rule {i}",
            i,
            r,
            _roles(f"{source}, [[allow]] rule {i}", r.roles),
            0,
        )
        for i, r in enumerate(raw.allow, 1)
    )
    tiers = tuple(
        _rule(
            f"{source}, [[tier]] rule {i}",
            i,
            r,
            frozenset(),
            _tier_of(f"{source}, [[tier]] rule {i}", r.tier),
        )
        for i, r in enumerate(raw.tier, 1)
    )
    session = raw.session
    _positive(f"{source}: [session] idle_warn_s", session.idle_warn_s)
    _positive(f"{source}: [session] idle_lock_s", session.idle_lock_s)
    if session.idle_warn_s >= session.idle_lock_s:
        raise PolicyError(
            f"{source}: [session] idle_warn_s ({session.idle_warn_s:g}) must be less than "
            f"idle_lock_s ({session.idle_lock_s:g}), so the warning comes before the lock."
        )
    if raw.lockout.attempts < 1:
        raise PolicyError(f"{source}: [lockout] attempts must be 1 or more.")
    _positive(f"{source}: [lockout] duration_s", raw.lockout.duration_s)
    _positive(f"{source}: [approval] timeout_s", raw.approval.timeout_s)
    approvers = _roles(f"{source}, [approval] roles", raw.approval.roles)
    if not approvers:
        raise PolicyError(f"{source}: [approval] roles is empty; two-person commands need one.")
    return Policy(
        allow=allow,
        tiers=tiers,
        voice=_glob(raw.voice.commands),
        approval_timeout_s=raw.approval.timeout_s,
        approver_roles=approvers,
        idle_warn_s=session.idle_warn_s,
        idle_lock_s=session.idle_lock_s,
        lockout_attempts=raw.lockout.attempts,
        lockout_s=raw.lockout.duration_s,
        audit_roles=_roles(f"{source}, [audit] roles", raw.audit.roles),
        station_areas={k: frozenset(v.areas) for k, v in raw.stations.items()},
        source=source,
        voice_globs=tuple(raw.voice.commands),
    )


def load_policy(path: str | Path) -> Policy:
    """Read and check a policy file (:class:`PolicyError` with one sentence if it cannot)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(
            f"Cannot read the policy file {p}: {exc.strerror or exc}; check the path."
        ) from None
    return parse_policy(text, str(p))


DEFAULT = parse_policy("", "(built-in default)")
"""The policy without a file: Operator, Engineer, Supervisor may command at the machine's tier."""

EXAMPLE = Path(__file__).with_name("policy.example.toml")
"""The example policy shipped with the package (the demo uses it)."""
