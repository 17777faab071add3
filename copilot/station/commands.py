"""Commands from this station: build and send them, follow their statuses in order.

:class:`Commands` turns a call into a :class:`~copilot.protocol.Command`, records it as ``SENT``
in the store at once (so a view shows it before the hub answers) and hands it to the I/O thread.
Statuses arrive twice (the hub's reply and the update stream) and from clocks that disagree,
so one ranking decides (:data:`copilot.protocol.STATE_RANK`, the lifecycle listed once): a
status that repeats the known one or ranks below it changes nothing.
A command the link cannot send becomes ``REJECTED`` (``hub_unreachable``) at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from copilot.protocol import STATE_RANK, Command, CommandQuery, CommandStatus, Origin, Scalar
from copilot.station.events import CommandUpdated, Event
from copilot.station.store import StationStore


class Commands:
    """Sending commands and applying their statuses (statuses on the I/O thread only)."""

    def __init__(
        self,
        store: StationStore,
        submit: Callable[[Command | CommandQuery], None],
        emit: Callable[[Event], None],
    ) -> None:
        self._store = store
        self._submit = submit
        self._emit = emit

    # -- any thread -------------------------------------------------------------------------------

    def send(
        self,
        machine: str,
        name: str,
        args: dict[str, Scalar] | None,
        *,
        ttl_s: float,
        origin: Origin,
        operator: str,
        cmd_id: str | None,
    ) -> str:
        """Build the command, record it as SENT and queue it for the I/O thread."""
        now = time.time_ns()
        cmd = Command(
            cmd_id=cmd_id or uuid.uuid4().hex,
            machine=machine,
            name=name,
            args=args or {},
            not_after=now + int(ttl_s * 1e9),
            issued_at=now,
            origin=origin,
            operator=operator,
        )
        if cmd.cmd_id not in self._store.commands:
            self._store.apply_command_status(
                CommandStatus(cmd_id=cmd.cmd_id, machine=machine, state="SENT", at=now)
            )
        self._submit(cmd)
        return cmd.cmd_id

    def query(self, cmd_id: str) -> None:
        """Ask the hub where a command stands (after a reconnect: ask, never resend)."""
        self._submit(CommandQuery(cmd_id=cmd_id))

    # -- I/O thread -------------------------------------------------------------------------------

    def unsent(self, cmd: Command) -> None:
        """The link could not take ``cmd``: it is rejected here, never silently lost."""
        self.apply(
            CommandStatus(
                cmd_id=cmd.cmd_id,
                machine=cmd.machine,
                state="REJECTED",
                cause="hub_unreachable",
                message="The hub cannot be reached; the command was not sent.",
                at=time.time_ns(),
            )
        )

    def apply(self, status: CommandStatus) -> bool:
        """Record a status unless it repeats or goes behind the known one; whether it moved."""
        known = self._store.commands.get(status.cmd_id)
        if known is not None and (
            known == status or STATE_RANK[status.state] < STATE_RANK[known.state]
        ):
            return False
        self._store.apply_command_status(status)
        self._emit(CommandUpdated(status))
        return True
