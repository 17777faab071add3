"""What the station's command gate shows, decided without Qt: buttons, sheets, countdowns, rows.

Owns the operator-facing reading of the gate's messages (:class:`~copilot.protocol.Grant`,
:class:`~copilot.protocol.CommandStatus`, :class:`~copilot.protocol.Approval`,
:class:`~copilot.protocol.Authority`, :class:`~copilot.protocol.AuditRecord`): whether a command
button may be pressed and, when not, the one sentence that says why (in the gate's own order:
person → role → online → control authority → interlocks → already pending); what a numeric
argument's entry says (unit, allowed range, old → new); the lines of pending commands; the
inactivity clock and its countdown words; an approval request as a supervisor reads it; control
authority in words with the acts that make sense; audit rows with signatures as printed name,
time and meaning (21 CFR 11.50). The hub decides; this only explains. Pure: every time is
passed in (ns UTC ints or seconds on a clock the caller owns); nothing reads a clock or socket.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from copilot.arguments import current_tag
from copilot.gate.audit import KINDS
from copilot.protocol import (
    ACTIVE_STATES,
    Approval,
    ArgSpec,
    AuditRecord,
    Authority,
    CheckState,
    CommandSpec,
    CommandStatus,
    Grant,
    Scalar,
    TagSpec,
    Value,
)

NS = 1_000_000_000

TIER_WORDS: dict[int, str] = {1: "one tap", 2: "confirm", 3: "sign", 4: "two-person"}
"""What a tier asks of the person, as the button's second line says it."""

CAUSE_SENTENCES: dict[str, str] = {
    "not_authenticated": "Nobody is logged in at this station.",
    "not_authorised": "Your role does not permit this command.",
    "unknown_machine": "The hub does not know this machine.",
    "unknown_command": "This machine does not declare this command.",
    "out_of_range": "A value is outside its allowed range.",
    "bad_argument": "A value is not valid for this command.",
    "offline": "The machine is offline.",
    "interlock": "An interlock blocks this command.",
    "locked_by_other": "Another station has control of this machine.",
    "already_pending": "This command is already in progress.",
    "confirmation_required": "This command needs a confirmation.",
    "signature_required": "This command needs your PIN and a reason.",
    "bad_signature": "The PIN you re-entered is not right; nothing was sent.",
    "reason_required": "This command needs a reason.",
    "not_by_voice": "Voice may not issue this command.",
    "approval_expired": "Nobody approved in time; the request expired.",
    "approver_is_requester": "You asked for this command; another supervisor must approve it.",
    "denied": "A supervisor denied the request.",
    "locked_out": "This user is locked out.",
    "expired": "The command was too late to be sent; nothing was done.",
    "duplicate_id": "This command was already sent once.",
    "hub_unreachable": "The hub cannot be reached; the command was not sent.",
}
"""One sentence per stable refusal cause, used when the hub's own message is empty."""

SIGN_REASONS: tuple[str, ...] = (
    "Planned changeover",
    "Process correction",
    "Quality deviation",
    "Maintenance",
    "Start-up after stop",
)
"""The sign dialog's pick-list (free text is always possible too)."""

AUDIT_KINDS: tuple[str, ...] = KINDS  # the audit trail's kinds, listed once (gate.audit)
"""The audit trail's kinds (the viewer's filter)."""

DEMO_HINT = (
    "Demo: log in as demo-operator (PIN 1111), demo-supervisor (2222) or demo-engineer (3333)."
)
"""What the login screen says while ``copilot demo`` runs."""


# -- small words ---------------------------------------------------------------------------------


def clock(ns: int) -> str:
    """``14:03:22`` local time of a ns UTC time (``—`` for 0)."""
    return time.strftime("%H:%M:%S", time.localtime(ns / NS)) if ns else "—"


def stamp(ns: int) -> str:
    """``2024-05-01 14:03:22`` local date and time of a ns UTC time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns / NS)) if ns else "—"


def countdown(seconds: float) -> str:
    """``1:45`` from a minute on, ``45 s`` below it, never negative."""
    s = max(0, math.ceil(seconds))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


def cause_sentence(cause: str, message: str = "") -> str:
    """The hub's sentence, else ours for the cause code, else a plain one."""
    if message:
        return message
    return CAUSE_SENTENCES.get(cause, f"Refused ({cause.replace('_', ' ')})." if cause else "")


