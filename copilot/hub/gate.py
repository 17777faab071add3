"""The command gate: the one path from a person to a machine (a hub service).

Every request — touch, keyboard, voice, a co-pilot suggestion, a script — arrives as one
``CMD_REQ`` carrying a session token, and passes, in this order (docs/protocol.md §14.3):

1. **who**: the token is live and was issued to the sending station's key → ``not_authenticated``;
2. **expiry**: ``not_after`` not passed → ``expired``;
3. **machine and command** known → ``unknown_machine``, ``unknown_command``;
4. **role**: the site policy lets this person issue this command on this machine, from this
   station's areas, and by this origin → ``not_authorised`` / ``not_by_voice``; the machine
   is online and the arguments fit → ``offline``, ``out_of_range`` / ``bad_argument``;
5. **one at a time**: no other command of this name in flight for the machine →
   ``already_pending``;
6. **control authority**: no other station holds the machine or its area → ``locked_by_other``;
7. **interlocks and permissives** from live values, first-out → ``interlock``;
8. **tier**: 2 needs ``confirmed`` → ``confirmation_required``; 3 needs the person's secret again
   and a reason → ``signature_required`` / ``bad_signature`` / ``reason_required``; 4 needs the
   same and then a Supervisor other than the requester (``APPROVE`` from any station, within the
   policy's ``timeout_s``) → ``approver_is_requester``, ``denied``, ``approval_expired``;
9. **dispatch** with ``cmd_id`` and ``not_after`` through :class:`CommandService` (never queued
   for an offline machine), the audit row of the decision committed first.

Refusals are ``CMD_STATUS`` ``REJECTED`` (or ``EXPIRED``) with a stable ``cause`` and one
sentence. A ``cmd_id`` sent again is answered with its current status: never a second run.
Secrets are checked by the memory-hard KDF on a worker thread, never on the hub's loop; the
loop is woken when one is done (or when the audit writer committed).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from copilot.arguments import current_tag
from copilot.gate.audit import MIGRATIONS as AUDIT_MIGRATIONS
from copilot.gate.audit import AuditEntry, AuditRow, AuditTrail, audit_path, query
from copilot.gate.authority import AuthorityBook, AuthorityRefusal
from copilot.gate.checks import evaluate, sentence
from copilot.gate.decide import Asker, Refused, Target, decide
from copilot.gate.people import KdfParams, PeopleStore, Person, Refusal, people_path
from copilot.gate.policy import DEFAULT, Policy
from copilot.gate.sessions import LiveSession, SessionBook
from copilot.hub.commands import CommandService
from copilot.hub.events import CommandSettled, Dropped, Event, MachineBorn
from copilot.hub.plant import MachineState
from copilot.hub.service import Sender, Service
from copilot.protocol import (
    ACTIVE_STATES,
    FINAL_STATES,
    TOPIC_GATE,
    Approval,
    ApprovalDecision,
    AuditQuery,
    AuditRecord,
    AuditRows,
    AuthorityAct,
    Body,
    CheckState,
    Command,
    CommandCancel,
    CommandRequest,
    CommandSpec,
    CommandStatus,
    GateReply,
    Grant,
    Login,
    Logout,
    Session,
    SessionPing,
    Signature,
    Value,
    VoiceFacts,
    approval_topic,
    authority_topic,
)
from copilot.settings import HubSettings
from copilot.storage import Writer

log = logging.getLogger(__name__)

AUDIT_TEXT_MAX = 1024  # a text a peer sent, as an audit row keeps it
AUDIT_ITEMS_MAX = 64  # arguments (or ids) an audit row keeps
DISPATCH_TTL_S = 10.0  # an approved two-person command must reach its machine this soon
LOGINS_PER_KEY = 4  # log-ins of one station key waiting for the KDF (more: refused, "busy")
LOGINS_WAITING = 64  # and of all keys together: a flood of LOGIN cannot starve the others


@dataclass
class _Request:
    """A request between checks: waiting for a KDF, an approval or the audit commit."""

    req: CommandRequest
    session: LiveSession
    identity: bytes
    machine: MachineState
    spec: CommandSpec
    tier: int
    stage: str  # "sign" | "approval" | "audit"
    future: Future[Person | Refusal] | Future[int] | None = None
    approval: Approval | None = None
    approver: LiveSession | None = None


@dataclass
class _Login:
    identity: bytes
    sender: Sender
    login: Login
    future: Future[Person | Refusal]


@dataclass
class _Decision:
    identity: bytes
    session: LiveSession
    decision: ApprovalDecision
    future: Future[Person | Refusal]


@dataclass
class GateStats:
    """Counters for ``copilot hub status``."""

    logins: int = 0
    login_refused: int = 0
    requests: int = 0
    dispatched: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    approvals: int = 0


class GateService(Service):
    """People, sessions, the policy, approvals, control authority and the audit trail."""

    name = "gate"
    handles = (
        Login,
        Logout,
        SessionPing,
        CommandRequest,
        CommandCancel,
        ApprovalDecision,
        AuthorityAct,
        AuditQuery,
    )
    topics = (TOPIC_GATE,)

    def __init__(
        self,
        settings: HubSettings,
        commands: CommandService,
        data_path: Path | None,
        policy: Policy | None = None,
    ) -> None:
        self.settings = settings
        self.commands = commands
        self.data_path = data_path
        self.policy = policy or DEFAULT
        # The station locks at idle_lock_s after the last input and pings at most every 30 s
        # while there is input: the hub ends a session a minute after the station would have.
        self.sessions = SessionBook(self.policy.idle_lock_s + 60.0, settings.max_sessions)
        self.authority = AuthorityBook()
        self.stats = GateStats()
        self.people: PeopleStore | None = None
        self.audit: AuditTrail | None = None
        self.writer: Writer | None = None
        self.wake: Callable[[], None] = lambda: None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._kdf = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gate-kdf")
        self._logins: list[_Login] = []
        self._decisions: list[_Decision] = []
        self._requests: dict[str, _Request] = {}  # by cmd_id, until dispatched or refused
        self._approvals: dict[str, _Request] = {}
        self._who: dict[str, tuple[str, str, str, str]] = {}  # cmd_id → user, name, station, area
        self._held: dict[str, Command] = {}  # built, waiting for the audit commit
        self._later: list[Event] = []  # events of handlers that return none (cancel)
        commands.waiting = self._waiting

    # -- life -----------------------------------------------------------------------------------

    def open(self) -> None:
        """Open people.db and audit.db in the hub's data folder.

        A hub without a data folder keeps them in a temporary one that goes with it: nobody
        can log in there until people are added through the same process (tests).
        """
        folder = self.data_path
        if folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="copilot-gate-")
            folder = Path(self._tmp.name)
        self.people = PeopleStore(
            people_path(folder),
            kdf=KdfParams(n=self.settings.scrypt_n),
            attempts=self.policy.lockout_attempts,
            lockout_s=self.policy.lockout_s,
        )
        path = audit_path(folder)
        self.writer = Writer(path, AUDIT_MIGRATIONS, "audit")
        self.audit = AuditTrail(path, self.writer)

    def close(self) -> None:
        """Stop the KDF worker, commit and close the audit trail and the people store."""
        self._kdf.shutdown(wait=True, cancel_futures=True)
        if self.audit is not None:
            self.audit.close()
        if self.writer is not None:
            self.writer.close()
        if self.people is not None:
            self.people.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def status(self) -> dict[str, int]:
        """Sessions, requests, dispatches, refusals by cause, approvals pending."""
        out = {
            "sessions": len(self.sessions.sessions),
            "logins": self.stats.logins,
            "login_refused": self.stats.login_refused,
            "requests": self.stats.requests,
            "dispatched": self.stats.dispatched,
            "approvals_pending": len(self._approvals),
            "authority_held": len(self.authority.held),
        }
        for cause, n in self.stats.refused.items():
            out[f"refused_{cause}"] = n
        return out

    # -- audit ----------------------------------------------------------------------------------

    def _audit(
        self,
        kind: str,
        *,
        session: LiveSession | None = None,
        req: CommandRequest | None = None,
        user: str = "",
        name: str = "",
        station: str = "",
        machine: str = "",
        area: str = "",
        command: str = "",
        cmd_id: str = "",
        meaning: str = "",
        outcome: str = "",
        **detail: object,
    ) -> Future[int] | None:
        if self.audit is None:
            return None
        if session is not None:
            user, name, station = user or session.user, name or session.name, session.station
        if req is not None:  # the request it is about (its fields bounded: a peer chose them)
            machine, command, cmd_id = req.machine[:64], req.name[:64], req.cmd_id[:128]
            if req.voice is not None:  # what the recogniser heard: every row about it says
                detail["voice"] = _voice_facts(req.voice)
        entry = AuditEntry(
            at=time.time_ns(),
            kind=kind,
            user=user,
            name=name,
            station=station,
            machine=machine,
            area=area,
            command=command,
            cmd_id=cmd_id,
            meaning=meaning,  # type: ignore[arg-type]
            outcome=outcome,
            detail={k: _bounded(v) for k, v in detail.items() if v not in (None, "", [], {})},
        )
        future = self.audit.append(entry)
        future.add_done_callback(lambda _f: self.wake())
        return future

    # -- messages -------------------------------------------------------------------------------

    def handle(self, sender: Sender, body: Body) -> Sequence[Event]:
        """One gate message; refusals go out at once, KDF work finishes in :meth:`on_wake`."""
        match body:
            case Login():
                self._on_login(sender, body)
            case Logout():
                self._on_logout(sender, body)
            case SessionPing():
                if self._session_of(sender, body.token) is None:
                    self._reply(
                        sender.identity,
                        0,
                        False,
                        "not_authenticated",
                        "Your session ended (idle too long, or the hub restarted); log in again.",
                    )
            case CommandRequest():
                return self._on_request(sender, body)
            case CommandCancel():
                self._on_cancel(sender, body)
            case ApprovalDecision():
                self._on_decision(sender, body)
            case AuthorityAct():
                self._on_authority(sender, body)
            case AuditQuery():
                self._on_audit_query(sender, body)
        return ()

    def _reply(self, identity: bytes, request_id: int, ok: bool, code: str, message: str) -> None:
        self.publisher.reply(
            identity, GateReply(request_id=request_id, ok=ok, code=code, message=message)
        )

    def _station_name(self, sender: Sender) -> str:
        return sender.key.partition(":")[2] or sender.key or sender.header.src

    def _session_of(self, sender: Sender, token: str) -> LiveSession | None:
        session = self.sessions.find(token[:128], sender.key, time.monotonic())
        if session is not None:
            self.sessions.touch(session, time.monotonic(), sender.identity)
        return session

    def areas_of(self, key: str) -> frozenset[str]:
        """The areas the policy limits a station key to (``[stations.<name>]``)."""
        return self.policy.areas_of(key.partition(":")[2] or key)

    def identify(self, sender: Sender, token: str) -> LiveSession | None:
        """The person behind ``token`` from ``sender`` (for other services: alarm acts)."""
        return self._session_of(sender, token)

    def record(self, kind: str, session: LiveSession, **fields: object) -> None:
        """Append an audit row for another service (alarm acts)."""
        self._audit(kind, session=session, **fields)  # type: ignore[arg-type]

    # -- people ---------------------------------------------------------------------------------

    def _on_login(self, sender: Sender, login: Login) -> None:
        assert self.people is not None
        people = self.people
        waiting = sum(1 for p in self._logins if p.sender.key == sender.key)
        if waiting >= LOGINS_PER_KEY or len(self._logins) >= LOGINS_WAITING:
            self.stats.login_refused += 1
            self._reply(
                sender.identity,
                login.request_id,
                False,
                "busy",
                "Too many log-ins at once from this station; try again in a moment.",
            )
            return
        user = login.user.strip().lower()[:64]
        secret = login.secret[:256]
        future = self._kdf.submit(people.verify, user, secret)
        future.add_done_callback(lambda _f: self.wake())
        kept = msgspec.structs.replace(login, user=user, secret="")  # the secret is not kept
        self._logins.append(_Login(sender.identity, sender, kept, future))

    def _finish_login(self, pending: _Login) -> None:
        result = pending.future.result()
        login, sender = pending.login, pending.sender
        station = self._station_name(sender)
        if isinstance(result, Refusal):
            self.stats.login_refused += 1
            kind = "lockout" if result.code == "locked_out" else "login_refused"
            self._audit(kind, user=login.user, station=station, outcome=result.code)
            self._reply(pending.identity, login.request_id, False, result.code, result.sentence)
            return
        self.stats.logins += 1
        areas = self.policy.areas_of(station)
        session = self.sessions.open(
            result.user,
            result.name,
            tuple(result.roles),
            sender.key,
            pending.identity,
            time.time_ns(),
            time.monotonic(),
            station=station,
            areas=areas,
        )
        self._audit("login", session=session, outcome="ok", roles=list(result.roles))
        self.publisher.reply(pending.identity, self._session_body(session, login.request_id))

    def _session_body(self, session: LiveSession, request_id: int = 0) -> Session:
        return Session(
            token=session.token,
            user=session.user,
            name=session.name,
            roles=list(session.roles),  # type: ignore[arg-type]
            request_id=request_id,
            areas=sorted(session.areas),
            idle_warn_s=self.policy.idle_warn_s,
            idle_lock_s=self.policy.idle_lock_s,
            started=session.started,
            grants=self._grants(session),
            station=session.station,
        )

    def _grants(self, session: LiveSession) -> list[Grant]:
        out: list[Grant] = []
        for mid, state in sorted(self.plant.machines.items()):
            info = state.birth.machine
            for spec in state.birth.commands:
                decision = self.policy.decide(session.roles, info, spec)
                allowed, why = decision.allowed, decision.why
                if allowed and session.areas and info.area not in session.areas:
                    allowed = False
                    why = f"This station may not command machines of area {info.area or '-'}."
                out.append(
                    Grant(
                        machine=mid,
                        name=spec.name,
                        tier=decision.tier,
                        allowed=allowed,
                        why=why,
                        voice=decision.voice,
                    )
                )
        return out

    def _on_logout(self, sender: Sender, logout: Logout) -> None:
        session = self.sessions.find(logout.token[:128], sender.key, time.monotonic())
        if session is None:
            self._reply(sender.identity, logout.request_id, True, "ok", "Already logged out.")
            return
        self.sessions.close(session.token)
        self._audit("logout", session=session, outcome=logout.reason)
        self._reply(sender.identity, logout.request_id, True, "ok", f"{session.name} logged out.")

    # -- requests -------------------------------------------------------------------------------

    def _status(
        self,
        req: CommandRequest,
        state: str,
        cause: str = "",
        message: str = "",
        **stamp: str | int,
    ) -> CommandStatus:
        return CommandStatus(
            cmd_id=req.cmd_id[:128],
            machine=req.machine[:64],
            state=state,  # type: ignore[arg-type]
            cause=cause,
            message=message,
            at=time.time_ns(),
            name=req.name[:64],
            request_id=req.request_id,
            **stamp,  # type: ignore[arg-type]
        )

    def _refuse(
        self,
        identity: bytes,
        req: CommandRequest,
        cause: str,
        message: str,
        session: LiveSession | None = None,
        state: str = "REJECTED",
        area: str = "",
    ) -> list[Event]:
        self.stats.refused[cause] = self.stats.refused.get(cause, 0) + 1
        status = self._status(req, state, cause, message, by=session.name if session else "")
        self.publisher.reply(identity, status)
        if session is not None and len(req.cmd_id) <= 128:
            # Remembered like a routed command: the same cmd_id sent again, or asked about
            # (CMD_QUERY), gets this refusal — it is never checked, approved or run anew.
            self.commands.remember(req.cmd_id, req.machine[:64], req.name[:64], identity, status)
        self._audit(
            "refused",
            session=session,
            req=req,
            area=area,
            outcome=cause,
            origin=req.origin,
            args=dict(req.args),
            message=message,
        )
        return [CommandSettled(status)]

    def _on_request(self, sender: Sender, req: CommandRequest) -> list[Event]:
        self.stats.requests += 1
        limit = self.settings.max_string_len
        if len(req.cmd_id) > 128 or len(req.machine) > 64 or len(req.name) > limit:
            return self._refuse(
                sender.identity, req, "bad_argument", "Command id, machine or name too long."
            )
        known = self.commands.commands.get(req.cmd_id)
        if known is not None:  # a replay or a resend: its status, never a second run
            self.publisher.reply(sender.identity, known.status)
            return [Dropped("cmd_replayed", req.machine)]
        waiting = self._requests.get(req.cmd_id) or self._approvals.get(req.cmd_id)
        if waiting is not None:
            self.publisher.reply(
                sender.identity,
                self._status(req, "AWAITING_APPROVAL" if waiting.stage == "approval" else "SENT"),
            )
            return [Dropped("cmd_replayed", req.machine)]
        session = self._session_of(sender, req.token)
        if session is None:
            return self._refuse(
                sender.identity,
                req,
                "not_authenticated",
                "Nobody is logged in on this station (or the session ended); log in and try again.",
            )
        return self._check(sender.identity, session, req)

    def _check(
        self, identity: bytes, session: LiveSession, req: CommandRequest, *, signed: bool = False
    ) -> list[Event]:
        """Checks 2–12 (:func:`copilot.gate.decide.decide`); a refusal, a wait or the dispatch."""
        state = self.plant.machines.get(req.machine)
        target = (
            Target(state.birth.machine, state.birth.commands, state.online, state.since)
            if state is not None
            else None
        )
        area = state.birth.machine.area if state is not None else ""
        result = decide(
            req,
            Asker(session.roles, session.key, session.areas),
            target,
            self.policy,
            now_ns=time.time_ns(),
            known_machines=list(self.plant.machines),
            busy=self._in_flight(req.machine, req.name, req.cmd_id),
            holder=self.authority.holder_of(req.machine, area) if state is not None else None,
            checks_of=lambda spec: self.checks_of(state, spec) if state is not None else [],
            signed=signed,
        )
        if isinstance(result, Refused):
            return self._refuse(
                identity, req, result.cause, result.message, session, result.state, area
            )
        assert state is not None
        if result.then == "verify_signature":
            assert self.people is not None and req.sign is not None
            future = self._kdf.submit(self.people.verify, session.user, req.sign.secret[:256])
            future.add_done_callback(lambda _f: self.wake())
            self._requests[req.cmd_id] = _Request(
                req, session, identity, state, result.spec, result.tier, "sign", future
            )
            return []
        if result.then == "ask_approval":
            return self._ask_approval(identity, session, req, state, result.spec, result.checks)
        return self._dispatch(identity, session, req, state, result.spec, result.tier)

    def _area_of_machine(self, machine: str) -> str:
        state = self.plant.machines.get(machine)
        return state.birth.machine.area if state is not None else ""

    def _waiting(self, cmd_id: str) -> CommandStatus | None:
        """What a CMD_QUERY hears of a command the gate still holds."""
        pending = self._approvals.get(cmd_id) or self._requests.get(cmd_id)
        if pending is None:
            return None
        state = "AWAITING_APPROVAL" if pending.stage == "approval" else "SENT"
        return self._status(pending.req, state, by=pending.session.name, tier=pending.tier)

    def checks_of(self, state: MachineState, spec: CommandSpec) -> list[CheckState]:
        """The command's interlocks and permissives against the hub's live values."""
        table = state.table

        def value_of(tag: str) -> tuple[float | None, int, int]:
            alias = table.by_name.get(tag)
            if alias is None:
                return None, 0x80, 0
            return float(table.value[alias]), int(table.quality[alias]), int(table.ts[alias] * 1e9)

        return evaluate(spec.checks, value_of)

    def _in_flight(self, machine: str, name: str, cmd_id: str) -> str:
        for pending in (*self._requests.values(), *self._approvals.values()):
            r = pending.req
            if r.machine == machine and r.name == name and r.cmd_id != cmd_id:
                return "awaiting approval" if pending.stage == "approval" else "being checked"
        for record in self.commands.commands.values():
            c = record.cmd
            if c.machine == machine and c.name == name and record.status.state in ACTIVE_STATES:
                return "in progress"
        return ""

    # -- signing, approval, dispatch --------------------------------------------------------------

    def _signed(self, pending: _Request) -> list[Event]:
        assert pending.future is not None
        result = pending.future.result()
        del self._requests[pending.req.cmd_id]
        session, req = pending.session, pending.req
        area = pending.machine.birth.machine.area
        if isinstance(result, Refusal):
            if result.code == "locked_out":
                for gone in self.sessions.close_user(session.user):
                    self._audit("lockout", session=gone, outcome="locked_out")
            cause = "locked_out" if result.code == "locked_out" else "bad_signature"
            message = (
                result.sentence
                if cause == "locked_out"
                else "The PIN did not match; the command was not signed or sent."
            )
            return self._refuse(pending.identity, req, cause, message, session, area=area)
        sign = req.sign or Signature(secret="")
        self._audit(
            "signature",
            session=session,
            req=req,
            area=area,
            meaning="performed",
            outcome="ok",
            reason=sign.reason,
        )
        return self._check(pending.identity, session, req, signed=True)

    def _ask_approval(
        self,
        identity: bytes,
        session: LiveSession,
        req: CommandRequest,
        state: MachineState,
        spec: CommandSpec,
        checks: list[CheckState],
    ) -> list[Event]:
        now = time.time_ns()
        info = state.birth.machine
        tags = state.birth.tags
        holders = {a.name: current_tag(a, tags) for a in spec.args}
        old: dict[str, Value] = {}
        for name, tag in holders.items():
            alias = state.table.by_name.get(tag.name) if tag is not None else None
            if alias is not None and state.table.known[alias]:
                old[name] = state.table.display_value(alias)
        # What an approver should see trended: the tags the arguments set, then the machine's
        # key measurements — numbers first (an enum's trend is a flat line), then the checks'.
        numeric = {t.name for t in tags if t.type in ("float", "int")}
        watch = [t.name for t in holders.values() if t is not None and t.name in numeric]
        watch += [t.name for t in tags if t.key and t.name in numeric and t.name not in watch]
        watch += [c.tag for c in spec.checks if c.tag not in watch]
        approval = Approval(
            cmd_id=req.cmd_id,
            machine=req.machine,
            name=req.name,
            label=spec.label or spec.name,
            args=dict(req.args),
            requested_by=session.user,
            requested_name=session.name,
            station=session.station,
            requested_at=now,
            expires_at=now + int(self.policy.approval_timeout_s * 1e9),
            reason=(req.sign.reason if req.sign else "")[: self.settings.max_string_len],
            area=info.area,
            checks=checks,
            watch=watch[:8],
            old=old,
        )
        self._approvals[req.cmd_id] = _Request(
            req, session, identity, state, spec, 4, "approval", approval=approval
        )
        self.stats.approvals += 1
        self._audit(
            "approval_requested",
            session=session,
            req=req,
            area=info.area,
            outcome="pending",
            args=dict(req.args),
            reason=approval.reason,
            expires_at=approval.expires_at,
        )
        self.publisher.publish(approval_topic(req.machine), approval)
        status = self._status(
            req,
            "AWAITING_APPROVAL",
            "",
            f"Waiting for a Supervisor to approve {approval.label.lower()} on {info.name} "
            f"(until {time.strftime('%H:%M:%S', time.localtime(approval.expires_at / 1e9))}).",
            by=session.name,
            tier=4,
        )
        self.publisher.reply(identity, status)
        return [CommandSettled(status)]

    def _dispatch(
        self,
        identity: bytes,
        session: LiveSession,
        req: CommandRequest,
        state: MachineState,
        spec: CommandSpec,
        tier: int,
        approver: LiveSession | None = None,
    ) -> list[Event]:
        """Audit the decision, then route the command once that row is committed."""
        info = state.birth.machine
        now = time.time_ns()
        not_after = (
            now + int(DISPATCH_TTL_S * 1e9)
            if tier == 4
            else min(req.not_after, now + int(self.settings.command_ttl_s * 1e9))
        )
        cmd = Command(
            cmd_id=req.cmd_id,
            machine=req.machine,
            name=req.name,
            not_after=not_after,
            args=dict(req.args),
            issued_at=now,
            origin=req.origin,
            operator=session.user,
            approver=approver.user if approver is not None else "",
        )
        self._who[req.cmd_id] = (session.user, session.name, session.station, info.area)
        future = self._audit(
            "dispatched",
            session=session,
            req=req,
            area=info.area,
            outcome="sent",
            origin=req.origin,
            tier=tier,
            confirmed=req.confirmed,
            args=dict(req.args),
            not_after=not_after,
            approver=approver.name if approver is not None else "",
        )
        pending = _Request(req, session, identity, state, spec, tier, "audit", future)
        pending.approver = approver
        if future is None or not self.settings.audit_before_dispatch:
            return self._route(pending, cmd)
        self._requests[req.cmd_id] = pending
        self._held[req.cmd_id] = cmd
        return []

    def _route(self, pending: _Request, cmd: Command) -> list[Event]:
        self.stats.dispatched += 1
        stamp: dict[str, str | int] = {
            "name": cmd.name,
            "by": pending.session.name,
            "tier": pending.tier,
            "request_id": pending.req.request_id,
        }
        if pending.approver is not None:
            stamp["approved_by"] = pending.approver.name
        return self.commands.route(cmd, pending.identity, stamp)

    # -- approvals --------------------------------------------------------------------------------

    def _on_decision(self, sender: Sender, decision: ApprovalDecision) -> None:
        session = self._session_of(sender, decision.token)
        if session is None:
            self._reply(
                sender.identity,
                decision.request_id,
                False,
                "not_authenticated",
                "Log in to approve commands.",
            )
            return
        pending = self._approvals.get(decision.cmd_id[:128])
        if pending is None or pending.approval is None:
            self._reply(
                sender.identity,
                decision.request_id,
                False,
                "not_found",
                "That approval request is no longer pending.",
            )
            return
        why = ""
        if not session.has(*self.policy.approver_roles):
            why = f"Only a {' or '.join(sorted(self.policy.approver_roles))} may approve."
        elif session.areas and pending.approval.area not in session.areas:
            why = f"This station may not approve for area {pending.approval.area or '-'}."
        if why:
            self._audit(
                "refused",
                session=session,
                req=pending.req,
                area=pending.approval.area,
                outcome="not_authorised",
                message=why,
            )
            self._reply(sender.identity, decision.request_id, False, "not_authorised", why)
            return
        if session.user == pending.session.user:
            self._audit(
                "refused",
                session=session,
                req=pending.req,
                outcome="approver_is_requester",
            )
            self._reply(
                sender.identity,
                decision.request_id,
                False,
                "approver_is_requester",
                "You asked for this command; another Supervisor must approve it.",
            )
            return
        if not decision.approve:
            self._settle_approval(pending, "denied", session, decision)
            return
        sign = decision.sign
        if sign is None or not sign.secret:
            self._reply(
                sender.identity,
                decision.request_id,
                False,
                "signature_required",
                "Enter your PIN to approve.",
            )
            return
        assert self.people is not None
        future = self._kdf.submit(self.people.verify, session.user, sign.secret[:256])
        future.add_done_callback(lambda _f: self.wake())
        self._decisions.append(_Decision(sender.identity, session, decision, future))

    def _finish_decision(self, pending_decision: _Decision) -> list[Event]:
        result = pending_decision.future.result()
        decision, session = pending_decision.decision, pending_decision.session
        pending = self._approvals.get(decision.cmd_id[:128])
        if pending is None:
            self._reply(
                pending_decision.identity,
                decision.request_id,
                False,
                "not_found",
                "That approval request is no longer pending.",
            )
            return []
        if isinstance(result, Refusal):
            code = "locked_out" if result.code == "locked_out" else "bad_signature"
            self._audit(
                "refused",
                session=session,
                req=pending.req,
                area=pending.machine.birth.machine.area,
                outcome=code,
                message="an approval whose PIN did not match",
            )
            self._reply(
                pending_decision.identity,
                decision.request_id,
                False,
                code,
                result.sentence if code == "locked_out" else "The PIN did not match; not approved.",
            )
            return []
        return self._settle_approval(
            pending, "approved", session, decision, pending_decision.identity
        )

    def _settle_approval(
        self,
        pending: _Request,
        outcome: str,
        approver: LiveSession | None,
        decision: ApprovalDecision | None,
        identity: bytes = b"",
    ) -> list[Event]:
        assert pending.approval is not None
        del self._approvals[pending.req.cmd_id]
        now = time.time_ns()
        approval = msgspec.structs.replace(
            pending.approval,
            state=outcome,
            decided_by=approver.user if approver else "",
            decided_name=approver.name if approver else "",
            decided_at=now,
            note=(decision.sign.reason if decision and decision.sign else "")[:1024],
        )
        self.publisher.publish(approval_topic(pending.req.machine), approval)
        req, area = pending.req, approval.area
        kind = {"approved": "approved", "denied": "denied", "expired": "approval_expired"}.get(
            outcome, "cancelled"
        )
        self._audit(
            kind,
            session=approver,
            user="" if approver else pending.session.user,
            name="" if approver else pending.session.name,
            req=req,
            area=area,
            meaning="approved" if outcome == "approved" else "",
            outcome=outcome,
            requester=pending.session.name,
            note=approval.note,
        )
        if decision is not None:
            self._reply(
                identity or (approver.identity if approver else b""),
                decision.request_id,
                True,
                "ok",
                f"{outcome.capitalize()}: {approval.label.lower()} on {req.machine}.",
            )
        if outcome == "approved" and approver is not None:
            state = self.plant.machines.get(req.machine)
            if state is None or not state.online:
                return self._refuse(
                    pending.identity,
                    req,
                    "offline",
                    f"{req.machine} went offline before the approval; nothing was sent.",
                    pending.session,
                    area=area,
                )
            checks = self.checks_of(state, pending.spec)
            blocked = sentence(state.name, pending.spec.label or req.name, checks)
            if blocked:
                return self._refuse(
                    pending.identity, req, "interlock", blocked, pending.session, area=area
                )
            return self._dispatch(
                pending.identity, pending.session, req, state, pending.spec, 4, approver
            )
        cause, message = {
            "denied": ("denied", f"{approval.decided_name} denied {approval.label.lower()}."),
            "expired": (
                "approval_expired",
                f"Nobody approved {approval.label.lower()} on {req.machine} in time; it was "
                "not sent.",
            ),
            "withdrawn": ("cancelled", "Withdrawn before anyone approved it."),
        }[outcome]
        state_word = (
            "CANCELLED"
            if outcome == "withdrawn"
            else ("EXPIRED" if outcome == "expired" else "REJECTED")
        )
        self.stats.refused[cause] = self.stats.refused.get(cause, 0) + 1
        status = self._status(req, state_word, cause, message, by=pending.session.name, tier=4)
        self.publisher.reply(pending.identity, status)
        self.commands.remember(req.cmd_id, req.machine, req.name, pending.identity, status)
        return [CommandSettled(status)]

    def _on_cancel(self, sender: Sender, cancel: CommandCancel) -> None:
        session = self._session_of(sender, cancel.token)
        pending = self._approvals.get(cancel.cmd_id[:128])
        if session is None or pending is None or pending.session.user != session.user:
            self._reply(
                sender.identity,
                cancel.request_id,
                False,
                "not_found",
                "Only a command of yours that still awaits approval can be withdrawn.",
            )
            return
        self._later.extend(self._settle_approval(pending, "withdrawn", None, None))
        self.wake()
        self._reply(sender.identity, cancel.request_id, True, "ok", "Withdrawn.")

    # -- control authority ----------------------------------------------------------------------

    def _on_authority(self, sender: Sender, act: AuthorityAct) -> None:
        session = self._session_of(sender, act.token)
        if session is None:
            self._reply(
                sender.identity, act.request_id, False, "not_authenticated", "Log in first."
            )
            return
        scope = act.scope[:128]
        kind, _, name = scope.partition(":")
        area = name if kind == "area" else self._area_of_machine(name)
        if session.areas and area not in session.areas:
            self._reply(
                sender.identity,
                act.request_id,
                False,
                "not_authorised",
                f"This station may not take control outside its areas ({area or 'unknown'}).",
            )
            return
        if not scope.startswith(("machine:", "area:")):
            self._reply(
                sender.identity,
                act.request_id,
                False,
                "bad_scope",
                "A scope is machine:<id> or area:<name>.",
            )
            return
        result = self.authority.act(
            scope,
            act.act,
            key=session.key,
            station=session.station,
            user=session.user,
            name=session.name,
            supervisor=session.has("Supervisor"),
            now=time.time_ns(),
        )
        if isinstance(result, AuthorityRefusal):
            self._reply(sender.identity, act.request_id, False, result.code, result.sentence)
            return
        self._audit("authority", session=session, outcome=act.act, scope=scope, note=act.note[:256])
        self.publisher.publish(authority_topic(scope), result)
        self._reply(sender.identity, act.request_id, True, "ok", f"{act.act}: {scope}.")

    # -- audit queries ----------------------------------------------------------------------------

    def _on_audit_query(self, sender: Sender, query_: AuditQuery) -> None:
        session = self._session_of(sender, query_.token)
        if session is None or not session.has(*self.policy.audit_roles):
            self.publisher.reply(
                sender.identity,
                GateReply(
                    request_id=query_.request_id,
                    ok=False,
                    code="not_authorised",
                    message="Log in as a person whose role may read the audit trail.",
                ),
            )
            return
        limit = max(1, min(query_.limit, self.settings.max_reply_items))
        rows = (
            query(
                self.audit.path,
                since=query_.since,
                until=query_.until,
                machine=query_.machine[:64],
                user=query_.user[:64],
                kind=query_.kind[:64],
                limit=limit + 1,
            )
            if self.audit is not None
            else []
        )
        records = [_record(r) for r in rows[:limit]]
        self.publisher.reply(
            sender.identity,
            AuditRows(request_id=query_.request_id, rows=records, more=len(rows) > limit),
        )

    # -- events, ticks, snapshots ----------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Audit every status; resend SESSION (new grants) when a machine is born."""
        if isinstance(event, CommandSettled):
            status = event.status
            who = self._who.get(status.cmd_id)
            if who is None:
                return
            user, name, station, area = who
            kind = "result" if status.state in FINAL_STATES else "status"
            self._audit(
                kind,
                user=user,
                name=name,
                station=station,
                machine=status.machine,
                area=area,
                command=status.name,
                cmd_id=status.cmd_id,
                outcome=f"{status.state}{'/' + status.cause if status.cause else ''}",
                message=status.message,
                observed=status.observed,
            )
            if status.state in FINAL_STATES:
                self._who.pop(status.cmd_id, None)
        elif isinstance(event, MachineBorn):
            for session in list(self.sessions.sessions.values()):
                self.publisher.reply(session.identity, self._session_body(session))

    def on_wake(self) -> list[Event]:
        """Finish what a worker thread or the audit writer completed."""
        events, self._later = self._later, []
        done = [p for p in self._logins if p.future.done()]
        if done:
            self._logins = [p for p in self._logins if not p.future.done()]
            for login in done:
                self._finish_login(login)
        decided = [d for d in self._decisions if d.future.done()]
        if decided:
            self._decisions = [d for d in self._decisions if not d.future.done()]
            for d in decided:
                events.extend(self._finish_decision(d))
        for cmd_id, pending in list(self._requests.items()):
            if pending.future is None or not pending.future.done():
                continue
            if pending.stage == "sign":
                events.extend(self._signed(pending))
            elif pending.stage == "audit":
                del self._requests[cmd_id]
                cmd = self._held.pop(cmd_id)
                events.extend(self._route(pending, cmd))
        return events

    def tick(self, now: float) -> list[Event]:
        """Approvals that ran out; sessions left idle; anything a worker finished."""
        events: list[Event] = []
        wall = time.time_ns()
        for pending in list(self._approvals.values()):
            assert pending.approval is not None
            if wall > pending.approval.expires_at:
                events.extend(self._settle_approval(pending, "expired", None, None))
        for session in self.sessions.expire(now):
            self._audit("session_locked", session=session, outcome="idle")
        events.extend(self.on_wake())
        return events

    def snapshot(self, prefix: str) -> Sequence[Body]:
        """Pending approvals of the machines under ``prefix``, and every held authority."""
        out: list[Body] = [
            p.approval
            for p in self._approvals.values()
            if p.approval is not None and p.req.machine.startswith(prefix)
        ]
        out.extend(self.authority.held.values())
        return out


