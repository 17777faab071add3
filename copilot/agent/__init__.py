"""The machine-side SDK: dial out to the hub, announce a machine, stream its tags, obey commands.

An :class:`AgentSession` (``session``) is one machine's session with the hub over one DEALER
socket; its samples wait in a bounded :class:`Backlog` (``backlog``) sent in DATA messages under
the hub's size limit; epochs only move forward (``epoch``); commands run at most once through
the journal (``commands``); an :class:`AgentRunner` (``runner``) drives one or many sessions
from a single thread. This module only re-exports.
"""

from copilot.agent.backlog import Backlog, _Pending
from copilot.agent.commands import CommandDesk
from copilot.agent.epoch import EpochClock
from copilot.agent.outcome import REJECT_CAUSES, AgentStats, CommandHandler, CommandOutcome
from copilot.agent.runner import AgentRunner
from copilot.agent.session import AgentSession
from copilot.arguments import validate_args

__all__ = [
    "REJECT_CAUSES",
    "AgentRunner",
    "AgentSession",
    "AgentStats",
    "Backlog",
    "CommandDesk",
    "CommandHandler",
    "CommandOutcome",
    "EpochClock",
    "_Pending",
    "validate_args",
]
