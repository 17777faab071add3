"""Command routing service: commands go to machines that are online, never queued.

A ``CMD`` is refused at once (REJECTED/EXPIRED, with a sentence) when its machine is unknown,
offline, unreachable or the command already expired; otherwise it is sent to the session that
speaks for the machine, and the hub remembers that session (key and epoch) as the command's
owner. A ``CMD_STATUS`` is accepted only from that owner — or, as ``UNKNOWN`` only, from a
newer session of the same key (an agent that restarted mid-command and cannot know more) —
else it is dropped as ``status_not_owner``. A machine that goes offline leaves its active
commands ``UNKNOWN``. Records are pruned by age and count on every tick.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from copilot.hub.events import (
    CommandRequested,
    CommandSettled,
    Dropped,
    Event,
    MachineOffline,
)
from copilot.hub.service import Sender, Service
from copilot.protocol import (
    ACTIVE_STATES,
    FINAL_STATES,
    TOPIC_COMMAND,
    Body,
    Command,
    CommandQuery,
    CommandStatus,
    ErrorReply,
    command_topic,
)
from copilot.settings import HubSettings

PRUNE_EVERY_S = 5.0


@dataclass
class CommandRecord:
    """A command the hub routed, who asked for it, and which session owns it.

    ``stamp`` holds what the hub adds to every status it relays (the command's name, who asked,
    who approved, the tier, the request's id): an agent's status never names the person.
    """

    cmd: Command
    requester: bytes
    status: CommandStatus
    owner_key: str | None = None
    owner_epoch: int = 0
    updated: float = 0.0
    stamp: dict[str, str | int] | None = None


class CommandService(Service):
    """Routes ``CMD`` to machines, relays their ``CMD_STATUS``, answers ``CMD_QUERY``."""

    name = "commands"
    handles = (Command, CommandStatus, CommandQuery)
    topics = (TOPIC_COMMAND,)

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        self.commands: dict[str, CommandRecord] = {}
        self.routed = 0
        self.refused = 0
        self._next_prune = 0.0
        self.gate_only = settings.gate  # a station's own CMD is refused: the gate sends them
        # The gate's answer for a command it holds before dispatch (None: not the gate's).
        self.waiting: Callable[[str], CommandStatus | None] = lambda cmd_id: None

    # -- wiring -------------------------------------------------------------------------------

    def handle(self, sender: Sender, body: Body) -> Sequence[Event]:
        """One message of the three kinds this service handles."""
        match body:
            case Command():
                return self._on_command(sender, body)
            case CommandStatus():
                return self._on_status(sender, body)
            case CommandQuery():
                return self._on_query(sender, body)
            case _:
                return ()

    def on_event(self, event: Event) -> None:
        """A machine going offline leaves its active commands UNKNOWN."""
        if isinstance(event, MachineOffline):
            self._lost(event)

    def tick(self, now: float) -> None:
        """Forget settled commands older than the retention, and the oldest past the count."""
        if now < self._next_prune and len(self.commands) <= self.settings.max_commands:
            return
        self._next_prune = now + PRUNE_EVERY_S
        horizon = time.time() - self.settings.command_retention_s
        stale = [
            cmd_id
            for cmd_id, record in self.commands.items()
            if record.updated < horizon and record.status.state in FINAL_STATES
        ]
        for cmd_id in stale:
            del self.commands[cmd_id]
        excess = len(self.commands) - self.settings.max_commands
        if excess > 0:
            for cmd_id in list(self.commands)[:excess]:
                del self.commands[cmd_id]

    def status(self) -> dict[str, int]:
        """Commands held, routed and refused."""
        return {"held": len(self.commands), "routed": self.routed, "refused": self.refused}

    # -- handlers -----------------------------------------------------------------------------

    def _set_status(self, record: CommandRecord, status: CommandStatus) -> CommandSettled:
        if record.stamp:
            status = msgspec.structs.replace(status, **record.stamp)
        record.status = status
        record.updated = time.time()
        if status.machine in self.plant.machines:  # never a topic named by a requester's typo
            self.publisher.publish(command_topic(status.machine), status)
        if record.requester:
            self.publisher.reply(record.requester, status)
        return CommandSettled(status)

    def _lost(self, event: MachineOffline) -> None:
        for record in list(self.commands.values()):
            if record.cmd.machine == event.machine and record.status.state in ACTIVE_STATES:
                state = self.plant.machines.get(event.machine)
                name = state.name if state is not None else event.machine
                self._set_status(
                    record,
                    CommandStatus(
                        cmd_id=record.cmd.cmd_id,
                        machine=event.machine,
                        state="UNKNOWN",
                        cause="offline",
                        message=f"{name} went offline before reporting the result.",
                        at=time.time_ns(),
                    ),
                )

    def remember(
        self, cmd_id: str, machine: str, name: str, requester: bytes, status: CommandStatus
    ) -> None:
        """Keep a command the gate refused, so that its id is answered, never reused."""
        if cmd_id in self.commands:
            return
        self.commands[cmd_id] = CommandRecord(
            cmd=Command(cmd_id=cmd_id, machine=machine, name=name, not_after=0),
            requester=requester,
            status=status,
            updated=time.time(),
        )

    def _on_command(self, sender: Sender, cmd: Command) -> list[Event]:
        if self.gate_only:
            self.refused += 1
            self.publisher.reply(
                sender.identity,
                CommandStatus(
                    cmd_id=cmd.cmd_id[:128],
                    machine=cmd.machine[:64],
                    state="REJECTED",
                    cause="not_authenticated",
                    message="Commands go through the gate: log in and send CMD_REQ "
                    "(docs/protocol.md §14); nothing was sent.",
                    at=time.time_ns(),
                ),
            )
            return [Dropped("cmd_without_gate")]
        return self.route(cmd, sender.identity)

    def route(
        self, cmd: Command, requester: bytes, stamp: dict[str, str | int] | None = None
    ) -> list[Event]:
        """Send ``cmd`` to its machine now, or refuse it (offline, expired…): never queued.

        The gate calls this once a request passed every check; ``stamp`` is added to every
        status of the command that the hub relays.
        """
        limit = self.settings.max_string_len
        if len(cmd.cmd_id) > 128 or len(cmd.machine) > 64 or len(cmd.name) > limit:
            self.publisher.reply(
                requester,
                ErrorReply(code="string_too_long", message="Command id, machine or name too long."),
            )
            return [Dropped("string_too_long")]
        existing = self.commands.get(cmd.cmd_id)
        if existing is not None:
            self.publisher.reply(requester, existing.status)
            return []
        now = time.time_ns()
        record = CommandRecord(
            cmd=cmd,
            requester=requester,
            status=CommandStatus(cmd_id=cmd.cmd_id, machine=cmd.machine, state="SENT", at=now),
            updated=time.time(),
            stamp=stamp,
        )
        self.commands[cmd.cmd_id] = record
        events: list[Event] = [CommandRequested(cmd, requester)]
        state = self.plant.machines.get(cmd.machine)

        def refuse(state_: str, cause: str, message: str) -> list[Event]:
            self.refused += 1
            status = CommandStatus(
                cmd_id=cmd.cmd_id,
                machine=cmd.machine,
                state=state_,  # type: ignore[arg-type]
                cause=cause,
                message=message,
                at=time.time_ns(),
            )
            return [*events, self._set_status(record, status)]

        if state is None:
            known = ", ".join(sorted(self.plant.machines)[:8]) or "none yet"
            return refuse(
                "REJECTED",
                "unknown_machine",
                f"No machine named {cmd.machine!r} is known to the hub (known: {known}).",
            )
        if not state.online:
            since = time.strftime("%H:%M:%S", time.localtime(state.since))
            return refuse(
                "REJECTED",
                "offline",
                f"{state.name} is offline since {since}; the command was not sent.",
            )
        if now > cmd.not_after:
            return refuse(
                "EXPIRED",
                "expired",
                f"{cmd.name} for {state.name} expired before it could be sent.",
            )
        if not self.publisher.reply(state.identity, cmd):
            return refuse(
                "REJECTED", "offline", f"{state.name} cannot be reached; nothing was sent."
            )
        record.owner_key, record.owner_epoch = state.user, state.epoch
        self.routed += 1
        events.append(self._set_status(record, record.status))
        return events

    def _on_status(self, sender: Sender, status: CommandStatus) -> list[Event]:
        header = sender.header
        state = self.plant.machines.get(header.src)
        if state is None or status.machine != header.src:
            return [Dropped("bad_status", header.src if state is not None else "")]
        events: list[Event] = []
        if state.epoch == header.epoch:
            _, heard = self.plant.heard(sender.identity, header)
            events.extend(heard)
            if any(isinstance(e, Dropped) for e in heard):
                return events
        record = self.commands.get(status.cmd_id)
        if not self._owned(record, sender, state.epoch, status):
            state.drops["status_not_owner"] += 1
            return [*events, Dropped("status_not_owner", state.birth.machine.id)]
        if record is None:
            record = CommandRecord(
                cmd=Command(cmd_id=status.cmd_id, machine=status.machine, name="?", not_after=0),
                requester=b"",
                status=status,
                owner_key=sender.key,
                owner_epoch=header.epoch,
            )
            self.commands[status.cmd_id] = record
        events.append(self._set_status(record, status))
        return events

    @staticmethod
    def _owned(
        record: CommandRecord | None, sender: Sender, current_epoch: int, status: CommandStatus
    ) -> bool:
        epoch = sender.header.epoch
        if record is None:  # e.g. the hub restarted: only the machine's current session
            return epoch == current_epoch
        if record.owner_key is None or record.owner_key != sender.key:
            return False
        if epoch == record.owner_epoch:
            return True
        # A newer session of the same key may only say it does not know (agent restarted).
        return epoch == current_epoch > record.owner_epoch and status.state == "UNKNOWN"

    def _on_query(self, sender: Sender, query: CommandQuery) -> list[Event]:
        waiting = self.waiting(query.cmd_id[:128])
        if waiting is not None:  # still with the gate (being checked, awaiting approval)
            self.publisher.reply(sender.identity, waiting)
            return []
        record = self.commands.get(query.cmd_id)
        if record is not None:
            record.requester = sender.identity
            self.publisher.reply(sender.identity, record.status)
            state = self.plant.machines.get(record.cmd.machine)
            if record.status.state == "UNKNOWN" and state is not None and state.online:
                # The machine's journal knows better; its current session answers for it.
                record.owner_key, record.owner_epoch = state.user, state.epoch
                self.publisher.reply(state.identity, query)
            return []
        self.publisher.reply(
            sender.identity,
            CommandStatus(
                cmd_id=query.cmd_id[:128],
                machine=query.machine[:64],
                state="UNKNOWN",
                cause="not_found",
                message="The hub has no record of this command.",
                at=time.time_ns(),
            ),
        )
        return []
