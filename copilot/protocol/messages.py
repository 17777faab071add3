"""Every message of the COP/1 wire protocol, as msgspec Structs.

This module owns the shape of what crosses a socket; ``docs/protocol.md`` describes the same
thing for people writing an agent or a station in another language. A message on the wire is
a multipart ZeroMQ message::

    [routing id (ROUTER side only) | topic (PUB side only)] b"COP1" header body

``header`` is a MessagePack map decoded into :class:`Header`; ``body`` is a MessagePack map
whose ``"t"`` key selects one of the body Structs below (a tagged union). Nothing here does
I/O; encoding, decoding and counting malformed input live in :mod:`copilot.protocol.codec`.
"""

from __future__ import annotations

import enum
from typing import Literal

import msgspec

PROTOCOL_VERSION = 1
SIGNATURE = b"COP1"

Scalar = float | int | bool | str
Value = float | int | bool | str | None


class Quality(enum.IntEnum):
    """A value's quality: severity in the top two bits (OPC UA style), reason in the low six.

    ``severity = q >> 6``: 0 Good, 1 Uncertain, 2 Bad. The reason says why in one word.
    """

    GOOD = 0x00
    UNCERTAIN = 0x40
    UNCERTAIN_STALE = 0x41
    UNCERTAIN_COMM_LOST = 0x42
    UNCERTAIN_RESYNCING = 0x43
    UNCERTAIN_SENSOR = 0x44
    BAD = 0x80
    BAD_STALE = 0x81
    BAD_COMM_LOST = 0x82
    BAD_SENSOR_FAILURE = 0x84
    BAD_NOT_CONNECTED = 0x85
    BAD_CONFIG = 0x86

    @property
    def severity(self) -> Severity:
        """Good, Uncertain or Bad."""
        return severity_of(int(self))

    @property
    def reason(self) -> str:
        """The one-word reason (``stale``, ``comm_lost``...), or '' for plain Good."""
        return reason_of(int(self))


class Severity(enum.IntEnum):
    """The top two bits of a quality code."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


_REASONS = {
    0x00: "",
    0x01: "stale",
    0x02: "comm_lost",
    0x03: "resyncing",
    0x04: "sensor",
    0x05: "not_connected",
    0x06: "config",
}


def severity_of(q: int) -> Severity:
    """Severity of a raw quality code (unknown high values count as Bad)."""
    return Severity(min((q >> 6) & 0x3, 2))


def reason_of(q: int) -> str:
    """Reason word of a raw quality code; unknown reasons read as ``other``."""
    return _REASONS.get(q & 0x3F, "other")


def quality_label(q: int) -> str:
    """Human text for a quality code: ``Good``, ``Bad (stale)``..."""
    sev = severity_of(q).name.capitalize()
    why = reason_of(q)
    return f"{sev} ({why})" if why else sev


# --------------------------------------------------------------------------------------------
# Header: present on every message.


class Header(msgspec.Struct):
    """Who sent a message, in which session, in which order.

    ``src`` is a machine id, ``station:<name>``, ``hub`` or ``cli:<name>``. ``epoch`` is new on
    every (re)start of the sender; ``seq`` counts that sender's messages within the epoch, from
    0 (the BIRTH) upwards. The hub stamps ``hub_epoch``/``hub_seq`` on what it publishes.
    """

    src: str
    epoch: int
    seq: int
    ts: int
    v: int = PROTOCOL_VERSION
    hub_epoch: int = 0
    hub_seq: int = 0


# --------------------------------------------------------------------------------------------
# BIRTH metadata.

TagType = Literal["float", "int", "bool", "enum", "str"]
RiskClass = Literal["routine", "confirm", "sign", "two_person"]
Origin = Literal["touch", "keyboard", "voice", "suggestion", "cli", "api", "scenario"]


class Range(msgspec.Struct, array_like=True):
    """An inclusive ``[lo, hi]`` interval in engineering units."""

    lo: float
    hi: float

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies within the interval."""
        return self.lo <= value <= self.hi


class Limits(msgspec.Struct, omit_defaults=True):
    """Alarm limits (ISA-18.2 / OPC UA LimitAlarm): any may be absent."""

    lolo: float | None = None
    lo: float | None = None
    hi: float | None = None
    hihi: float | None = None


Priority = Literal["critical", "high", "medium", "low", "diagnostic"]
"""Alarm priorities, most urgent first (ISA-18.2: three or four levels plus diagnostic)."""
PRIORITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "diagnostic")
PRIORITY_RANK: dict[str, int] = {p: i for i, p in enumerate(PRIORITIES)}
"""0 is the most urgent; sort by it."""

