"""The station's side of the command gate: who is logged in, approvals, control authority.

A person logs in through the hub (:meth:`StationGate.login`); the hub answers with a
``SESSION`` whose token every later request carries — the station never says who is asking,
the hub knows. Commands go as ``CMD_REQ`` (:meth:`StationGate.request`) and are followed like
any command (:class:`~copilot.station.events.CommandUpdated`, in lifecycle order). Two-person
approvals and control authority arrive on the update stream (``g/``) and in snapshots; the
station keeps the latest of each (:attr:`StationGate.approvals`, :attr:`StationGate.authority`).

Public methods may be called from any thread; ``on_*`` run on the I/O thread only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from copilot.protocol import (
    ACTIVE_STATES,
    AnomalyFeedback,
    Approval,
    ApprovalDecision,
    AuditQuery,
    AuditRows,
    Authority,
    AuthorityAct,
    AuthorityAction,
    Body,
    CommandCancel,
    CommandQuery,
    CommandRequest,
    CommandStatus,
    GateReply,
    Grant,
    Login,
    Logout,
    Origin,
    Scalar,
    Session,
    SessionPing,
    Signature,
    VoiceFacts,
)
from copilot.station.events import (
    ApprovalsChanged,
    AuditArrived,
    AuthorityChanged,
    Event,
    GateAnswered,
    SessionChanged,
)
from copilot.station.store import StationStore

PING_EVERY_S = 30.0  # a station tells the hub its person is still there at most this often
KEEP_DECIDED_S = 120.0  # a decided or expired approval stays listed this long (seen, not lost)


class StationGate:
    """Session, requests, approvals and authority of one station."""

    def __init__(
        self,
        store: StationStore,
        submit: Callable[[Body], None],
        emit: Callable[[Event], None],
        next_id: Callable[[], int],
        apply_status: Callable[[CommandStatus], object],
    ) -> None:
        self._store = store
        self._submit = submit
        self._emit = emit
        self._next_id = next_id
        self._apply_status = apply_status
        self.session: Session | None = None
        self.approvals: dict[str, Approval] = {}
        self.authority: dict[str, Authority] = {}
        self._logins: set[int] = set()
        self._audit: set[int] = set()
        self._snapshot: dict[str, Approval] | None = None
        self._snapshot_authority: dict[str, Authority] = {}
        self._grants: dict[tuple[str, str], Grant] = {}
        self._last_ping = 0.0

    # -- any thread -------------------------------------------------------------------------------

    def login(self, user: str, secret: str) -> int:
        """Ask the hub to log ``user`` in; answered by SessionChanged or GateAnswered(ok=False)."""
        request_id = self._next_id()
        self._logins.add(request_id)
        self._submit(Login(user=user.strip(), secret=secret, request_id=request_id))
        return request_id

    def logout(self, reason: str = "user") -> None:
        """End the session here at once, and tell the hub."""
        session = self.session
        if session is None:
            return
        self._set_session(None, reason)
        why = reason if reason in ("user", "idle", "switch") else "user"
        self._submit(Logout(token=session.token, reason=why, request_id=self._next_id()))  # type: ignore[arg-type]

    def keep_alive(self, now: float | None = None) -> bool:
        """The person is still here (input without a request): tell the hub.

        At most every :data:`PING_EVERY_S`; whether a ping went out.
        """
        session = self.session
        now = time.monotonic() if now is None else now
        if session is None or now - self._last_ping < PING_EVERY_S:
            return False
        self._last_ping = now
        self._submit(SessionPing(token=session.token))
        return True

    def grant(self, machine: str, name: str) -> Grant | None:
        """What the logged-in person may do with ``name`` on ``machine`` (None: nobody in)."""
        return self._grants.get((machine, name))

    def request(
        self,
        machine: str,
        name: str,
        args: dict[str, Scalar] | None = None,
        *,
        origin: Origin = "touch",
        confirmed: bool = False,
        sign: Signature | None = None,
        ttl_s: float = 10.0,
        cmd_id: str | None = None,
        voice: VoiceFacts | None = None,
    ) -> str:
        """Ask the gate to run a command; its statuses come as CommandUpdated events.

        ``voice``: what the recogniser heard (origin ``voice``), for the hub's audit trail.
        """
        cmd_id = cmd_id or uuid.uuid4().hex
        now = time.time_ns()
        session = self.session
        if session is None:
            self._apply_status(
                CommandStatus(
                    cmd_id=cmd_id,
                    machine=machine,
                    state="REJECTED",
                    cause="not_authenticated",
                    message="Nobody is logged in on this station; log in first.",
                    at=now,
                    name=name,
                )
            )
            return cmd_id
        request_id = self._next_id()
        if cmd_id not in self._store.commands:
            self._apply_status(
                CommandStatus(
                    cmd_id=cmd_id,
                    machine=machine,
                    state="SENT",
                    at=now,
                    name=name,
                    by=session.name,
                    request_id=request_id,
                )
            )
        self._submit(
            CommandRequest(
                token=session.token,
                cmd_id=cmd_id,
                machine=machine,
                name=name,
                not_after=now + int(ttl_s * 1e9),
                args=dict(args or {}),
                origin=origin,
                confirmed=confirmed,
                sign=sign,
                request_id=request_id,
                voice=voice,
            )
        )
        return cmd_id

    def cancel(self, cmd_id: str) -> int:
        """Withdraw a command of yours that awaits approval; answered by GateAnswered."""
        return self._ask(
            lambda token, rid: CommandCancel(token=token, cmd_id=cmd_id, request_id=rid)
        )

    def decide(self, cmd_id: str, approve: bool, secret: str = "", note: str = "") -> int:
        """Approve (with your PIN again) or deny a two-person command; answered by GateAnswered."""
        sign = Signature(secret=secret, reason=note) if (secret or note) else None
        return self._ask(
            lambda token, rid: ApprovalDecision(
                token=token, cmd_id=cmd_id, approve=approve, sign=sign, request_id=rid
            )
        )

    def act_on_authority(self, scope: str, act: AuthorityAction, note: str = "") -> int:
        """Take, release, request, grant, refuse or override control of a scope."""
        return self._ask(
            lambda token, rid: AuthorityAct(
                token=token, scope=scope, act=act, note=note, request_id=rid
            )
        )

    def query_audit(
        self,
        since: int = 0,
        until: int = 0,
        machine: str = "",
        user: str = "",
        kind: str = "",
        limit: int = 500,
    ) -> int:
        """Ask for audit rows (ns times); answered by AuditArrived."""
        request_id = self._next_id()
        session = self.session
        if session is None:
            self._emit(AuditArrived(request_id, (), refused="Log in to read the audit trail."))
            return request_id
        self._audit.add(request_id)
        self._submit(
            AuditQuery(
                token=session.token,
                since=since,
                until=until,
                machine=machine,
                user=user,
                kind=kind,
                limit=limit,
                request_id=request_id,
            )
        )
        return request_id

    def ask(self, build: Callable[[str, int], Body]) -> int:
        """Send ``build(token, request_id)`` as the logged-in person (GateAnswered answers)."""
        return self._ask(build)

    def _ask(self, build: Callable[[str, int], Body]) -> int:
        request_id = self._next_id()
        session = self.session
        if session is None:
            self._emit(GateAnswered(request_id, False, "not_authenticated", "Log in first."))
            return request_id
        self._submit(build(session.token, request_id))
        return request_id

    def _set_session(self, session: Session | None, reason: str) -> None:
        self.session = session
        self._grants = {(g.machine, g.name): g for g in session.grants} if session else {}
        self._emit(SessionChanged(session, reason))

    # -- I/O thread -------------------------------------------------------------------------------

    def on_reply(self, body: Body) -> bool:
        """A reply from the hub that is the gate's; whether it was."""
        match body:
            case Session():
                known = self.session
                if body.request_id in self._logins:
                    self._logins.discard(body.request_id)
                    self._set_session(body, "login")
                elif known is not None and known.token == body.token:
                    self._set_session(body, "grants")  # a machine was born: new grants
                return True
            case GateReply():
                self._logins.discard(body.request_id)
                if body.code == "not_authenticated" and self.session is not None:
                    self._set_session(None, "ended")
                self._emit(GateAnswered(body.request_id, body.ok, body.code, body.message))
                if body.request_id in self._audit:
                    self._audit.discard(body.request_id)
                    self._emit(AuditArrived(body.request_id, (), refused=body.message))
                return True
            case AuditRows():
                self._audit.discard(body.request_id)
                self._emit(AuditArrived(body.request_id, tuple(body.rows), body.more))
                return True
            case Approval():
                if body.request_id and self._snapshot is not None:
                    self._snapshot[body.cmd_id] = body
                else:
                    self._apply_approval(body)
                return True
            case Authority():
                if body.request_id and self._snapshot is not None:
                    self._snapshot_authority[body.scope] = body
                else:
                    self._apply_authority(body)
                return True
            case CommandStatus() if body.cause == "not_authenticated" and self.session:
                if body.request_id:  # the hub no longer knows our token (it restarted)
                    self._set_session(None, "ended")
                return False
        return False

    def on_update(self, body: Body) -> bool:
        """An update from the hub's stream that is the gate's; whether it was."""
        if isinstance(body, Approval):
            self._apply_approval(body)
            return True
        if isinstance(body, Authority):
            self._apply_authority(body)
            return True
        return False

    def snapshot_started(self) -> None:
        """A snapshot was asked for: approvals and authority will be replaced by its own."""
        self._snapshot = {}
        self._snapshot_authority = {}

    def snapshot_done(self, hub_restarted: bool) -> None:
        """The snapshot ended: what it held is the truth (decided ones stay a while)."""
        if self._snapshot is None:
            return
        fresh, self._snapshot = self._snapshot, None
        now = time.time_ns()
        kept = {
            k: a
            for k, a in self.approvals.items()
            if a.state != "pending" and now - a.decided_at < KEEP_DECIDED_S * 1e9
        }
        self.approvals = {**kept, **fresh}
        self.authority = {s: a for s, a in self._snapshot_authority.items() if a.holder}
        self._emit(ApprovalsChanged(tuple(self.approvals)))
        self._emit(AuthorityChanged(tuple(self.authority)))
        if hub_restarted and self.session is not None:
            self._set_session(None, "hub_restarted")
        # Answers may have been lost while the link was down: ask, never resend.
        for cmd_id, status in list(self._store.commands.items()):
            if status.state in ACTIVE_STATES:
                self._submit(CommandQuery(cmd_id=cmd_id, machine=status.machine))

    def _apply_approval(self, approval: Approval) -> None:
        if self._store.areas and approval.area not in self._store.areas:
            return  # another area's: this station neither shows nor decides it
        self.approvals[approval.cmd_id] = approval
        self._emit(ApprovalsChanged((approval.cmd_id,)))

    def _apply_authority(self, authority: Authority) -> None:
        if authority.holder:
            self.authority[authority.scope] = authority
        else:
            self.authority.pop(authority.scope, None)
        self._emit(AuthorityChanged((authority.scope,)))

    def prune(self, now_ns: int | None = None) -> None:
        """Forget decided approvals after a while, and pending ones past their expiry."""
        now = time.time_ns() if now_ns is None else now_ns
        gone = [
            k
            for k, a in self.approvals.items()
            if (a.state != "pending" and now - a.decided_at > KEEP_DECIDED_S * 1e9)
            or (a.state == "pending" and now > a.expires_at + int(KEEP_DECIDED_S * 1e9))
        ]
        for k in gone:
            del self.approvals[k]
        if gone:
            self._emit(ApprovalsChanged(tuple(gone)))

    def unsent(self, body: Body) -> bool:
        """The link could not send a gate message: say so instead of losing it."""
        why = "The hub cannot be reached; nothing was sent."
        match body:
            case CommandRequest():
                self._apply_status(
                    CommandStatus(
                        cmd_id=body.cmd_id,
                        machine=body.machine,
                        state="REJECTED",
                        cause="hub_unreachable",
                        message=why,
                        at=time.time_ns(),
                        name=body.name,
                    )
                )
            case (
                Login() | ApprovalDecision() | CommandCancel() | AuthorityAct() | AnomalyFeedback()
            ):
                self._logins.discard(body.request_id)
                self._emit(GateAnswered(body.request_id, False, "hub_unreachable", why))
            case AuditQuery():
                self._audit.discard(body.request_id)
                self._emit(AuditArrived(body.request_id, (), refused=why))
            case Logout() | SessionPing():
                pass
            case _:
                return False
        return True
