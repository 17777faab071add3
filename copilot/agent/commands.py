"""How an agent handles a CMD: at most once, never after its time limit, journaled first.

Order (docs/protocol.md §9.4): wrong machine → REJECTED; a ``cmd_id`` the journal knows → its
stored status again, nothing re-run; past ``not_after`` → EXPIRED; unknown command or bad
arguments (:mod:`copilot.arguments`) → REJECTED; then the ``cmd_id`` is journaled as ACCEPTED
and the agent waits until that row is on disk — the one wait on the session's thread, needed
because the machine's handler runs on that thread (sessions and the machine code they drive are
single-threaded by contract) and must not start before the record that prevents a second run
exists. The time limit is checked again after that wait. EXECUTING and the outcome are
journaled without waiting. After a restart, commands found ACCEPTED or EXECUTING are reported
UNKNOWN once, never run again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import cast

from copilot.agent.outcome import REJECT_CAUSES, AgentStats, CommandHandler, CommandOutcome
from copilot.arguments import validate_args
from copilot.protocol import (
    ACTIVE_STATES,
    FINAL_STATES,
    Command,
    CommandSpec,
    CommandState,
    MachineInfo,
    Value,
)
from copilot.storage import CommandJournal, StorageError

log = logging.getLogger(__name__)

StatusSender = Callable[[str, CommandState, str, str, "dict[str, Value] | None"], None]

_STATES = ACTIVE_STATES | FINAL_STATES  # the lifecycle, listed once in copilot.protocol


def as_state(text: str) -> CommandState:
    """A journal's state text as a :data:`CommandState` (anything unexpected is UNKNOWN)."""
    return cast(CommandState, text) if text in _STATES else "UNKNOWN"


class CommandDesk:
    """Runs one machine's commands against its journal; statuses go out through ``send``."""

    def __init__(
        self,
        machine: MachineInfo,
        commands: dict[str, CommandSpec],
        handler: CommandHandler | None,
        journal: CommandJournal | None,
        stats: AgentStats,
        send: StatusSender,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.machine = machine
        self.commands = commands
        self.handler = handler
        self.journal = journal
        self.stats = stats
        self._send = send
        self._clock = clock
        self._chaos = os.environ.get("COPILOT_CHAOS", "")

    def report_unknown(self) -> None:
        """After a restart: every command that was in flight is UNKNOWN (reported once)."""
        if self.journal is None:
            return
        for entry in self.journal.in_flight():
            message = (
                f"{self.machine.name} stopped while running {entry.name}; "
                "whether it took effect is unknown. Check the machine before retrying."
            )
            self.journal.update(entry.cmd_id, "UNKNOWN", "agent_restart", message)
            self._send(entry.cmd_id, "UNKNOWN", "agent_restart", message, None)

    def query(self, cmd_id: str) -> None:
        """Answer a CMD_QUERY with the journal's latest status."""
        entry = self.journal.get(cmd_id) if self.journal else None
        if entry is None:
            self._send(cmd_id, "UNKNOWN", "not_found", "This machine never received it.", None)
            return
        observed = entry.observed if isinstance(entry.observed, dict) else None
        self._send(entry.cmd_id, as_state(entry.state), entry.cause, entry.message, observed)

    def run(self, cmd: Command) -> None:
        """Handle one CMD from the hub."""
        name = self.machine.name
        if cmd.machine != self.machine.id:
            self._send(cmd.cmd_id, "REJECTED", "wrong_machine", f"This is {name}.", None)
            return
        if self.journal is not None:
            seen = self.journal.get(cmd.cmd_id)
            if seen is not None:
                self.stats.duplicates += 1
                observed = seen.observed if isinstance(seen.observed, dict) else None
                self._send(cmd.cmd_id, as_state(seen.state), seen.cause, seen.message, observed)
                return
        args: dict[str, object] = dict(cmd.args)
        if self._clock() > cmd.not_after:
            message = f"{cmd.name} for {name} arrived after its time limit and was not run."
            self._refuse(cmd, args, "EXPIRED", "expired", message)
            return
        spec = self.commands.get(cmd.name)
        if spec is None or self.handler is None:
            message = f"{name} has no command named {cmd.name!r}."
            self._refuse(cmd, args, "REJECTED", "unknown_command", message)
            return
        problem = validate_args(spec, cmd.args)
        if problem is not None:
            self._refuse(cmd, args, "REJECTED", problem[0], f"{name}: {problem[1]}")
            return
        if self.journal is not None:
            try:
                if not self.journal.begin(cmd.cmd_id, cmd.machine, cmd.name, args, cmd.not_after):
                    self.stats.duplicates += 1  # another writer of this journal had it first
                    self.query(cmd.cmd_id)
                    return
            except StorageError as exc:
                self.stats.journal_errors += 1
                self.stats.commands_refused += 1
                log.error("%s: %s", self.machine.id, exc)
                self._send(cmd.cmd_id, "FAILED", "journal", f"{name}: {exc}", None)
                return
            if self._clock() > cmd.not_after:  # the durable write took us past the limit
                message = f"{cmd.name} for {name} reached its time limit and was not run."
                self.journal.update(cmd.cmd_id, "EXPIRED", "expired", message)
                self.stats.commands_refused += 1
                self._send(cmd.cmd_id, "EXPIRED", "expired", message, None)
                return
        self._send(cmd.cmd_id, "ACCEPTED", "", "", None)
        if self._chaos == "after_accept":
            os._exit(137)
        if self.journal is not None:
            self.journal.update(cmd.cmd_id, "EXECUTING")
        self._send(cmd.cmd_id, "EXECUTING", "", "", None)
        try:
            outcome = self.handler(cmd)
        except Exception as exc:  # the machine's own code failed: report it, keep serving
            log.exception("%s: command %s raised", self.machine.id, cmd.name)
            outcome = CommandOutcome(False, f"{name}: {cmd.name} failed: {exc}", "error")
        if self._chaos == "after_actuate":
            os._exit(137)
        state: CommandState
        if outcome.ok:
            state = "COMPLETED"
            self.stats.commands_executed += 1
        else:
            state = "REJECTED" if outcome.cause in REJECT_CAUSES else "FAILED"
            self.stats.commands_refused += 1
        observed = dict(outcome.observed) if outcome.observed is not None else None
        if self.journal is not None:
            self.journal.update(
                cmd.cmd_id,
                state,
                outcome.cause,
                outcome.message,
                dict(observed) if observed is not None else None,
            )
        self._send(cmd.cmd_id, state, outcome.cause, outcome.message, observed)

    def _refuse(
        self, cmd: Command, args: dict[str, object], state: CommandState, cause: str, message: str
    ) -> None:
        self.stats.commands_refused += 1
        if self.journal is not None:
            try:
                self.journal.begin(
                    cmd.cmd_id, cmd.machine, cmd.name, args, cmd.not_after, state, cause, message
                )
            except StorageError as exc:  # the refusal still goes out; nothing was run
                self.stats.journal_errors += 1
                log.error("%s: %s", self.machine.id, exc)
        self._send(cmd.cmd_id, state, cause, message, None)