AlarmCondition = Literal["hihi", "hi", "lo", "lolo", "roc", "on", "comm"]
"""What an alarm watches: a limit, a rate of change, a discrete value, the machine's link.

Anomaly alarms (raised by the hub's detectors) use ``anomaly:<detector>``; their condition is
any string that starts with ``anomaly:``.
"""
LIMIT_CONDITIONS: tuple[str, ...] = ("hihi", "hi", "lo", "lolo")


class AlarmSpec(msgspec.Struct, omit_defaults=True):
    """How a tag alarms, as its machine declares it (a site's alarm file may override it).

    Limit alarms come from the tag's ``limits`` whether or not this is present; this sets their
    priorities and delays. ``on`` lists the values of a ``bool``/``enum`` tag that are an alarm
    (``[1]``: true is the alarm). ``roc`` is a rate-of-change limit in units per second
    (absolute). ``latched``: the alarm stays until someone resets it, even once clear.
    ``running_only``: the alarm means something only while the machine runs, so it is
    suppressed while the machine is idle, stopped or in maintenance. Delays are in ms: the
    condition must hold for ``on_delay_ms`` before the alarm is raised and be gone for
    ``off_delay_ms`` before it clears.
    """

    priorities: dict[str, Priority] = msgspec.field(default_factory=dict)
    on: list[int] = msgspec.field(default_factory=list)
    priority: Priority = "medium"
    roc: float | None = None
    latched: bool = False
    running_only: bool = False
    on_delay_ms: int = 0
    off_delay_ms: int = 0
    message: str = ""


class TagSpec(msgspec.Struct, omit_defaults=True):
    """One signal a machine reports.

    ``alias`` is the small integer DATA uses instead of the name, unique within a BIRTH.
    ``eng_range`` is the instrument's span, ``normal`` the band where the process should sit
    (what bar indicators are drawn against), ``limits`` the alarm limits, ``deadband`` the
    alarm deadband, ``max_age_ms`` how old a value may get before it is stale, ``key`` whether
    overviews show it, ``labels`` the names of an ``enum`` tag's values (value = index).
    """

    name: str
    alias: int
    type: TagType = "float"
    unit: str = ""
    description: str = ""
    eng_range: Range | None = None
    normal: Range | None = None
    limits: Limits | None = None
    deadband: float = 0.0
    max_age_ms: int = 5000
    key: bool = False
    labels: list[str] | None = None
    writable: bool = False
    alarm: AlarmSpec | None = None


class ArgSpec(msgspec.Struct, omit_defaults=True):
    """One argument of a command: type, allowed range or choices, unit."""

    name: str
    type: Literal["float", "int", "bool", "enum", "str"] = "float"
    unit: str = ""
    range: Range | None = None
    choices: list[str] | None = None
    description: str = ""


CheckOp = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"]


class Check(msgspec.Struct, omit_defaults=True):
    """An interlock or permissive the hub can evaluate from one tag's live value.

    An ``interlock`` blocks the command while ``<tag> <op> <value(s)>`` holds; a
    ``permissive`` must hold for the command to go. ``words`` says the blocking condition for
    people ("guard door open", "machine not idle or in setup"). A tag of another quality than
    Good blocks either way ("guard door state unknown"). The agent checks again when the
    command arrives: the hub's check explains, the machine's decides.
    """

    kind: Literal["interlock", "permissive"]
    tag: str
    op: CheckOp
    words: str
    value: float = 0.0
    values: list[float] = msgspec.field(default_factory=list)


class CommandSpec(msgspec.Struct, omit_defaults=True):
    """One command a machine accepts.

    ``interlocks`` name conditions that block the command, ``permissives`` conditions that
    must hold; both are words for people (``guard door closed``) and the agent checks them.
    ``checks`` are the same conditions in a form the hub and stations evaluate before anyone
    presses (:class:`Check`). ``risk`` is the machine's own risk class; a site policy may
    raise or lower the tier.
    """

    name: str
    label: str = ""
    args: list[ArgSpec] = msgspec.field(default_factory=list)
    risk: RiskClass = "confirm"
    interlocks: list[str] = msgspec.field(default_factory=list)
    permissives: list[str] = msgspec.field(default_factory=list)
    description: str = ""
    checks: list[Check] = msgspec.field(default_factory=list)


class MachineInfo(msgspec.Struct, omit_defaults=True):
    """Identity of a machine: ``id`` is stable and topic-safe (``[a-z0-9_-]``)."""

    id: str
    name: str
    kind: str
    line: str = ""
    area: str = ""


# --------------------------------------------------------------------------------------------
# Bodies. ``tag`` is the value of the "t" key on the wire.