def signature_line(name: str, at_ns: int, meaning: str) -> str:
    """``Demo Supervisor · 2024-05-01 14:03:22 · approved`` (printed name, time, meaning)."""
    return f"{name} · {stamp(at_ns)} · {meaning}"


def number_text(value: Value, unit: str = "", decimals: int | None = None) -> str:
    """``1500 rpm``, ``212.5 °C``, ``on``, ``—`` — a value as the panel shows it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return value
    number = float(value)
    if math.isnan(number):
        return "—"
    if decimals is None:
        decimals = 0 if number == int(number) and abs(number) < 1e15 else 2
    text = f"{number:.{decimals}f}"
    return f"{text} {unit}" if unit else text


def args_text(args: Mapping[str, Scalar], specs: Sequence[ArgSpec] = ()) -> str:
    """``speed_rpm = 1500 rpm, mode = setup`` (units from the specs when known)."""
    units = {a.name: a.unit for a in specs}
    return ", ".join(f"{k} = {number_text(v, units.get(k, ''))}" for k, v in args.items())


def label_of(spec: CommandSpec) -> str:
    """The command's label, else its name in words."""
    return spec.label or spec.name.replace("_", " ").capitalize()


# -- checks from live values ---------------------------------------------------------------------


def numeric(spec: TagSpec, value: Value) -> float | None:
    """A tag's live value as the number checks compare (an enum label → its index)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        labels = spec.labels or []
        return float(labels.index(value)) if value in labels else None
    return float(value)


# -- command buttons -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ButtonState:
    """One command button: may it be pressed, and if not the sentence a tap shows."""

    name: str
    label: str
    tier: int
    enabled: bool
    why: str = ""
    cause: str = ""  # the refusal cause code the gate would give (``interlock``…)
    caption: str = ""  # second line: the tier's friction, or the first blocking words
    key: str = ""  # keyboard shortcut, e.g. ``Alt+1``


def command_buttons(
    machine_name: str,
    commands: Sequence[CommandSpec],
    *,
    logged_in: bool,
    grants: Mapping[str, Grant],
    online: bool,
    checks: Mapping[str, Sequence[CheckState]],
    authority: Authority | None = None,
    station: str = "",
    pending: Iterable[str] = (),
) -> list[ButtonState]:
    """The buttons of a machine's commands, in BIRTH order, each with why it is disabled.

    ``grants`` maps a command name to this person's :class:`Grant`; ``checks`` a command name
    to its evaluated interlocks (first-out first); ``authority`` is the machine's (or its
    area's) holder, ``station`` this station's key name; ``pending`` the names in flight.
    """
    busy = set(pending)
    out: list[ButtonState] = []
    for index, spec in enumerate(commands):
        label = label_of(spec)
        grant = grants.get(spec.name)
        tier = grant.tier if grant is not None else 0
        key = f"Alt+{index + 1}" if index < 9 else ""
        caption = TIER_WORDS.get(tier, "")
        cause, why = "", ""
        blocking = [s.words for s in checks.get(spec.name, ()) if not s.ok]
        if not logged_in:
            cause, why = "not_authenticated", "Log in to command this machine."
        elif grant is None or not grant.allowed:
            cause = "not_authorised"
            why = (grant.why if grant is not None and grant.why else "") or (
                f"Your role does not permit {label.lower()} on {machine_name}."
            )
        elif not online:
            cause, why = "offline", f"{machine_name} is offline; commands cannot reach it."
        elif authority is not None and authority.holder and authority.holder != station:
            cause = "locked_by_other"
            holder = authority.holder_name or authority.holder
            who = f" ({authority.holder_user})" if authority.holder_user else ""
            why = f"{holder}{who} has control of {machine_name}; ask it to hand over."
        elif blocking:
            cause = "interlock"
            why = f"{machine_name} cannot {label.lower()}: {', '.join(blocking)}."
            caption = blocking[0]
        elif spec.name in busy:
            cause, why = "already_pending", f"{label} is already in progress."
        out.append(
            ButtonState(
                name=spec.name,
                label=label,
                tier=tier,
                enabled=not cause,
                why=why,
                cause=cause,
                caption=caption,
                key=key,
            )
        )
    return out


# -- arguments -----------------------------------------------------------------------------------


def decimals_of(arg: ArgSpec) -> int:
    """How many decimals an argument is entered and shown with."""
    if arg.type != "float":
        return 0
    span = arg.range.hi - arg.range.lo if arg.range else 100.0
    return 0 if span >= 1000 else 1 if span >= 50 else 2


def range_text(arg: ArgSpec) -> str:
    """``allowed 1000 – 10000 rpm`` (empty without a range)."""
    if arg.range is None:
        return ""
    d = decimals_of(arg)
    unit = f" {arg.unit}" if arg.unit else ""
    return f"allowed {arg.range.lo:.{d}f} – {arg.range.hi:.{d}f}{unit}"


def change_text(arg: ArgSpec, old: Value, new: Value) -> str:
    """``1200 → 1500 rpm`` (``— → 1500 rpm`` when the current value is unknown)."""
    d = decimals_of(arg)
    new_s = number_text(new, "", d if isinstance(new, int | float) else None)
    old_s = number_text(old, "", d if isinstance(old, int | float) else None)
    unit = f" {arg.unit}" if arg.unit else ""
    return f"{old_s} → {new_s}{unit}"


def parse_arg(arg: ArgSpec, text: str) -> tuple[Scalar | None, str]:
    """``(value, "")`` or ``(None, sentence)``: a keypad's text checked against the argument."""
    text = text.strip()
    name = arg.description or arg.name.replace("_", " ")
    if arg.type in ("enum", "str"):
        if arg.choices and text not in arg.choices:
            return None, f"Choose one of: {', '.join(arg.choices)}."
        return (text, "") if text else (None, f"Enter the {name.lower()}.")
    if arg.type == "bool":
        if text.lower() in ("on", "true", "1"):
            return True, ""
        if text.lower() in ("off", "false", "0"):
            return False, ""
        return None, "Choose on or off."
    if not text:
        return None, f"Enter the {name.lower()}."
    try:
        number = float(text)
    except ValueError:
        return None, f"“{text}” is not a number."
    if not math.isfinite(number):
        return None, f"“{text}” is not a number."
    if arg.type == "int" and number != int(number):
        return None, f"The {name.lower()} is a whole number."
    if arg.range is not None and not arg.range.contains(number):
        unit = f" {arg.unit}" if arg.unit else ""
        shown = number_text(number, "", decimals_of(arg))
        return None, f"{shown}{unit} is outside the {range_text(arg)}."
    return (int(number) if arg.type == "int" else number), ""


