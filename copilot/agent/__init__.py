"""The machine-side SDK: dial out to the hub, announce a machine, stream its tags, obey commands.

An :class:`AgentSession` is one machine's session with the hub over one DEALER socket: BIRTH
first (with a new epoch), then batched DATA, heartbeats when idle, DEATH on a clean stop.
Commands are journaled durably before the machine acts (:class:`copilot.storage.CommandJournal`),
so each ``cmd_id`` runs at most once and never after its ``not_after``; after a crash an
in-flight command is reported UNKNOWN, never re-run. When the hub does not keep up the session
holds samples, conflates them to the latest per tag past a bound, and says so.

An :class:`AgentRunner` drives one or many sessions from a single thread (the simulator runs
hundreds this way); sessions are never touched from another thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from copilot.bus import Bus, HandshakeWatch, Link, Poller, hub_endpoints
from copilot.proc import run_in_thread
from copilot.protocol import (
    ArgSpec,
    Birth,
    Codec,
    Command,
    CommandQuery,
    CommandSpec,
    CommandState,
    CommandStatus,
    Data,
    Death,
    Header,
    Heartbeat,
    MachineInfo,
    RebirthRequest,
    Scalar,
    TagSpec,
    Value,
    valid_id,
)
from copilot.protocol.columns import pack, unpack
from copilot.storage import CommandJournal

log = logging.getLogger(__name__)

REJECT_CAUSES = frozenset(
    {"interlock", "permissive", "bad_state", "out_of_range", "unknown_command", "bad_args"}
)
MAX_PENDING_SAMPLES = 200_000


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
    """Counters a status line or a test can read."""

    sent_messages: int = 0
    sent_samples: int = 0
    births: int = 0
    backpressure_events: int = 0
    samples_conflated: int = 0
    commands_executed: int = 0
    commands_refused: int = 0
    duplicates: int = 0
    malformed: int = 0


def _new_epoch(previous: int = 0) -> int:
    return max(time.time_ns(), previous + 1)


def validate_args(spec: CommandSpec, args: dict[str, Scalar]) -> tuple[str, str] | None:
    """Check arguments against the BIRTH schema; ``(cause, sentence)`` if they do not fit."""
    declared = {a.name: a for a in spec.args}
    for name in args:
        if name not in declared:
            return "bad_args", f"{spec.name} takes no argument named {name!r}."
    for arg in spec.args:
        if arg.name not in args:
            return "bad_args", f"{spec.name} needs the argument {arg.name!r}."
        problem = _check_arg(arg, args[arg.name])
        if problem:
            return problem
    return None


def _check_arg(arg: ArgSpec, value: Scalar) -> tuple[str, str] | None:
    unit = f" {arg.unit}" if arg.unit else ""
    if arg.type in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "bad_args", f"{arg.name} must be a number, not {value!r}."
        if arg.type == "int" and not float(value).is_integer():
            return "bad_args", f"{arg.name} must be a whole number, not {value!r}."
        if arg.range is not None and not arg.range.contains(float(value)):
            return (
                "out_of_range",
                f"{arg.name} {value}{unit} is outside {arg.range.lo:g}–{arg.range.hi:g}{unit}.",
            )
    elif arg.type == "bool":
        if not isinstance(value, bool):
            return "bad_args", f"{arg.name} must be true or false, not {value!r}."
    elif arg.type in ("enum", "str"):
        if not isinstance(value, str):
            return "bad_args", f"{arg.name} must be text, not {value!r}."
        if arg.choices is not None and value not in arg.choices:
            return "out_of_range", f"{arg.name} must be one of {', '.join(arg.choices)}."
    return None


class _Pending:
    """Samples waiting to be sent, as column chunks (one chunk per publish call)."""

    def __init__(self) -> None:
        self.aliases: list[npt.NDArray[np.uint32]] = []
        self.values: list[npt.NDArray[np.float64]] = []
        self.ts: list[npt.NDArray[np.int64]] = []
        self.quality: list[npt.NDArray[np.uint8] | None] = []
        self.text: list[dict[int, str]] = []
        self.count = 0

    def add(
        self,
        aliases: npt.NDArray[np.uint32],
        values: npt.NDArray[np.float64],
        ts: npt.NDArray[np.int64],
        quality: npt.NDArray[np.uint8] | None,
        text: dict[int, str],
    ) -> None:
        self.aliases.append(aliases)
        self.values.append(values)
        self.ts.append(ts)
        self.quality.append(quality)
        self.text.append(text)
        self.count += aliases.shape[0]

    def data(self) -> Data:
        """All pending samples as one DATA body."""
        aliases = np.concatenate(self.aliases)
        quality = None
        if any(q is not None for q in self.quality):
            quality = np.concatenate(
                [
                    q if q is not None else np.zeros(a.shape[0], np.uint8)
                    for q, a in zip(self.quality, self.aliases, strict=True)
                ]
            )
        text: dict[int, str] = {}
        offset = 0
        for chunk, a in zip(self.text, self.aliases, strict=True):
            text.update({offset + i: v for i, v in chunk.items()})
            offset += a.shape[0]
        return pack(aliases, np.concatenate(self.values), np.concatenate(self.ts), quality, text)

    def conflate(self) -> int:
        """Keep only the newest sample of each tag; return how many were dropped."""
        body = self.data()
        aliases, values, ts, quality = unpack(body)
        last = np.unique(aliases[::-1], return_index=True)[1]
        keep = np.sort(aliases.shape[0] - 1 - last)
        kept = set(keep.tolist())
        text = {int(np.searchsorted(keep, i)): v for i, v in body.text.items() if i in kept}
        dropped = self.count - keep.shape[0]
        self.aliases, self.values, self.ts, self.quality, self.text = [], [], [], [], []
        self.count = 0
        self.add(
            aliases[keep].astype(np.uint32),
            values[keep],
            ts[keep],
            quality[keep] if quality is not None else None,
            text,
        )
        return int(dropped)


class AgentSession:
    """One machine's session with the hub. Not thread-safe: one thread drives it."""

    def __init__(
        self,
        bus: Bus,
        hub: str,
        machine: MachineInfo,
        tags: Sequence[TagSpec],
        commands: Sequence[CommandSpec] = (),
        handler: CommandHandler | None = None,
        journal_path: Path | None = None,
        heartbeat_ms: int = 1000,
        sndhwm: int = 10_000,
        server_key: bytes | None = None,
    ) -> None:
        if not valid_id(machine.id):
            raise ValueError(
                f"Machine id {machine.id!r} must be lower-case letters, digits, '-' or '_'."
            )
        names = [t.name for t in tags]
        aliases = [t.alias for t in tags]
        if len(set(names)) != len(names) or len(set(aliases)) != len(aliases):
            raise ValueError(f"Tags of {machine.id} must have unique names and aliases.")
        self.bus = bus
        self.machine = machine
        self.tags = list(tags)
        self.commands = {c.name: c for c in commands}
        self.handler = handler
        self.heartbeat_s = heartbeat_ms / 1000
        self._alias = {t.name: t.alias for t in tags}
        self._codec = Codec()
        self._router_ep, _ = hub_endpoints(hub)
        self.link: Link = bus.dealer(self._router_ep, sndhwm=sndhwm, server_key=server_key)
        self.watch: HandshakeWatch | None = (
            None if bus.security.insecure else bus.watch(self.link, f"agent {machine.id}")
        )
        self.journal = CommandJournal(journal_path) if journal_path else None
        self.stats = AgentStats()
        self.epoch = 0
        self.seq = 0
        self.hub_epoch = 0
        self.last_sent = 0.0
        self.last_heard = 0.0
        self._pending = _Pending()
        self._backpressured = False
        self._chaos = os.environ.get("COPILOT_CHAOS", "")
        self._unknown_reported = False
        self._needs_birth = False
        self.silenced = False  # fault injection: behave as a dead process (send/answer nothing)

    # -- sending ------------------------------------------------------------------------------

    def _header(self) -> Header:
        header = Header(src=self.machine.id, epoch=self.epoch, seq=self.seq, ts=time.time_ns())
        self.seq += 1
        return header

    def _send(self, body: Birth | Data | Death | Heartbeat | CommandStatus, block: bool) -> bool:
        if self.silenced:
            return False
        frames = self._codec.frames(self._header(), body)
        if not self.link.send(frames, block=block):
            self.seq -= 1
            return False
        self.stats.sent_messages += 1
        self.last_sent = time.monotonic()
        return True

    def birth(self) -> None:
        """Start a new session: new epoch, seq 0, BIRTH (values follow with the next DATA)."""
        self.epoch = _new_epoch(self.epoch)
        self.seq = 0
        birth = Birth(
            machine=self.machine,
            tags=self.tags,
            commands=list(self.commands.values()),
            heartbeat_ms=int(self.heartbeat_s * 1000),
        )
        if not self._send(birth, block=False):
            self._needs_birth = True
            return
        self._needs_birth = False
        self.stats.births += 1
        if not self._unknown_reported:
            self._unknown_reported = True
            self._report_unknown()

    def publish(
        self,
        values: dict[str, Value],
        ts: int | None = None,
        quality: dict[str, int] | None = None,
    ) -> None:
        """Queue samples (tag name → value, all at ``ts`` ns); :meth:`flush` sends them."""
        stamp = time.time_ns() if ts is None else ts
        n = len(values)
        aliases = np.empty(n, dtype=np.uint32)
        numbers = np.empty(n, dtype=np.float64)
        text: dict[int, str] = {}
        for i, (name, value) in enumerate(values.items()):
            alias = self._alias.get(name)
            if alias is None:
                raise KeyError(f"{self.machine.id} has no tag named {name!r} in its BIRTH.")
            aliases[i] = alias
            if value is None:
                numbers[i] = np.nan
            elif isinstance(value, str):
                numbers[i] = np.nan
                text[i] = value
            else:
                numbers[i] = value
        q = None
        if quality:
            q = np.zeros(n, dtype=np.uint8)
            for i, name in enumerate(values):
                q[i] = quality.get(name, 0)
        self._pending.add(aliases, numbers, np.full(n, stamp, dtype=np.int64), q, text)

    def publish_columns(
        self,
        aliases: npt.NDArray[np.uint32],
        values: npt.NDArray[np.float64],
        ts: npt.NDArray[np.int64],
        quality: npt.NDArray[np.uint8] | None = None,
    ) -> None:
        """Queue numeric samples already in column form (the fast path for many tags)."""
        self._pending.add(aliases, values, ts, quality, {})

    @property
    def pending_samples(self) -> int:
        """Samples queued but not yet accepted by the socket."""
        return self._pending.count

    def flush(self) -> bool:
        """Send queued samples as one DATA batch; ``False`` (and keep them) under backpressure."""
        pending = self._pending
        if self.silenced:
            self._pending = _Pending()
            return True
        if not pending.count or self.epoch == 0 or self._needs_birth:
            return True
        body = pending.data()
        if self._send(body, block=False):
            if self._backpressured:
                log.warning("%s: hub is accepting data again.", self.machine.id)
                self._backpressured = False
            self.stats.sent_samples += pending.count
            self._pending = _Pending()
            return True
        if len(pending.aliases) > 1:  # keep one merged chunk, not thousands of small ones
            count = pending.count
            self._pending = _Pending()
            cols = unpack(body)
            self._pending.add(cols[0].astype(np.uint32), cols[1], cols[2], cols[3], body.text)
            assert self._pending.count == count
            pending = self._pending
        if not self._backpressured:
            self._backpressured = True
            self.stats.backpressure_events += 1
            log.warning(
                "%s: cannot send to the hub (not connected, or its queue is full); "
                "holding %d samples.",
                self.machine.id,
                pending.count,
            )
        if pending.count > MAX_PENDING_SAMPLES:
            dropped = pending.conflate()
            self.stats.samples_conflated += dropped
            log.warning(
                "%s: still no room after %d samples; kept the latest value of each tag "
                "(%d older samples conflated).",
                self.machine.id,
                MAX_PENDING_SAMPLES,
                dropped,
            )
        return False

    def heartbeat_due(self, now: float) -> bool:
        """Whether nothing was sent for a heartbeat interval."""
        return not self.silenced and now - self.last_sent >= self.heartbeat_s

    def silence(self) -> None:
        """Fault injection: stop talking at once, as if the agent's process had been killed."""
        self.silenced = True
        self._pending = _Pending()

    def revive(self) -> None:
        """Fault injection: come back as a restarted agent would, with a new epoch and BIRTH."""
        self.silenced = False
        self.birth()

    def heartbeat(self) -> None:
        """Tell the hub this session is alive (or retry a BIRTH that could not be sent)."""
        if self._needs_birth:
            self.birth()
        else:
            self._send(Heartbeat(), block=False)

    def stop(self) -> None:
        """Send DEATH (best effort) and close the socket and journal."""
        if self.epoch:
            self.flush()
            self._send(Death(reason="shutdown", at=time.time_ns()), block=False)
        if self.watch is not None:
            self.watch.drain()
        if self.journal is not None:
            self.journal.close()

    # -- receiving ----------------------------------------------------------------------------

    def handle(self, frames: list[bytes]) -> None:
        """Act on one message from the hub; malformed input is counted and dropped."""
        if self.silenced:
            return
        decoded = self._codec.decode(frames)
        if decoded is None:
            self.stats.malformed += 1
            return
        header, body = decoded
        self.last_heard = time.monotonic()
        match body:
            case Heartbeat():
                if self.hub_epoch and header.hub_epoch != self.hub_epoch:
                    log.info("%s: hub restarted; sending BIRTH again.", self.machine.id)
                    self.hub_epoch = header.hub_epoch
                    self.birth()
                self.hub_epoch = header.hub_epoch
            case RebirthRequest(reason=reason):
                log.info("%s: hub asked for a rebirth (%s).", self.machine.id, reason or "-")
                self.hub_epoch = header.hub_epoch or self.hub_epoch
                self.birth()
            case Command():
                self._on_command(body)
            case CommandQuery(cmd_id=cmd_id):
                self._on_query(cmd_id)
            case _:
                self.stats.malformed += 1

    def _status(
        self,
        cmd_id: str,
        state: CommandState,
        cause: str = "",
        message: str = "",
        observed: dict[str, Value] | None = None,
    ) -> None:
        sent = self._send(
            CommandStatus(
                cmd_id=cmd_id,
                machine=self.machine.id,
                state=state,
                cause=cause,
                message=message,
                observed=observed,
                at=time.time_ns(),
            ),
            block=False,
        )
        if not sent:
            log.warning("%s: could not report %s for command %s.", self.machine.id, state, cmd_id)

    def _report_unknown(self) -> None:
        if self.journal is None:
            return
        for entry in self.journal.in_flight():
            message = (
                f"{self.machine.name} stopped while running {entry.name}; "
                "whether it took effect is unknown. Check the machine before retrying."
            )
            self.journal.update(entry.cmd_id, "UNKNOWN", "agent_restart", message)
            self._status(entry.cmd_id, "UNKNOWN", "agent_restart", message)

    def _on_query(self, cmd_id: str) -> None:
        entry = self.journal.get(cmd_id) if self.journal else None
        if entry is None:
            self._status(cmd_id, "UNKNOWN", "not_found", "This machine never received it.")
            return
        observed = entry.observed if isinstance(entry.observed, dict) else None
        self._status(entry.cmd_id, _state(entry.state), entry.cause, entry.message, observed)

    def _on_command(self, cmd: Command) -> None:
        name = self.machine.name
        if cmd.machine != self.machine.id:
            self._status(cmd.cmd_id, "REJECTED", "wrong_machine", f"This is {name}.")
            return
        if self.journal is not None:
            seen = self.journal.get(cmd.cmd_id)
            if seen is not None:
                self.stats.duplicates += 1
                observed = seen.observed if isinstance(seen.observed, dict) else None
                self._status(cmd.cmd_id, _state(seen.state), seen.cause, seen.message, observed)
                return
        args: dict[str, object] = dict(cmd.args)
        if time.time_ns() > cmd.not_after:
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
            self.journal.begin(cmd.cmd_id, cmd.machine, cmd.name, args, cmd.not_after)
        self._status(cmd.cmd_id, "ACCEPTED")
        if self._chaos == "after_accept":
            os._exit(137)
        if self.journal is not None:
            self.journal.update(cmd.cmd_id, "EXECUTING")
        self._status(cmd.cmd_id, "EXECUTING")
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
        if self.journal is not None:
            self.journal.update(
                cmd.cmd_id,
                state,
                outcome.cause,
                outcome.message,
                dict(outcome.observed) if outcome.observed is not None else None,
            )
        self._status(cmd.cmd_id, state, outcome.cause, outcome.message, outcome.observed)

    def _refuse(
        self, cmd: Command, args: dict[str, object], state: CommandState, cause: str, message: str
    ) -> None:
        self.stats.commands_refused += 1
        if self.journal is not None:
            self.journal.begin(
                cmd.cmd_id, cmd.machine, cmd.name, args, cmd.not_after, state, cause, message
            )
        self._status(cmd.cmd_id, state, cause, message)