class Birth(msgspec.Struct, tag="BIRTH", tag_field="t", omit_defaults=True):
    """Agent → hub (and hub → stations): full metadata of a session, sent first."""

    machine: MachineInfo
    tags: list[TagSpec]
    commands: list[CommandSpec] = msgspec.field(default_factory=list)
    heartbeat_ms: int = 1000


class Data(msgspec.Struct, tag="DATA", tag_field="t", omit_defaults=True):
    """A batch of samples as packed little-endian columns, one entry per sample.

    ``aliases`` (u32), ``values`` (f64) and ``ts`` (i64, ns since the Unix epoch) have the
    same number of entries; ``quality`` (u8) has that many too, or is empty when every sample
    is Good. ``bool``/``int``/``enum`` tags send their number (integers within ±2^53); a
    missing value is NaN. Samples of ``str`` tags send NaN in ``values`` and their text in
    ``text`` under the sample's index. A tag may appear several times, in time order.
    """

    aliases: bytes
    values: bytes
    ts: bytes
    quality: bytes = b""
    text: dict[int, str] = msgspec.field(default_factory=dict)


class Death(msgspec.Struct, tag="DEATH", tag_field="t", omit_defaults=True):
    """The session of ``header.src``/``header.epoch`` ended (``shutdown``) or timed out."""

    reason: Literal["shutdown", "timeout", "revoked"] = "shutdown"
    at: int = 0


class Heartbeat(msgspec.Struct, tag="HB", tag_field="t", omit_defaults=True):
    """Liveness. Any message counts as a heartbeat; this one is sent when nothing else is.

    The hub's own heartbeats carry ``interval_ms``, the period it sends them at, so a client
    can tell a silent hub from a slow one; ``0`` (absent) means "not said".
    """

    interval_ms: int = 0


class RebirthRequest(msgspec.Struct, tag="REBIRTH", tag_field="t", omit_defaults=True):
    """Hub → agent: send BIRTH again with a new epoch, then resume DATA."""

    reason: str = ""


class Command(msgspec.Struct, tag="CMD", tag_field="t", omit_defaults=True):
    """Do ``name`` with ``args`` on ``machine``, once, and not after ``not_after`` (ns UTC).

    ``cmd_id`` is the idempotency key: the same id is never executed twice.
    """

    cmd_id: str
    machine: str
    name: str
    not_after: int
    args: dict[str, Scalar] = msgspec.field(default_factory=dict)
    issued_at: int = 0
    origin: Origin = "api"
    operator: str = ""
    approver: str = ""


CommandState = Literal[
    "SENT",
    "AWAITING_APPROVAL",
    "ACCEPTED",
    "REJECTED",
    "EXECUTING",
    "COMPLETED",
    "FAILED",
    "EXPIRED",
    "CANCELLED",
    "UNKNOWN",
]
# The lifecycle, listed once: hub, station and agent read these instead of their own copies.
ACTIVE_STATES: frozenset[str] = frozenset({"SENT", "AWAITING_APPROVAL", "ACCEPTED", "EXECUTING"})
FINAL_STATES: frozenset[str] = frozenset(
    {"REJECTED", "COMPLETED", "FAILED", "EXPIRED", "CANCELLED", "UNKNOWN"}
)
TERMINAL_STATES = FINAL_STATES  # the older name
STATE_RANK: dict[str, int] = {
    "SENT": 0,
    "AWAITING_APPROVAL": 1,
    "ACCEPTED": 2,
    "EXECUTING": 3,
    **dict.fromkeys(FINAL_STATES, 4),
}
"""Lifecycle order: a status never moves a command backwards (times come from other clocks)."""


class CommandStatus(msgspec.Struct, tag="CMD_STATUS", tag_field="t", omit_defaults=True):
    """Where a command is in its lifecycle; ``message`` is a sentence for people.

    An agent fills the first seven fields. The hub adds, on what it relays, the command's
    ``name``, the printed name of the person who asked (``by``) and of the approver
    (``approved_by``), its risk ``tier`` (1–4) and, on a reply, the ``CMD_REQ``'s ``request_id``.
    """

    cmd_id: str
    machine: str
    state: CommandState
    cause: str = ""
    message: str = ""
    observed: dict[str, Value] | None = None
    at: int = 0
    name: str = ""
    by: str = ""
    approved_by: str = ""
    tier: int = 0
    request_id: int = 0


class CommandQuery(msgspec.Struct, tag="CMD_QUERY", tag_field="t", omit_defaults=True):
    """Ask for a command's latest status (a reconnecting station asks, never resends)."""

    cmd_id: str
    machine: str = ""