def _record(row: AuditRow) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        at=row.at,
        kind=row.kind,
        user=row.user,
        name=row.name,
        station=row.station,
        machine=row.machine,
        area=row.area,
        command=row.command,
        cmd_id=row.cmd_id,
        meaning=row.meaning,
        outcome=row.outcome,
        detail=row.detail,
    )


def _voice_facts(voice: VoiceFacts) -> dict[str, object]:
    """A request's voice facts as an audit row keeps them (texts bounded, confidence a number)."""
    confidence = voice.confidence if 0.0 <= voice.confidence <= 1.0 else None
    return {
        "transcript": voice.transcript[:AUDIT_TEXT_MAX],
        "engine": voice.engine[:64],
        "confidence": None if confidence is None else round(confidence, 4),
        "grammar_version": voice.grammar_version[:64],
    }


def _bounded(value: object) -> object:
    """What a peer chose, bounded before it goes into an audit row (texts, argument maps)."""
    if isinstance(value, str):
        return value[:AUDIT_TEXT_MAX]
    if isinstance(value, dict):
        return {str(k)[:64]: _bounded(v) for k, v in list(value.items())[:AUDIT_ITEMS_MAX]}
    if isinstance(value, list):
        return [_bounded(v) for v in value[:AUDIT_ITEMS_MAX]]
    return value