# -- pending commands ----------------------------------------------------------------------------

Mark = Literal["busy", "done", "refused", "unknown"]

STATE_WORDS: dict[str, str] = {
    "SENT": "Sending…",
    "AWAITING_APPROVAL": "Waiting for a supervisor",
    "ACCEPTED": "Accepted",
    "EXECUTING": "In progress",
    "COMPLETED": "Done",
    "REJECTED": "Refused",
    "FAILED": "Failed",
    "EXPIRED": "Expired",
    "CANCELLED": "Withdrawn",
    "UNKNOWN": "Outcome unknown",
}
MARK_GLYPHS: dict[Mark, str] = {"busy": "…", "done": "✓", "refused": "✕", "unknown": "?"}
"""A shape for each outcome, so the line reads without its colour."""


@dataclass(frozen=True)
class PendingLine:
    """One command in place on the panel: state word, the sentence, what was observed."""

    cmd_id: str
    label: str
    state: str
    words: str
    text: str
    mark: Mark
    final: bool
    abnormal: bool  # refused, failed, expired, unknown: drawn with the abnormal colour


def pending_line(
    status: CommandStatus,
    label: str = "",
    specs: Mapping[str, TagSpec] | None = None,
    now_ns: int = 0,
    expires_at: int = 0,
) -> PendingLine:
    """A command's latest status as its line on the panel (observed values with units)."""
    state = status.state
    final = state not in ACTIVE_STATES
    if state in ACTIVE_STATES:
        mark: Mark = "busy"
    elif state == "COMPLETED":
        mark = "done"
    elif state == "UNKNOWN":
        mark = "unknown"
    else:
        mark = "refused"
    text = status.message
    if state in ("REJECTED", "FAILED", "EXPIRED") or (state == "UNKNOWN" and not text):
        text = cause_sentence(status.cause, status.message)
    if state == "UNKNOWN" and not status.message:
        text = "The machine did not say whether it ran; check it before trying again."
    if state == "COMPLETED" and status.observed:
        units = {n: s.unit for n, s in (specs or {}).items()}
        seen = ", ".join(
            f"{k.replace('_', ' ')} {number_text(v, units.get(k, ''))}"
            for k, v in status.observed.items()
        )
        text = f"{text} Observed: {seen}." if text else f"Observed: {seen}."
    if state == "AWAITING_APPROVAL" and expires_at:
        left = countdown((expires_at - now_ns) / NS)
        text = text or f"A supervisor must approve within {left}."
    if status.approved_by and state not in ("AWAITING_APPROVAL", "SENT"):
        text = f"{text} Approved by {status.approved_by}.".strip()
    return PendingLine(
        cmd_id=status.cmd_id,
        label=label or status.name.replace("_", " ").capitalize(),
        state=state,
        words=STATE_WORDS.get(state, state.lower()),
        text=text,
        mark=mark,
        final=final,
        abnormal=mark in ("refused", "unknown") and state != "CANCELLED",
    )