class SnapshotRequest(msgspec.Struct, tag="SNAP_REQ", tag_field="t", omit_defaults=True):
    """Station → hub: send the state of every machine whose id starts with ``prefix``.

    ``request_id`` is echoed in every SNAP_ITEM and the SNAP_END of the answer, so a station
    that asked again can tell the answers apart.
    """

    prefix: str = ""
    request_id: int = 0


class SnapshotItem(msgspec.Struct, tag="SNAP_ITEM", tag_field="t", omit_defaults=True):
    """One machine's state: its BIRTH, its session, whether it is online, its last values."""

    birth: Birth
    epoch: int
    online: bool
    since: int
    values: Data
    request_id: int = 0


class SnapshotEnd(msgspec.Struct, tag="SNAP_END", tag_field="t", omit_defaults=True):
    """End of a snapshot: apply PUB messages with ``hub_seq`` greater than this one.

    ``areas``: the areas this station key is limited to by the site policy (empty: all); the
    snapshot held only their machines, and a station shows no other.
    """

    hub_epoch: int
    hub_seq: int
    count: int = 0
    request_id: int = 0
    areas: list[str] = msgspec.field(default_factory=list)


class HistoryRequest(msgspec.Struct, tag="HIST_REQ", tag_field="t", omit_defaults=True):
    """Station → hub: samples of ``tags`` of ``machine`` between ``since`` and ``until`` (ns)."""

    machine: str
    tags: list[str]
    since: int
    until: int = 0
    max_points: int = 4000
    request_id: int = 0


class Series(msgspec.Struct, omit_defaults=True):
    """A tag's history: ``t`` (ns) and ``v``; NaN in ``v`` marks a gap or a Bad sample."""

    tag: str
    t: list[int]
    v: list[float]
    tier: Literal["full", "minmax", "mixed", "none"] = "full"


class HistoryReply(msgspec.Struct, tag="HIST", tag_field="t", omit_defaults=True):
    """Hub → station: the requested series (unknown tags come back empty).

    A large answer comes in several parts, each under the hub's message size limit: ``part``
    counts from 0 and ``last`` is true on the final one; a client concatenates the ``series``
    of parts with the same ``request_id`` (a tag's series may be split across parts, in time
    order). ``truncated`` says the hub lowered ``max_points`` to keep the answer bounded.
    """

    machine: str
    series: list[Series]
    request_id: int = 0
    part: int = 0
    last: bool = True
    truncated: bool = False


class MachinesRequest(msgspec.Struct, tag="MACHINES_REQ", tag_field="t", omit_defaults=True):
    """Any client → hub: list the machines you know."""


class MachineSummary(msgspec.Struct, omit_defaults=True):
    """One machine as ``copilot machines`` lists it; ``state`` is ``offline`` when offline."""

    id: str
    name: str
    kind: str
    line: str
    area: str
    state: str


class MachinesReply(msgspec.Struct, tag="MACHINES", tag_field="t", omit_defaults=True):
    """Hub → client: every machine it has seen since it started."""

    machines: list[MachineSummary]


class ErrorReply(msgspec.Struct, tag="ERROR", tag_field="t", omit_defaults=True):
    """Hub → client: a request could not be served; ``message`` is for people.

    ``request_id`` is the one of the request that failed (0 if it had none).
    """

    code: str
    message: str
    request_id: int = 0


class HubStatusRequest(msgspec.Struct, tag="HUB_STATUS_REQ", tag_field="t", omit_defaults=True):
    """Station/CLI → hub: how are you, what did you drop and why (``copilot hub status``)."""


class MachineHealth(msgspec.Struct):
    """One machine in a :class:`HubStatus`."""

    id: str
    name: str
    online: bool
    key: str
    epoch: int
    messages: int
    samples: int
    drops: dict[str, int]
    rebirths: int
    gaps: int


class PeerHealth(msgspec.Struct):
    """One key (``role:name``) in a :class:`HubStatus`."""

    key: str
    role: str
    connections: int
    messages: int
    drops: dict[str, int]
    refused_claims: int
    machines: list[str]


class HubHealth(msgspec.Struct):
    """The hub itself in a :class:`HubStatus`; ``drops`` and ``service_errors`` by reason.

    ``services`` holds each service's own counters (``alarms``: alarms by state, acts, the
    alarm load of the last 10 minutes per area...). ``loop_slow`` counts, by kind of work, the
    slices that held the hub's one loop longer than 50 ms, and ``loop_worst_ms`` is the longest
    slice of each kind since the hub started (every sample behind it was that much later).
    """

    epoch: int
    uptime_s: float
    rss_mb: float
    heartbeat_ms: int
    received: int
    published: int
    samples: int
    drops: dict[str, int]
    service_errors: dict[str, int]
    services: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    loop_slow: dict[str, int] = msgspec.field(default_factory=dict)
    loop_worst_ms: dict[str, float] = msgspec.field(default_factory=dict)