def _state(text: str) -> CommandState:
    states: dict[str, CommandState] = {
        "SENT": "SENT",
        "ACCEPTED": "ACCEPTED",
        "REJECTED": "REJECTED",
        "EXECUTING": "EXECUTING",
        "COMPLETED": "COMPLETED",
        "FAILED": "FAILED",
        "EXPIRED": "EXPIRED",
        "CANCELLED": "CANCELLED",
        "UNKNOWN": "UNKNOWN",
    }
    return states.get(text, "UNKNOWN")


class AgentRunner:
    """Drives sessions from one thread: a periodic ``tick`` (which publishes), input, heartbeats.

    ``tick(now_s)`` is called every ``period_s``; after it every session's queue is flushed.
    """

    def __init__(
        self,
        sessions: Sequence[AgentSession],
        tick: Callable[[float], None] | None = None,
        period_s: float = 1.0,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.sessions = list(sessions)
        self.tick = tick
        self.period_s = period_s
        self._stop = stop_event or threading.Event()
        self._thread: threading.Thread | None = None
        self._poller = Poller(s.link for s in self.sessions)
        self._by_link = {id(s.link): s for s in self.sessions}
        self.error: BaseException | None = None

    def run(self) -> None:
        """Run until :meth:`request_stop`; then send DEATH for every session."""
        for session in self.sessions:
            session.birth()
        next_tick = time.monotonic()
        next_housekeeping = time.monotonic() + 1.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if self.tick is not None and now >= next_tick:
                    self.tick(time.time())
                    for session in self.sessions:
                        session.flush()
                    next_tick += self.period_s
                    if next_tick < now:
                        next_tick = now + self.period_s
                if now >= next_housekeeping:
                    next_housekeeping = now + 0.25
                    for session in self.sessions:
                        if session.pending_samples:
                            session.flush()
                        if session.heartbeat_due(now):
                            session.heartbeat()
                        if session.watch is not None:
                            session.watch.drain()
                wait = min(next_tick if self.tick else now + 0.25, next_housekeeping) - now
                for link in self._poller.poll(max(0.0, wait)):
                    session = self._by_link[id(link)]
                    for _ in range(1000):
                        frames = link.recv()
                        if frames is None:
                            break
                        session.handle(frames)
        finally:
            for session in self.sessions:
                session.stop()

    def start(self) -> None:
        """Run in a background thread."""
        self._thread = run_in_thread(self.run, "agent-runner", self)

    def request_stop(self) -> None:
        """Ask :meth:`run` to return (safe from any thread or a signal handler)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background thread."""
        if self._thread is not None:
            self._thread.join(timeout)
