"""What the station tells its listeners: low-rate, past-tense facts.

Every event is a frozen dataclass. Listeners are called on the station's dispatch thread, in
the order the events happened, never on the I/O thread (see :class:`copilot.station.Station`).
High-rate samples are never events: views pull them from the store on their own timer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from copilot.protocol import (
    AlarmActReply,
    AlarmHistory,
    AnomalyAlert,
    AuditRecord,
    CommandStatus,
    ErrorReply,
    HistoryReply,
    HubStatus,
    MachineLearned,
    Session,
)


class LinkState(enum.Enum):
    """The station's link to the hub."""

    CONNECTING = "connecting"
    SYNCING = "syncing"
    LIVE = "live"
    LOST = "lost"


LinkCause = Literal[
    "starting",  # the station has just started
    "syncing",  # joining or resynchronising: a snapshot is on its way
    "live",  # the snapshot is in and updates follow it
    "no_answer",  # nothing answers at the hub's address (down, wrong address, firewall)
    "key_refused",  # the hub does not admit this station's key (unknown or revoked)
    "handshake_failed",  # wrong hub key, or one side runs insecure and the other not
    "version_mismatch",  # the hub speaks another protocol version
    "hub_silent",  # the hub answered before but its heartbeats stopped
]
"""Why the link is in its state, as a closed set a UI can map to its own words or icons."""


@dataclass(frozen=True)
class LinkChanged:
    """The link to the hub changed state, with a sentence for the status bar.

    ``reason`` is for people ("the hub refused this key…"); ``cause`` is the same fact as a
    closed set for code (:data:`LinkCause`).
    """

    state: LinkState
    since: float
    reason: str
    cause: LinkCause = "syncing"


@dataclass(frozen=True)
class MachinesChanged:
    """Machines were born, died or were replaced by a snapshot."""

    machine_ids: tuple[str, ...]


@dataclass(frozen=True)
class CommandUpdated:
    """A command moved in its lifecycle."""

    status: CommandStatus


@dataclass(frozen=True)
class HistoryArrived:
    """The hub answered a history request: one event per request, with all of its parts.

    ``reply`` is the whole answer (the series of every part joined, a tag's pieces in time
    order) or the ``ERROR`` that answered the request (from the hub, or the station's own when
    the answer could not be completed: ``history_timeout``, ``history_incomplete``...).
    ``parts`` is how many parts arrived; ``truncated`` says the hub lowered ``max_points`` to
    keep the answer bounded.
    """

    request_id: int
    reply: HistoryReply | ErrorReply
    parts: int = 1
    truncated: bool = False


@dataclass(frozen=True)
class HubStatusArrived:
    """The hub's health, as ``copilot hub status`` shows it (per machine, per peer, drops).

    ``at`` is the wall-clock time it arrived. The station also keeps the latest one
    (:attr:`copilot.station.Station.hub_status`), so a status bar need not ask.
    """

    status: HubStatus
    at: float

    @property
    def drops(self) -> int:
        """Messages the hub dropped, all reasons together."""
        return sum(self.status.hub.drops.values())


@dataclass(frozen=True)
class WorkerFailed:
    """A worker's handler raised on one item; the worker goes on with the next.

    ``item`` is a short description of what was being handled, ``error`` the exception's type
    and message.
    """

    worker: str
    item: str
    error: str


@dataclass(frozen=True)
class AlarmsChanged:
    """Alarms changed: ``ids`` (every id after a snapshot; read them from the station)."""

    ids: tuple[str, ...]


@dataclass(frozen=True)
class AlarmActed:
    """The hub's answer to an alarm act: what it did (durably) and what it refused, and why.

    ``reply.refused`` maps an alarm id to one sentence; an act the link could not send comes
    back with every id refused.
    """

    reply: AlarmActReply


@dataclass(frozen=True)
class AlarmHistoryArrived:
    """Occurrences from the hub's alarm journal (answer to ``Station.query_alarms``)."""

    history: AlarmHistory


@dataclass(frozen=True)
class SessionChanged:
    """Someone logged in (``session``), or the session ended (``None``).

    ``reason``: ``login``, ``grants`` (same session, new grants), ``user``, ``idle``,
    ``switch``, ``hub_restarted``, ``ended``.
    """

    session: Session | None
    reason: str = ""


@dataclass(frozen=True)
class GateAnswered:
    """The hub's answer to a login, approval decision, withdrawal or authority act."""

    request_id: int
    ok: bool
    code: str
    message: str


@dataclass(frozen=True)
class ApprovalsChanged:
    """Two-person approvals were asked, decided or expired (read ``Station.approvals``)."""

    cmd_ids: tuple[str, ...]


@dataclass(frozen=True)
class AuthorityChanged:
    """Control authority of a scope changed (read ``Station.authority``)."""

    scopes: tuple[str, ...]


@dataclass(frozen=True)
class AuditArrived:
    """Rows of the hub's audit trail (answer to ``Station.query_audit``)."""

    request_id: int
    rows: tuple[AuditRecord, ...]
    more: bool = False
    refused: str = ""


@dataclass(frozen=True)
class AnomalyStatusArrived:
    """What the hub's detectors learned (answer to ``Station.query_anomaly_status``)."""

    request_id: int
    machines: tuple[MachineLearned, ...]
    alerts: tuple[AnomalyAlert, ...] = ()  # the alerts of the last hour, as explained


Event = (
    LinkChanged
    | MachinesChanged
    | CommandUpdated
    | HistoryArrived
    | HubStatusArrived
    | WorkerFailed
    | AlarmsChanged
    | AlarmActed
    | AlarmHistoryArrived
    | SessionChanged
    | GateAnswered
    | ApprovalsChanged
    | AuthorityChanged
    | AuditArrived
    | AnomalyStatusArrived
)