class HubStatus(msgspec.Struct, tag="HUB_STATUS", tag_field="t", omit_defaults=True):
    """Hub → client: its health, per machine and per peer (bounded; ``truncated`` if cut)."""

    hub: HubHealth
    machines: list[MachineHealth] = msgspec.field(default_factory=list)
    peers: list[PeerHealth] = msgspec.field(default_factory=list)
    truncated: bool = False


# --------------------------------------------------------------------------------------------
# Alarms (the hub's alarm service; topic ``a/<machine>/``).

AlarmState = Literal["normal", "unack", "ack", "rtn_unack"]
"""ISA-18.2 alarm states of the live condition and its acknowledgement.

Shelved, suppressed by design and out of service are held beside it (they hide an alarm, they
do not change whether it is active or acknowledged). A latched alarm stays ``ack``/``unack``
with ``latched`` set until it is reset, even after its condition cleared.
"""

AlarmAction = Literal[
    "ack", "shelve", "unshelve", "reset", "claim", "unclaim", "note", "remove", "restore"
]
"""What a person may do to alarms: ``remove`` takes one out of service, ``restore`` back."""


class Shelf(msgspec.Struct, omit_defaults=True):
    """A shelved alarm: by whom, why, until when (0 with ``oneshot``: until it clears)."""

    by: str
    at: int
    reason: str
    until: int = 0
    oneshot: bool = False


class Claim(msgspec.Struct, omit_defaults=True):
    """Who took ownership of an active alarm ("I'm on it"), since when."""

    by: str
    at: int


class AlarmStatus(msgspec.Struct, tag="ALARM", tag_field="t", omit_defaults=True):
    """One alarm's whole state (hub → stations, on every change, and in snapshots).

    ``id`` is ``<machine>/<tag>/<condition>`` (``<machine>/-/comm`` for the link). An
    *occurrence* starts when the alarm is raised and ends when it is back to normal;
    ``occurrence`` numbers it in the hub's journal. ``active`` is the condition after its
    delays; ``state`` the ISA-18.2 state. ``suppressed``: by design, from the machine's mode
    (still evaluated and journaled, not shown as needing action); ``silenced``: shown but not
    announced (setup, startup). ``removed``: out of service (who, since, why in ``shelf``
    form). ``first_out``: the first alarm of a cascade on its machine. Times are ns UTC;
    ``updated`` only grows for one alarm (a station keeps the newest it saw). ``request_id`` is
    set when the status is part of a snapshot (the SNAP_REQ's), else 0.
    """

    id: str
    machine: str
    tag: str
    condition: str
    priority: Priority
    state: AlarmState
    active: bool
    message: str
    occurrence: int = 0
    raised_at: int = 0
    cleared_at: int = 0
    acked_at: int = 0
    acked_by: str = ""
    note: str = ""
    value: float | None = None
    limit: float | None = None
    latched: bool = False
    shelf: Shelf | None = None
    removed: Shelf | None = None
    suppressed: bool = False
    silenced: bool = False
    first_out: bool = False
    claim: Claim | None = None
    area: str = ""
    line: str = ""
    updated: int = 0
    request_id: int = 0


class AlarmAct(msgspec.Struct, tag="ALARM_ACT", tag_field="t", omit_defaults=True):
    """Station/CLI → hub: do ``action`` to the alarms ``ids`` as the person of ``token``.

    The hub records the session's person; ``who`` is kept only for hubs that run without
    people (``--no-gate``), where it is written as the station asserted it.

    ``note`` is the acknowledgement's note or the shelving's reason (required to shelve and to
    take out of service); ``duration_s`` a timed shelf's length (0 with ``oneshot``).
    """

    action: AlarmAction
    ids: list[str]
    who: str = ""
    note: str = ""
    duration_s: float = 0.0
    oneshot: bool = False
    request_id: int = 0
    token: str = ""


class AlarmActReply(msgspec.Struct, tag="ALARM_ACT_REPLY", tag_field="t", omit_defaults=True):
    """Hub → the asker, once what was done is durable in the journal.

    ``done`` lists the ids acted on; ``refused`` maps an id to one sentence saying why not.
    """

    request_id: int
    done: list[str] = msgspec.field(default_factory=list)
    refused: dict[str, str] = msgspec.field(default_factory=dict)


