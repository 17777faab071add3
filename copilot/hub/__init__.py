"""The hub: the plant's single source of truth for machine state.

:mod:`~copilot.hub.server` owns the sockets and decides what each key may say;
:mod:`~copilot.hub.plant` keeps sessions, tag state, rings and liveness without sockets and
emits :mod:`~copilot.hub.events`; every subsystem — :mod:`~copilot.hub.history` and
:mod:`~copilot.hub.commands` first — is a :class:`~copilot.hub.service.Service`.
"""

from copilot.hub.claims import AllowListBindings, Bindings, ClaimBook
from copilot.hub.commands import CommandRecord, CommandService
from copilot.hub.events import (
    CommandRequested,
    CommandSettled,
    Dropped,
    Event,
    MachineBorn,
    MachineOffline,
    MachineResumed,
    RebirthRequested,
    SamplesIngested,
    SequenceGapped,
)
from copilot.hub.history import HistoryService
from copilot.hub.peers import Peer, PeerBook
from copilot.hub.plant import MachineState, PlantState
from copilot.hub.server import Hub, HubStats, default_services
from copilot.hub.service import Publisher, Sender, Service, ServiceHost

__all__ = [
    "AllowListBindings",
    "Bindings",
    "ClaimBook",
    "CommandRecord",
    "CommandRequested",
    "CommandService",
    "CommandSettled",
    "Dropped",
    "Event",
    "HistoryService",
    "Hub",
    "HubStats",
    "MachineBorn",
    "MachineOffline",
    "MachineResumed",
    "MachineState",
    "Peer",
    "PeerBook",
    "PlantState",
    "Publisher",
    "RebirthRequested",
    "SamplesIngested",
    "Sender",
    "SequenceGapped",
    "Service",
    "ServiceHost",
    "default_services",
]