def in_flight(statuses: Iterable[CommandStatus]) -> list[CommandStatus]:
    """Commands not yet in a final state (what a lock screen must list), oldest first."""
    return sorted((s for s in statuses if s.state in ACTIVE_STATES), key=lambda s: s.at)


def in_flight_text(status: CommandStatus, machine_name: str = "") -> str:
    """``Press 2 · Set barrel temperature — waiting for a supervisor`` for the lock screen."""
    where = machine_name or status.machine
    what = status.name.replace("_", " ").capitalize() if status.name else status.cmd_id[:8]
    return f"{where} · {what} — {STATE_WORDS.get(status.state, status.state).lower()}"


NOT_SENT = "{label} on {machine} was not sent: the station locked before you confirmed."
"""The notice shown when a confirmation sheet was open when the station locked."""


# -- inactivity ----------------------------------------------------------------------------------

IdlePhase = Literal["active", "warn", "locked"]


@dataclass
class IdleClock:
    """Inactivity: warn after ``warn_s`` without input, lock at ``lock_s`` (session's values).

    Times are seconds on one monotonic clock the caller owns.
    """

    warn_s: float
    lock_s: float
    last_input: float = 0.0

    def touch(self, now: float) -> None:
        """Input happened at ``now``."""
        self.last_input = now

    def phase(self, now: float) -> tuple[IdlePhase, float]:
        """``(phase, seconds until the lock)``."""
        idle = now - self.last_input
        left = self.lock_s - idle
        if left <= 0:
            return "locked", 0.0
        if idle >= min(self.warn_s, self.lock_s):
            return "warn", left
        return "active", left

    def warning(self, now: float) -> str:
        """The banner's sentence while warning (empty otherwise)."""
        phase, left = self.phase(now)
        if phase != "warn":
            return ""
        return f"This station locks in {countdown(left)} — touch the screen to stay logged in."


# -- approvals -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalFacts:
    """An approval request as the supervisors' queue shows it."""

    cmd_id: str
    title: str  # "Press 2 · Set barrel temperature"
    requester: str  # "Demo Operator (demo-operator) at station-1, 14:02:10"
    args: str  # "setpoint_c: 210 → 240 °C"
    reason: str
    expires: str  # "expires in 1:42" / "expired at 14:04:10"
    checks: tuple[str, ...]  # "✓ guard door closed", "✕ machine running"
    can_decide: bool
    why: str  # why this person cannot decide (empty when they can)
    state: str
    decision: str = ""  # "Approved by … · time · approved" once decided


