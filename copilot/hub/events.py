"""Past-tense facts the plant state and the services emit, for the server and the services.

The plant state (:mod:`copilot.hub.plant`) returns these from its methods instead of calling
anyone; the server acts on the ones that concern the wire (publishing, asking for a rebirth,
counting a drop) and hands every one of them to the services. Samples travel as numpy arrays,
never as one Python object per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from copilot.protocol import Birth, Command, CommandStatus


@dataclass(frozen=True, slots=True)
class MachineBorn:
    """A machine started a session (``rebirth``: the hub knew the machine before)."""

    machine: str
    epoch: int
    seq: int
    birth: Birth
    raw: bytes
    rebirth: bool


@dataclass(frozen=True, slots=True)
class MachineResumed:
    """A machine the hub had marked offline spoke again in the same session."""

    machine: str
    epoch: int


@dataclass(frozen=True, slots=True)
class MachineOffline:
    """A machine's session ended (``shutdown``), timed out, or its key was revoked."""

    machine: str
    epoch: int
    seq: int
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class SamplesIngested:
    """A DATA batch was applied; ``raw`` is the body as stations should receive it.

    ``times`` are float64 seconds, ``qualities`` is ``None`` when every sample is Good.
    On the hub ``raw`` is often a ``memoryview`` of the received frame (no copy was made);
    it stays valid as long as it is held.
    """

    machine: str
    epoch: int
    seq: int
    aliases: npt.NDArray[np.int64]
    times: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]
    qualities: npt.NDArray[np.uint8] | None
    raw: bytes | memoryview


@dataclass(frozen=True, slots=True)
class SequenceGapped:
    """Messages of a session were lost between two sequence numbers."""

    machine: str
    expected: int
    got: int


@dataclass(frozen=True, slots=True)
class RebirthRequested:
    """The hub wants the peer at ``identity`` to send its BIRTH again."""

    identity: bytes
    machine: str
    reason: str


@dataclass(frozen=True, slots=True)
class Dropped:
    """``count`` messages (or samples) were refused for ``reason``; ``machine`` if known."""

    reason: str
    machine: str = ""
    count: int = 1
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CommandRequested:
    """A station asked for a command (before the hub decided what to do with it)."""

    cmd: Command
    requester: bytes


@dataclass(frozen=True, slots=True)
class CommandSettled:
    """A command's status changed (routed, refused, reported by its machine, or lost)."""

    status: CommandStatus


Event = (
    MachineBorn
    | MachineResumed
    | MachineOffline
    | SamplesIngested
    | SequenceGapped
    | RebirthRequested
    | Dropped
    | CommandRequested
    | CommandSettled
)