class AlarmQuery(msgspec.Struct, tag="ALARM_QUERY", tag_field="t", omit_defaults=True):
    """Station/CLI → hub: occurrences from the journal (``since``/``until`` ns, 0 = open).

    ``live``: instead, every alarm of ``prefix`` that is not plainly normal, as it is now.
    """

    since: int = 0
    until: int = 0
    prefix: str = ""
    limit: int = 500
    request_id: int = 0
    live: bool = False


class AlarmHistory(msgspec.Struct, tag="ALARM_HIST", tag_field="t", omit_defaults=True):
    """Hub → the asker: occurrences, newest first; ``more`` when ``limit`` cut the list."""

    request_id: int
    alarms: list[AlarmStatus] = msgspec.field(default_factory=list)
    more: bool = False


# The command gate (people, sessions, requests, approvals, control authority, audit).

Role = Literal["Observer", "Operator", "Engineer", "Supervisor", "SecurityAdmin"]
ROLES: tuple[Role, ...] = ("Observer", "Operator", "Engineer", "Supervisor", "SecurityAdmin")
"""The default role names (OPC UA Part 3 well-known roles)."""

TIERS: dict[str, int] = {"routine": 1, "confirm": 2, "sign": 3, "two_person": 4}
"""Risk class → tier: 1 one tap, 2 confirm, 3 sign (PIN + reason), 4 two-person."""


class Login(msgspec.Struct, tag="LOGIN", tag_field="t", omit_defaults=True):
    """Station/CLI → hub: log ``user`` in with a PIN or password; answered by SESSION or GATE."""

    user: str
    secret: str
    request_id: int = 0


class Grant(msgspec.Struct, omit_defaults=True):
    """What the session's person may do with one command of one machine, by the site policy.

    ``tier`` is the effective risk tier (the policy may override the machine's risk class);
    ``allowed`` false comes with ``why``, one sentence; ``voice``: voice may propose it.
    """

    machine: str
    name: str
    tier: int
    allowed: bool
    why: str = ""
    voice: bool = False


class Session(msgspec.Struct, tag="SESSION", tag_field="t", omit_defaults=True):
    """Hub → the station that logged in: a token bound to that station's key.

    Every gate request carries ``token``; the hub, not the station, knows who it is. ``areas``
    are the areas the station's key is limited to (empty: all). The station warns after
    ``idle_warn_s`` without input and locks at ``idle_lock_s``; the hub ends a session unused
    for ``idle_lock_s`` itself. ``grants`` lists, for every known machine, what this person
    may command and at which tier; the hub sends the SESSION again (same token) when a machine
    is born, so the list stays whole. ``station`` is the station key's name.
    """

    token: str
    user: str
    name: str
    roles: list[Role]
    request_id: int = 0
    areas: list[str] = msgspec.field(default_factory=list)
    idle_warn_s: float = 240.0
    idle_lock_s: float = 300.0
    started: int = 0
    grants: list[Grant] = msgspec.field(default_factory=list)
    station: str = ""


class Logout(msgspec.Struct, tag="LOGOUT", tag_field="t", omit_defaults=True):
    """Station/CLI → hub: end a session (``reason``: user, idle lock, switch user)."""

    token: str
    reason: Literal["user", "idle", "switch"] = "user"
    request_id: int = 0


class SessionPing(msgspec.Struct, tag="SESSION_PING", tag_field="t", omit_defaults=True):
    """Station → hub: the person is still at the station (input, but no request).

    Sent at most every 30 s, so the hub's idle clock follows the station's. An unknown token
    is answered ``GATE {ok: false, code: "not_authenticated"}``; a live one is not answered.
    """

    token: str


class GateReply(msgspec.Struct, tag="GATE", tag_field="t", omit_defaults=True):
    """Hub → the asker: the outcome of a gate request that has no richer answer.

    ``code`` is stable (``ok``, ``bad_credentials``, ``locked_out``, ``not_authenticated``,
    ``not_authorised``…, docs/protocol.md §14); ``message`` one sentence for people.
    """

    request_id: int
    ok: bool
    code: str
    message: str = ""


class Signature(msgspec.Struct, omit_defaults=True):
    """A re-entered secret and the reason, for a tier-3 (sign) or an approval."""

    secret: str
    reason: str = ""


class VoiceFacts(msgspec.Struct, omit_defaults=True):
    """What voice heard when a person commanded by voice, kept in the audit trail.

    ``transcript``: the recogniser's words; ``engine``: ``pocketsphinx`` or ``vosk:<model>``;
    ``confidence``: 0..1, the score its rejection accepted; ``grammar_version``: a short hash
    of the grammar it listened with.
    """

    transcript: str
    engine: str
    confidence: float = 0.0
    grammar_version: str = ""