def approval_facts(
    approval: Approval,
    now_ns: int,
    *,
    user: str,
    roles: Sequence[str],
    machine_name: str = "",
    specs: Sequence[ArgSpec] = (),
) -> ApprovalFacts:
    """What a supervisor sees of one request, and whether this person may approve or deny."""
    title = f"{machine_name or approval.machine} · {approval.label or approval.name}"
    requester = (
        f"{approval.requested_name} ({approval.requested_by}) at "
        f"{approval.station or 'a station'}, {clock(approval.requested_at)}"
    )
    by_name = {a.name: a for a in specs}
    parts = []
    for name, new in approval.args.items():
        arg = by_name.get(name)
        old = approval.old.get(name)
        if arg is not None:
            parts.append(f"{name.replace('_', ' ')}: {change_text(arg, old, new)}")
        else:
            parts.append(f"{name.replace('_', ' ')}: {number_text(old)} → {number_text(new)}")
    left = (approval.expires_at - now_ns) / NS
    if approval.state != "pending":
        expires = f"{approval.state} at {clock(approval.decided_at or approval.expires_at)}"
    elif left > 0:
        expires = f"expires in {countdown(left)}"
    else:
        expires = f"expired at {clock(approval.expires_at)}"
    checks = tuple(f"{'✓' if s.ok else '✕'} {s.words}" for s in approval.checks)
    why = ""
    if approval.state != "pending":
        why = f"This request is {approval.state}."
    elif left <= 0:
        why = "This request expired; the requester must ask again."
    elif "Supervisor" not in roles:
        why = "Only a Supervisor can approve or deny."
    elif approval.requested_by == user:
        why = CAUSE_SENTENCES["approver_is_requester"]
    decision = ""
    if approval.decided_name:
        meaning = "approved" if approval.state == "approved" else approval.state
        decision = signature_line(approval.decided_name, approval.decided_at, meaning)
    return ApprovalFacts(
        cmd_id=approval.cmd_id,
        title=title,
        requester=requester,
        args="; ".join(parts) or "no arguments",
        reason=approval.reason or "(no reason given)",
        expires=expires,
        checks=checks,
        can_decide=not why,
        why=why,
        state=approval.state,
        decision=decision,
    )


def open_requests(approvals: Iterable[Approval], now_ns: int) -> list[Approval]:
    """Pending, unexpired requests, the one expiring first first (the badge counts them)."""
    live = [a for a in approvals if a.state == "pending" and a.expires_at > now_ns]
    return sorted(live, key=lambda a: a.expires_at)


# -- control authority ---------------------------------------------------------------------------

AuthorityActName = Literal["take", "release", "request", "grant", "refuse", "override"]
ACT_LABELS: dict[str, str] = {
    "take": "Take control",
    "release": "Release control",
    "request": "Ask for control",
    "grant": "Hand over",
    "refuse": "Keep control",
    "override": "Override (Supervisor)",
}


@dataclass(frozen=True)
class AuthorityFacts:
    """Who controls a scope, in words, and which acts this station may offer."""

    text: str
    acts: tuple[AuthorityActName, ...]
    mine: bool
    other: bool  # another station holds it: commands from here are refused


def authority_facts(
    authority: Authority | None,
    *,
    station: str,
    roles: Sequence[str] = (),
    logged_in: bool = True,
) -> AuthorityFacts:
    """``Controlled by station-2 (Demo Operator) since 14:02`` and the acts that make sense."""
    if authority is None or not authority.holder:
        acts: tuple[AuthorityActName, ...] = ("take",) if logged_in else ()
        return AuthorityFacts("Control: free", acts, False, False)
    holder = authority.holder_name or authority.holder
    who = f" ({authority.holder_user})" if authority.holder_user else ""
    since = f" since {clock(authority.since)}" if authority.since else ""
    asked = ""
    if authority.asked_by:
        asked = f" · {authority.asked_name or authority.asked_by} asks for control"
    if authority.holder == station:
        acts = ("release", "grant", "refuse") if authority.asked_by else ("release",)
        return AuthorityFacts(
            f"Control: this station{who}{since}{asked}", acts if logged_in else (), True, False
        )
    acts = ("request",)
    if "Supervisor" in roles:
        acts = ("request", "override")
    return AuthorityFacts(
        f"Control: {holder}{who}{since} — commands from here are refused{asked}",
        acts if logged_in else (),
        False,
        True,
    )


