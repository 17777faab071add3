"""The gate's checks of one request, in order, as a pure function (docs/protocol.md §14.3).

:func:`decide` takes everything it needs as values — the request, who asks, the machine as the
hub knows it, the policy, what is in flight, who holds control, the interlocks' state — and
returns either a :class:`Refused` (a stable cause, one sentence, the state to report) or a
:class:`Passed` (the command's spec, its tier, what is still to do: check the signature's
secret, ask for an approval, or dispatch). It reads no clock and no file: the hub's service
does the waiting (the KDF, the approval, the audit commit) and calls it again when it must.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from copilot.arguments import validate_args
from copilot.gate.checks import sentence
from copilot.gate.policy import Policy
from copilot.protocol import Authority, CheckState, CommandRequest, CommandSpec, MachineInfo


@dataclass(frozen=True)
class Refused:
    """A refusal: ``cause`` (stable, for programs), ``message`` (one sentence, for people)."""

    cause: str
    message: str
    state: Literal["REJECTED", "EXPIRED"] = "REJECTED"


@dataclass(frozen=True)
class Passed:
    """Every check so far passed; ``then`` is what the hub does next."""

    spec: CommandSpec
    tier: int
    checks: list[CheckState]
    then: Literal["verify_signature", "ask_approval", "dispatch"]


@dataclass(frozen=True)
class Asker:
    """Who asks, as the hub established it from the session."""

    roles: Sequence[str]
    key: str
    areas: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Target:
    """The machine as the hub knows it now."""

    info: MachineInfo
    commands: Sequence[CommandSpec]
    online: bool
    since: float  # when it went offline / came online (Unix s)


def decide(
    req: CommandRequest,
    asker: Asker,
    target: Target | None,
    policy: Policy,
    *,
    now_ns: int,
    known_machines: Sequence[str] = (),
    busy: str = "",
    holder: Authority | None = None,
    checks_of: Callable[[CommandSpec], list[CheckState]] = lambda spec: [],
    signed: bool = False,
) -> Refused | Passed:
    """Checks 2–12 of §14.3 (the token, check 1, is the caller's); the first that fails wins.

    ``busy`` says how a command of the same name for the machine is in flight ("in progress",
    "awaiting approval"; empty: none); ``holder`` is who holds control of the machine or its
    area; ``signed``: the signature's secret was already verified (the second pass).
    """
    if now_ns > req.not_after:
        return Refused(
            "expired",
            f"The request for {req.name} expired before the hub could act on it.",
            "EXPIRED",
        )
    if target is None:
        known = ", ".join(sorted(known_machines)[:8]) or "none yet"
        return Refused(
            "unknown_machine",
            f"No machine named {req.machine!r} is known to the hub (known: {known}).",
        )
    info = target.info
    spec = next((c for c in target.commands if c.name == req.name), None)
    if spec is None:
        names = ", ".join(c.name for c in target.commands) or "none"
        return Refused(
            "unknown_command", f"{info.name} has no command {req.name!r} (it has: {names})."
        )
    label = spec.label or spec.name
    decision = policy.decide(asker.roles, info, spec)
    if not decision.allowed:
        return Refused("not_authorised", decision.why)
    if asker.areas and info.area not in asker.areas:
        return Refused(
            "not_authorised", f"This station may not command machines of area {info.area or '-'}."
        )
    tier = decision.tier
    if req.origin == "voice" and not decision.voice:
        why = (
            "needs a signature or a second person"
            if tier >= 3
            else "is not on the site's list of voice commands"
        )
        return Refused("not_by_voice", f"{label} on {info.name} {why}; use the touch panel.")
    if not target.online:
        since = time.strftime("%H:%M:%S", time.localtime(target.since))
        return Refused(
            "offline", f"{info.name} is offline since {since}; the command was not sent."
        )
    problem = validate_args(spec, req.args)
    if problem is not None:
        cause = "out_of_range" if problem[0] == "out_of_range" else "bad_argument"
        return Refused(cause, f"{info.name}: {problem[1]}")
    if busy:
        return Refused(
            "already_pending", f"{label} for {info.name} is already {busy}; wait for its result."
        )
    if holder is not None and holder.holder != asker.key:
        return Refused(
            "locked_by_other",
            f"{holder.holder_name} ({holder.holder_user or 'a station'}) has control of "
            f"{info.name}; ask for a hand-over.",
        )
    checks = checks_of(spec)
    blocked = sentence(info.name, label, checks)
    if blocked:
        return Refused("interlock", blocked)
    if tier >= 2 and not req.confirmed:
        return Refused(
            "confirmation_required",
            f"{label} on {info.name} needs a confirmation of its target and value first.",
        )
    if tier >= 3 and not signed:
        if req.sign is None or not req.sign.secret:
            return Refused(
                "signature_required",
                f"{label} on {info.name} must be signed: enter your PIN again and give a reason.",
            )
        if not req.sign.reason.strip():
            return Refused("reason_required", f"Give a reason to {label.lower()} {info.name}.")
        return Passed(spec, tier, checks, "verify_signature")
    return Passed(spec, tier, checks, "ask_approval" if tier == 4 else "dispatch")