class CommandRequest(msgspec.Struct, tag="CMD_REQ", tag_field="t", omit_defaults=True):
    """Station/CLI → hub: ask the gate to run a command (the only way a person commands).

    ``confirmed``: the person saw the target and old → new value (tier 2 and above);
    ``sign``: the re-entered secret and the reason (tier 3; tier 4 with a reason for the
    approver). ``not_after`` (ns UTC) bounds when it may still be dispatched (tier 1–3; a
    two-person request waits for its approval window instead). Answered by ``CMD_STATUS``
    with the same ``request_id``; a ``cmd_id`` sent again gets its current status, never a
    second run. ``voice``: what the recogniser heard, for a request with origin ``voice``.
    """

    token: str
    cmd_id: str
    machine: str
    name: str
    not_after: int
    args: dict[str, Scalar] = msgspec.field(default_factory=dict)
    origin: Origin = "api"
    confirmed: bool = False
    sign: Signature | None = None
    request_id: int = 0
    voice: VoiceFacts | None = None  # origin voice: what was heard (audited); older hubs ignore it


class CommandCancel(msgspec.Struct, tag="CMD_CANCEL", tag_field="t", omit_defaults=True):
    """Station/CLI → hub: withdraw a command still awaiting approval."""

    token: str
    cmd_id: str
    request_id: int = 0


class CheckState(msgspec.Struct, omit_defaults=True):
    """One interlock or permissive as the gate evaluated it (``ok``: not blocking)."""

    kind: Literal["interlock", "permissive"]
    words: str
    ok: bool
    since: int = 0


ApprovalState = Literal["pending", "approved", "denied", "expired", "withdrawn"]


class Approval(msgspec.Struct, tag="APPROVAL", tag_field="t", omit_defaults=True):
    """A two-person command waiting for (or past) a Supervisor's decision.

    Published on ``g/approval/<machine>/`` to every station, and in snapshots while pending.
    ``watch`` names the tags an approver should see trended; ``checks`` the interlock state
    when it was asked; ``reason`` is the requester's, ``note`` the approver's.
    """

    cmd_id: str
    machine: str
    name: str
    label: str
    args: dict[str, Scalar]
    requested_by: str
    requested_name: str
    station: str
    requested_at: int
    expires_at: int
    state: ApprovalState = "pending"
    reason: str = ""
    decided_by: str = ""
    decided_name: str = ""
    decided_at: int = 0
    note: str = ""
    area: str = ""
    checks: list[CheckState] = msgspec.field(default_factory=list)
    watch: list[str] = msgspec.field(default_factory=list)
    old: dict[str, Value] = msgspec.field(default_factory=dict)
    request_id: int = 0


class ApprovalDecision(msgspec.Struct, tag="APPROVE", tag_field="t", omit_defaults=True):
    """Station/CLI → hub: a Supervisor approves or denies; approving re-enters the secret."""

    token: str
    cmd_id: str
    approve: bool
    sign: Signature | None = None
    request_id: int = 0


AuthorityAction = Literal["take", "release", "request", "grant", "refuse", "override"]


class AuthorityAct(msgspec.Struct, tag="AUTH_ACT", tag_field="t", omit_defaults=True):
    """Station/CLI → hub: control authority over ``scope`` (``machine:<id>`` or ``area:<name>``).

    ``take`` a free scope; ``release`` your own; ``request`` a hand-over from the holder, who
    may ``grant`` or ``refuse``; a Supervisor may ``override``.
    """

    token: str
    scope: str
    act: AuthorityAction
    note: str = ""
    request_id: int = 0


class Authority(msgspec.Struct, tag="AUTHORITY", tag_field="t", omit_defaults=True):
    """Who holds control of a scope (published on ``g/authority/``, and in snapshots).

    ``holder`` empty: the scope is free again. ``asked_by``: a pending hand-over request.
    """

    scope: str
    holder: str = ""
    holder_name: str = ""
    holder_user: str = ""
    since: int = 0
    asked_by: str = ""
    asked_name: str = ""
    asked_at: int = 0
    request_id: int = 0


class AuditQuery(msgspec.Struct, tag="AUDIT_QUERY", tag_field="t", omit_defaults=True):
    """Station/CLI → hub: audit rows (``since``/``until`` ns, 0 = open), newest first."""

    token: str
    since: int = 0
    until: int = 0
    machine: str = ""
    user: str = ""
    kind: str = ""
    limit: int = 500
    request_id: int = 0


class AuditRecord(msgspec.Struct, omit_defaults=True):
    """One audit row; a signature shows ``name``, ``at`` and ``meaning`` wherever it is shown."""

    seq: int
    at: int
    kind: str
    user: str = ""
    name: str = ""
    station: str = ""
    machine: str = ""
    area: str = ""
    command: str = ""
    cmd_id: str = ""
    meaning: str = ""
    outcome: str = ""
    detail: str = ""


