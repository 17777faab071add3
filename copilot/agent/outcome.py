"""What a machine's command handler returns, and the counters an agent keeps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from copilot.protocol import Command, Value

REJECT_CAUSES = frozenset(
    {"interlock", "permissive", "bad_state", "out_of_range", "unknown_command", "bad_args"}
)


@dataclass
class CommandOutcome:
    """What a machine reports after trying a command.

    ``cause`` is empty on success; a cause in :data:`REJECT_CAUSES` means the machine refused
    before acting (REJECTED), anything else that it tried and failed (FAILED).
    """

    ok: bool
    message: str = ""
    cause: str = ""
    observed: dict[str, Value] | None = None


CommandHandler = Callable[[Command], CommandOutcome]


@dataclass
class AgentStats:
    """Counters a status line or a test can read (written by the session's thread only).

    ``samples_dropped`` counts samples the agent had to give up: the oldest of a backlog past
    its bound (``samples_held`` is what is waiting now), or a single sample too large for any
    DATA message. Nothing else is ever dropped without being counted here and logged.
    """

    sent_messages: int = 0
    sent_samples: int = 0
    sent_data_messages: int = 0
    births: int = 0
    backpressure_events: int = 0
    samples_dropped: int = 0
    samples_too_large: int = 0
    samples_held: int = 0
    largest_backlog: int = 0
    commands_executed: int = 0
    commands_refused: int = 0
    duplicates: int = 0
    malformed: int = 0
    redials: int = 0
    journal_errors: int = 0

    @property
    def samples_conflated(self) -> int:
        """Former name of :attr:`samples_dropped` (the backlog no longer conflates everything)."""
        return self.samples_dropped
