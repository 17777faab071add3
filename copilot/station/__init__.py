"""The Qt-free station core: a client of one hub that keeps a picture of the plant.

``link`` owns the sockets and the I/O thread, ``sync`` keeps the picture in step with the hub,
``commands`` sends commands and orders their statuses, ``history`` joins history answers that
come in parts, ``store`` holds what views read, ``events`` lists what listeners hear (on a
dispatch thread, never the I/O thread) and ``worker`` is the thread-with-an-inbox pattern for
audio, speech and text-to-speech. ``alarms`` holds the hub's alarms as this station knows them.
``frames`` lets the views' frames come before applying updates (the I/O thread holds off).
"""

from copilot.station.alarms import StationAlarms
from copilot.station.events import (
    AlarmActed,
    AlarmHistoryArrived,
    AlarmsChanged,
    AnomalyStatusArrived,
    ApprovalsChanged,
    AuditArrived,
    AuthorityChanged,
    CommandUpdated,
    Event,
    GateAnswered,
    HistoryArrived,
    HubStatusArrived,
    LinkCause,
    LinkChanged,
    LinkState,
    MachinesChanged,
    SessionChanged,
    WorkerFailed,
)
from copilot.station.frames import FrameGate
from copilot.station.gate import StationGate
from copilot.station.station import Station
from copilot.station.stats import StationStats
from copilot.station.store import MachineSnapshot, Reading, StationStore
from copilot.station.worker import Worker, WorkerStats

__all__ = [
    "AlarmActed",
    "AlarmHistoryArrived",
    "AlarmsChanged",
    "AnomalyStatusArrived",
    "ApprovalsChanged",
    "AuditArrived",
    "AuthorityChanged",
    "CommandUpdated",
    "Event",
    "FrameGate",
    "GateAnswered",
    "HistoryArrived",
    "HubStatusArrived",
    "LinkCause",
    "LinkChanged",
    "LinkState",
    "MachineSnapshot",
    "MachinesChanged",
    "Reading",
    "SessionChanged",
    "Station",
    "StationAlarms",
    "StationGate",
    "StationStats",
    "StationStore",
    "Worker",
    "WorkerFailed",
    "WorkerStats",
]