def authority_of(
    authorities: Mapping[str, Authority], machine: str, area: str = ""
) -> Authority | None:
    """The authority that governs a machine: its own scope, else its area's."""
    own = authorities.get(f"machine:{machine}")
    if own is not None and own.holder:
        return own
    if area:
        by_area = authorities.get(f"area:{area}")
        if by_area is not None and by_area.holder:
            return by_area
    return own


# -- audit ---------------------------------------------------------------------------------------

AUDIT_COLUMNS = ("Time", "Kind", "Who", "Station", "Machine", "Command", "Outcome", "Signature")


@dataclass(frozen=True)
class AuditFilter:
    """The viewer's filters (ns UTC, 0 = open)."""

    since: int = 0
    until: int = 0
    machine: str = ""
    user: str = ""
    kind: str = ""
    limit: int = 500


def audit_cells(row: AuditRecord) -> tuple[str, ...]:
    """One row's cells in :data:`AUDIT_COLUMNS` order; a signature is name · time · meaning."""
    who = f"{row.name} ({row.user})" if row.name and row.user else row.name or row.user
    signature = signature_line(row.name or row.user, row.at, row.meaning) if row.meaning else ""
    return (
        stamp(row.at),
        row.kind.replace("_", " "),
        who,
        row.station,
        row.machine,
        row.command.replace("_", " "),
        row.outcome,
        signature,
    )


def parse_when(text: str, today: Callable[[], float] = time.time) -> tuple[int, str]:
    """``(ns, "")`` or ``(0, sentence)`` from ``HH:MM`` (today), ``YYYY-MM-DD [HH:MM]``, or ''."""
    text = text.strip()
    if not text:
        return 0, ""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return int(time.mktime(time.strptime(text, fmt)) * NS), ""
        except ValueError:
            pass
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            t = time.strptime(text, fmt)
        except ValueError:
            continue
        day = time.localtime(today())
        whole = time.struct_time(
            (day.tm_year, day.tm_mon, day.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, 0, 0, -1)
        )
        return int(time.mktime(whole) * NS), ""
    return 0, f"“{text}” is not a time: write HH:MM or YYYY-MM-DD HH:MM."


# -- the login screen ----------------------------------------------------------------------------


@dataclass
class RecentUsers:
    """The user picker: people who logged in at this station, most recent first, then extras."""

    extras: tuple[str, ...] = ()
    limit: int = 8
    users: list[str] = field(default_factory=list)

    def used(self, user: str) -> None:
        """``user`` logged in: first in the list."""
        if user in self.users:
            self.users.remove(user)
        self.users.insert(0, user)
        del self.users[self.limit :]

    def choices(self) -> list[str]:
        """The names the picker offers."""
        return [*self.users, *(u for u in self.extras if u not in self.users)]


DEMO_USERS = ("demo-operator", "demo-supervisor", "demo-engineer")


__all__ = [
    "ACT_LABELS",
    "AUDIT_COLUMNS",
    "AUDIT_KINDS",
    "CAUSE_SENTENCES",
    "DEMO_HINT",
    "DEMO_USERS",
    "MARK_GLYPHS",
    "NOT_SENT",
    "SIGN_REASONS",
    "STATE_WORDS",
    "TIER_WORDS",
    "ApprovalFacts",
    "AuditFilter",
    "AuthorityFacts",
    "ButtonState",
    "IdleClock",
    "PendingLine",
    "RecentUsers",
    "approval_facts",
    "args_text",
    "audit_cells",
    "authority_facts",
    "authority_of",
    "cause_sentence",
    "change_text",
    "clock",
    "command_buttons",
    "countdown",
    "current_tag",
    "decimals_of",
    "in_flight",
    "in_flight_text",
    "label_of",
    "numeric",
    "open_requests",
    "parse_arg",
    "parse_when",
    "pending_line",
    "range_text",
    "signature_line",
    "stamp",
]
