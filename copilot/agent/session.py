"""One machine's session with the hub over one DEALER socket.

BIRTH first (with a new epoch, always larger than the last one — :mod:`copilot.agent.epoch`),
then DATA, heartbeats when idle, DEATH on a clean stop. Samples wait in a :class:`Backlog`
and go out as DATA messages each under ``max_data_bytes``; while the hub does not take them
the backlog is held, bounded, and what has to be dropped is counted
(:attr:`AgentStats.samples_dropped`) and logged. A refused handshake makes the session dial
again with a new socket (:class:`~copilot.bus.Redial`). Commands go to a :class:`CommandDesk`.
Not thread-safe: one thread (usually an :class:`~copilot.agent.runner.AgentRunner`) drives it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from copilot.agent.backlog import Backlog
from copilot.agent.commands import CommandDesk
from copilot.agent.epoch import EpochClock
from copilot.agent.outcome import AgentStats, CommandHandler
from copilot.bus import Bus, HandshakeWatch, Link, Redial, hub_endpoints
from copilot.protocol import (
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
    TagSpec,
    Value,
    valid_id,
)
from copilot.settings import AgentSettings
from copilot.storage import CommandJournal

log = logging.getLogger(__name__)

DEATH_LINGER_MS = 500  # how long a clean stop lets the DEATH leave before the socket closes


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
        heartbeat_ms: int | None = None,
        sndhwm: int | None = None,
        server_key: bytes | None = None,
        *,
        settings: AgentSettings | None = None,
        epoch_path: Path | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if not valid_id(machine.id):
            raise ValueError(
                f"Machine id {machine.id!r} must be lower-case letters, digits, '-' or '_'."
            )
        names = [t.name for t in tags]
        aliases = [t.alias for t in tags]
        if len(set(names)) != len(names) or len(set(aliases)) != len(aliases):
            raise ValueError(f"Tags of {machine.id} must have unique names and aliases.")
        self.settings = settings or AgentSettings()
        heartbeat_ms = self.settings.heartbeat_ms if heartbeat_ms is None else heartbeat_ms
        sndhwm = self.settings.sndhwm if sndhwm is None else sndhwm
        self.bus = bus
        self.machine = machine
        self.tags = list(tags)
        self.commands = {c.name: c for c in commands}
        self.handler = handler
        self.heartbeat_s = heartbeat_ms / 1000
        self._clock = clock
        self._alias = {t.name: t.alias for t in tags}
        self._codec = Codec()
        self._router_ep, _ = hub_endpoints(hub)
        self.redial = Redial(
            bus,
            lambda: bus.dealer(self._router_ep, sndhwm=sndhwm, server_key=server_key),
            f"agent {machine.id}",
            min_s=self.settings.redial_min_ms / 1000,
            max_s=self.settings.redial_max_ms / 1000,
        )
        self.journal = (
            CommandJournal(
                journal_path,
                keep_s=self.settings.journal_keep_days * 86_400,
                keep_count=self.settings.journal_keep_commands,
            )
            if journal_path
            else None
        )
        if epoch_path is None and journal_path is not None:
            epoch_path = journal_path.with_suffix(".epoch")
        self._epochs = EpochClock(epoch_path, clock)
        self.stats = AgentStats()
        self.desk = CommandDesk(
            machine, self.commands, handler, self.journal, self.stats, self._status, clock
        )
        self.epoch = 0
        self._epoch_used = False
        self.seq = 0
        self.hub_epoch = 0
        self.last_sent = 0.0
        self.last_heard = 0.0
        self._breaks = 0  # connections lost so far (see _check_link)
        self._backlog = Backlog()
        self._backpressured = False
        self._unknown_reported = False
        self._needs_birth = False
        self.silenced = False  # fault injection: behave as a dead process (send/answer nothing)

    @property
    def link(self) -> Link:
        """The session's DEALER (a new one after a refused handshake: see :meth:`maintain`)."""
        return self.redial.link

    @property
    def watch(self) -> HandshakeWatch | None:
        """The handshake monitor of :attr:`link` (``None`` when insecure)."""
        return self.redial.watch

    # -- sending ------------------------------------------------------------------------------

    def _header(self) -> Header:
        header = Header(src=self.machine.id, epoch=self.epoch, seq=self.seq, ts=self._clock())
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
        self._epoch_used = True
        return True

    def birth(self) -> None:
        """Start a new session: new epoch, seq 0, BIRTH (values follow with the next DATA).

        A BIRTH that could not be sent is retried with the same epoch (nothing carried it yet).
        """
        if self._epoch_used or not self.epoch:
            self.epoch = self._epochs.next()
            self._epoch_used = False
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
            self.desk.report_unknown()

    def publish(
        self,
        values: dict[str, Value],
        ts: int | None = None,
        quality: dict[str, int] | None = None,
    ) -> None:
        """Queue samples (tag name → value, all at ``ts`` ns); :meth:`flush` sends them."""
        stamp = self._clock() if ts is None else ts
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
        self._hold(aliases, numbers, np.full(n, stamp, dtype=np.int64), q, text)

    def publish_columns(
        self,
        aliases: npt.NDArray[np.uint32],
        values: npt.NDArray[np.float64],
        ts: npt.NDArray[np.int64],
        quality: npt.NDArray[np.uint8] | None = None,
    ) -> None:
        """Queue numeric samples already in column form (the fast path for many tags)."""
        self._hold(aliases, values, ts, quality, {})

    def _hold(
        self,
        aliases: npt.NDArray[np.uint32],
        values: npt.NDArray[np.float64],
        ts: npt.NDArray[np.int64],
        quality: npt.NDArray[np.uint8] | None,
        text: dict[int, str],
    ) -> None:
        backlog = self._backlog
        backlog.add(aliases, values, ts, quality, text)
        settings = self.settings
        dropped = backlog.bound(settings.backlog_samples, settings.backlog_bytes)
        if dropped:
            self.stats.samples_dropped += dropped
            log.warning(
                "%s: backlog full (bound %d samples, %d bytes) while the hub is not taking "
                "data; dropped the %d oldest samples (%d dropped so far, each tag's latest "
                "value kept).",
                self.machine.id,
                settings.backlog_samples,
                settings.backlog_bytes,
                dropped,
                self.stats.samples_dropped,
            )
        self.stats.samples_held = backlog.count
        self.stats.largest_backlog = max(self.stats.largest_backlog, backlog.count)

    @property
    def pending_samples(self) -> int:
        """Samples queued but not yet accepted by the socket."""
        return self._backlog.count

    def flush(self) -> bool:
        """Send what is held, as DATA messages under ``max_data_bytes``, oldest first.

        ``True`` when nothing is left; ``False`` (keeping the rest, in order) when the socket
        does not accept more — not connected, the hub's queue is full, or no session yet.
        """
        backlog = self._backlog
        if self.silenced:
            backlog.clear()
            return True
        if not backlog.count:
            return True
        self._check_link()
        if self.epoch == 0 or self._needs_birth:  # the hub must hear a BIRTH first
            self._held_back(backlog.count)
            return False
        while backlog.count:
            body, n = backlog.take(self.settings.max_data_bytes)
            if body is None:  # one sample alone is larger than a message may be
                backlog.consume(n)
                self.stats.samples_too_large += n
                self.stats.samples_dropped += n
                log.error(
                    "%s: dropped a sample too large for one DATA message (max_data_bytes %d).",
                    self.machine.id,
                    self.settings.max_data_bytes,
                )
                continue
            if not self._send(body, block=False):
                self._held_back(backlog.count)
                self.stats.samples_held = backlog.count
                return False
            backlog.consume(n)
            self.stats.sent_samples += n
            self.stats.sent_data_messages += 1
        self.stats.samples_held = 0
        if self._backpressured:
            log.warning("%s: hub is accepting data again.", self.machine.id)
            self._backpressured = False
        return True

    def _held_back(self, count: int) -> None:
        if self._backpressured:
            return
        self._backpressured = True
        self.stats.backpressure_events += 1
        log.warning(
            "%s: cannot send to the hub (not connected, or its queue is full); holding %d samples.",
            self.machine.id,
            count,
        )

    def heartbeat_due(self, now: float) -> bool:
        """Whether nothing was sent for a heartbeat interval."""
        return not self.silenced and now - self.last_sent >= self.heartbeat_s

    def silence(self) -> None:
        """Fault injection: stop talking at once, as if the agent's process had been killed."""
        self.silenced = True
        self._backlog.clear()

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

    def maintain(self, now: float | None = None) -> bool:
        """Housekeeping for the socket: read handshake events, dial again after a refusal.

        Returns ``True`` when :attr:`link` was replaced (a poller must register the new one).
        The session is BORN again on the new socket as soon as its handshake succeeds.
        """
        replaced = self.redial.poll(now)
        if replaced:
            self.stats.redials += 1
        self._check_link()
        if self._needs_birth and self.redial.connected and not self.silenced:
            self.birth()
        return replaced

    def _check_link(self) -> None:
        """After a lost connection the next hub may not know this session: BIRTH comes first.

        Without it, held DATA would reach a restarted hub (or one that timed the machine out)
        before any BIRTH and be dropped there; so the backlog waits for the new BIRTH, and the
        hub's next HB is learned afresh instead of looking like a second restart.
        """
        self.redial.drain()
        breaks = self.redial.breaks
        if breaks != self._breaks:
            self._breaks = breaks
            if self.epoch:
                self._needs_birth = True
                self._epoch_used = True
                self.hub_epoch = 0

    def stop(self) -> None:
        """Send what is held and DEATH (best effort), close the socket and the journal."""
        linger = 0
        if self.epoch and not self.silenced:
            self.flush()
            if self._send(Death(reason="shutdown", at=self._clock()), block=False):
                linger = DEATH_LINGER_MS
        self.redial.close(linger)
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
                # learn the hub's epoch here too: its next HB must not look like a restart
                self.hub_epoch = header.hub_epoch or self.hub_epoch
                self.birth()
            case Command():
                self._on_command(body)
            case CommandQuery(cmd_id=cmd_id):
                self.desk.query(cmd_id)
            case _:
                self.stats.malformed += 1

    def _on_command(self, cmd: Command) -> None:
        self.desk.run(cmd)

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
                at=self._clock(),
            ),
            block=False,
        )
        if not sent:
            log.warning("%s: could not report %s for command %s.", self.machine.id, state, cmd_id)