class AuditRows(msgspec.Struct, tag="AUDIT_ROWS", tag_field="t", omit_defaults=True):
    """Hub → the asker: audit rows, newest first; ``more`` when ``limit`` cut the list."""

    request_id: int
    rows: list[AuditRecord] = msgspec.field(default_factory=list)
    more: bool = False


# The anomaly detectors (the hub's anomaly service).

AnomalyVerdict = Literal["useful", "not_useful", "false_alarm"]


class TagLearned(msgspec.Struct, omit_defaults=True):
    """What one tag's detectors learned in one mode: its normal and its thresholds."""

    tag: str
    mode: str
    mean: float
    scale: float
    low: float
    high: float
    thresholds: dict[str, float] = msgspec.field(default_factory=dict)


class MachineLearned(msgspec.Struct, omit_defaults=True):
    """One machine's detectors: the mode now and whether it is still being learned.

    ``text`` says it for people ("learning normal: 14 min left"); then the modes learned, the
    per-tag baselines and the alerts raised so far.
    """

    machine: str
    mode: str
    learning: bool
    learning_left_s: float
    text: str
    learned_modes: list[str] = msgspec.field(default_factory=list)
    tags: list[TagLearned] = msgspec.field(default_factory=list)
    alerts_raised: dict[str, int] = msgspec.field(default_factory=dict)
    multivariate: dict[str, float] = msgspec.field(default_factory=dict)


class AnomalyStatusRequest(
    msgspec.Struct, tag="ANOMALY_STATUS_REQ", tag_field="t", omit_defaults=True
):
    """Station/CLI → hub: what the detectors of ``machine`` (empty: every machine) learned."""

    machine: str = ""
    request_id: int = 0


class AnomalyAlert(msgspec.Struct, omit_defaults=True):
    """One anomaly alert as the detector explained it (the alarm ``alarm`` carries its sentence).

    ``detector`` is ``level``, ``drift``… or ``multivariate`` (``tag`` ``-``); ``mode`` the
    machine's mode when it was raised; ``since`` the estimated onset and ``at`` the raise (ns);
    ``sigma`` how far from normal, ``confidence`` 0..1, ``signals`` the top contributors;
    ``active`` false once it cleared. ``verdict`` is the last feedback given on it, if any.
    """

    alarm: str
    machine: str
    detector: str
    tag: str
    at: int
    since: int
    message: str
    mode: str = ""
    sigma: float = 0.0
    confidence: float = 0.0
    signals: list[str] = msgspec.field(default_factory=list)
    active: bool = True
    verdict: str = ""


class AnomalyStatusReply(msgspec.Struct, tag="ANOMALY_STATUS", tag_field="t", omit_defaults=True):
    """Hub → the asker: one entry per machine (at most ``max_reply_items``).

    ``alerts``: the asked machines' active alerts and cleared ones raised in the last hour, newest
    first (at most ``max_reply_items``).
    """

    request_id: int
    machines: list[MachineLearned] = msgspec.field(default_factory=list)
    alerts: list[AnomalyAlert] = msgspec.field(default_factory=list)


class AnomalyFeedback(msgspec.Struct, tag="ANOMALY_FEEDBACK", tag_field="t", omit_defaults=True):
    """Station/CLI → hub: an operator's verdict on an anomaly alarm (``alarm`` is its id).

    Needs a session (``token``); stored with the alarm's occurrence and in the audit trail, and
    handed to that tag's detector, which only ever moves toward fewer false alerts. Answered
    ``GATE``.
    """

    token: str
    alarm: str
    verdict: AnomalyVerdict
    note: str = ""
    request_id: int = 0


Body = (
    Birth
    | Data
    | Death
    | Heartbeat
    | RebirthRequest
    | Command
    | CommandStatus
    | CommandQuery
    | SnapshotRequest
    | SnapshotItem
    | SnapshotEnd
    | HistoryRequest
    | HistoryReply
    | MachinesRequest
    | MachinesReply
    | ErrorReply
    | HubStatusRequest
    | HubStatus
    | AlarmStatus
    | AlarmAct
    | AlarmActReply
    | AlarmQuery
    | AlarmHistory
    | Login
    | Session
    | Logout
    | SessionPing
    | GateReply
    | CommandRequest
    | CommandCancel
    | Approval
    | ApprovalDecision
    | AuthorityAct
    | Authority
    | AuditQuery
    | AuditRows
    | AnomalyStatusRequest
    | AnomalyStatusReply
    | AnomalyFeedback
)
