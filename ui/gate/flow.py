"""The gate on this station: session, inactivity lock, the command flow, approvals and audit.

:class:`QtGate` is the one place where the gate's widgets meet the station core: it listens to
the station's events (``SessionChanged``, ``GateAnswered``, ``CommandUpdated``,
``ApprovalsChanged``, ``AuthorityChanged``, ``AuditArrived``) and turns taps into calls on the
station (``login``, ``logout``, ``request_command``, ``cancel_command``, ``decide_approval``,
``act_on_authority``, ``query_audit``). Nothing here decides whether a command may run — the
hub's gate does; the buttons only explain in advance (:mod:`copilot.gate.panel`).

A pressed command goes: arguments (number pad or choices) → its tier's sheet (tier 1 none,
2 confirm, 3 sign, 4 two-person) → ``request_command`` → its status in place on the panel. The
inactivity clock warns after the session's ``idle_warn_s`` and locks at ``idle_lock_s``; a
sheet open at the lock is cancelled and the lock screen says it was not sent; commands in
flight go on and are listed there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from copilot.gate.checks import evaluate
from copilot.gate.panel import (
    DEMO_USERS,
    NOT_SENT,
    ApprovalFacts,
    AuditFilter,
    IdleClock,
    RecentUsers,
    approval_facts,
    authority_facts,
    authority_of,
    cause_sentence,
    change_text,
    command_buttons,
    current_tag,
    in_flight_text,
    label_of,
    numeric,
    open_requests,
    pending_line,
)
from copilot.protocol import (
    ACTIVE_STATES,
    ArgSpec,
    CheckState,
    CommandSpec,
    CommandStatus,
    Scalar,
    Signature,
    Value,
    severity_of,
)
from copilot.station import (
    ApprovalsChanged,
    AuditArrived,
    AuthorityChanged,
    CommandUpdated,
    GateAnswered,
    MachineSnapshot,
    SessionChanged,
)
from ui.context import StationContext
from ui.gate.approvals import QtApprovalQueue, QtBadge
from ui.gate.audit import QtAuditView
from ui.gate.login import QtLoginScreen
from ui.gate.look import apply_style
from ui.gate.panel import QtCommandPanel
from ui.gate.sheets import (
    QtArgSheet,
    QtConfirmSheet,
    QtDenySheet,
    QtSheet,
    QtSignSheet,
    QtTwoPersonSheet,
)

log = logging.getLogger(__name__)

IDLE_CHECK_S = 0.5  # the inactivity clock is looked at twice a second (on the frame clock)
QUEUE_S = 1.0  # the approval cards' countdowns
INPUT_EVENTS = frozenset(
    {
        QEvent.Type.MouseButtonPress,
        QEvent.Type.KeyPress,
        QEvent.Type.TouchBegin,
        QEvent.Type.Wheel,
    }
)


@dataclass
class _Mine:
    """A command this station asked for: what the panel and the lock screen call it."""

    machine: str
    machine_name: str
    label: str
    at: float


class QtGate(QObject):
    """The station's gate: one per window; ``host`` is the widget the sheets and lock cover."""

    approvals_count = Signal(int)
    notice = Signal(str)  # one sentence for the status bar (authority acts, decisions)
    session_changed = Signal(object)  # the Session, or None

    def __init__(self, ctx: StationContext, host: QWidget, demo_hint: str = "") -> None:
        super().__init__(host)
        self.ctx = ctx
        self.host = host
        self.demo_hint = demo_hint
        self.users = RecentUsers(extras=DEMO_USERS if demo_hint else ())
        self.idle = IdleClock(warn_s=240.0, lock_s=300.0, last_input=time.monotonic())
        self.login = QtLoginScreen(host, ctx.theme, demo_hint)
        self.login.set_users(self.users.choices())
        self.login.login_requested.connect(self._on_login)
        self.login.view_only.connect(self.login.hide)
        self.idle_banner = QLabel()
        self.idle_banner.setObjectName("gateWarn")
        apply_style(self.idle_banner, ctx.theme)
        self.idle_banner.hide()
        self.queue = QtApprovalQueue(ctx.theme)
        self.queue.approve_requested.connect(self.approve)
        self.queue.deny_requested.connect(self.deny)
        self.audit = QtAuditView(ctx.theme)
        self.audit.query_requested.connect(self._on_audit_query)
        self.badge = QtBadge()
        apply_style(self.badge, ctx.theme)
        self.panels: dict[QtCommandPanel, Callable[[], str | None]] = {}
        self.sheets: list[tuple[QtSheet, str, str]] = []  # open sheets: (sheet, label, machine)
        self.mine: dict[str, _Mine] = {}
        self.two_person: dict[str, QtTwoPersonSheet] = {}
        self._asks: dict[int, Callable[[GateAnswered], None]] = {}
        self._audit_request = 0
        self._seen_requests: set[str] = set()
        self._last_idle = 0.0
        self._last_queue = 0.0
        self._locked_by = ""
        self.chime: Callable[[], None] | None = None  # a new request to approve (ui.sound)
        ctx.event.connect(self._on_event)
        ctx.frame.connect(self._on_frame)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        host.destroyed.connect(self._uninstall)
        # The station starts in view only (alarms can be seen and handled); the login screen
        # comes with Ctrl+L, a command tapped while nobody is logged in, and every lock.

    def _uninstall(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    # -- the session --------------------------------------------------------------------------

    @property
    def session(self):  # type: ignore[no-untyped-def]
        """The station's session (``None`` while nobody is logged in)."""
        return self.ctx.station.session

    def roles(self) -> list[str]:
        """The logged-in person's roles."""
        s = self.session
        return list(s.roles) if s is not None else []

    def _on_login(self, user: str, secret: str) -> None:
        request = self.ctx.station.login(user, secret)
        self._asks[request] = self._login_answered

    def _login_answered(self, answer: GateAnswered) -> None:
        if not answer.ok:
            self.login.show_refusal(cause_sentence(answer.code, answer.message))

    def _on_session(self, event: SessionChanged) -> None:
        session = event.session
        if session is not None:
            self.users.used(session.user)
            self.login.set_users(self.users.choices())
            self.login.reset()
            self.login.set_notices([])
            self.login.hide()
            self.idle = IdleClock(session.idle_warn_s, session.idle_lock_s, time.monotonic())
            self._locked_by = session.name
            self.notice.emit(f"{session.name} logged in ({', '.join(session.roles)}).")
        else:
            why = {
                "idle": "Locked after a time without input.",
                "switch": "Switch user: the next person logs in.",
                "user": "Logged out.",
            }.get(event.reason, "The session ended; log in again.")
            self.idle_banner.hide()
            self.show_lock(why)
        self.session_changed.emit(session)
        self.refresh_panels()
        self._refresh_queue()

    def show_lock(self, why: str) -> None:
        """The lock screen, listing what is still in flight from this station."""
        if self._locked_by:
            self.login.set_locked(self._locked_by, why)
        else:
            self.login.set_login()
        lines = []
        for cmd_id, status in self._statuses().items():
            mine = self.mine.get(cmd_id)
            if mine is not None and status.state in ACTIVE_STATES:
                lines.append(in_flight_text(status, mine.machine_name).replace(
                    status.name.replace("_", " ").capitalize() or cmd_id[:8], mine.label, 1
                ))  # fmt: skip
        self.login.set_in_flight(lines)
        self.login.open()

    def lock(self, reason: str = "idle") -> None:
        """Lock now: cancel open sheets (saying so), end the session, show the lock screen."""
        notices = []
        for sheet, label, machine in list(self.sheets):
            if isinstance(sheet, QtTwoPersonSheet) and sheet.waiting:
                sheet.dismiss()  # the request goes on; the lock screen lists it
                continue
            notices.append(NOT_SENT.format(label=label, machine=machine))
            sheet.cancel()
        self.sheets.clear()
        self.login.set_notices(notices)
        if self.session is not None:
            self.ctx.station.logout(reason)
        self.idle_banner.hide()
        self.show_lock("Locked after a time without input." if reason == "idle" else "Switch user.")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        """Any touch, click or key counts as activity."""
        if event.type() in INPUT_EVENTS:
            self.idle.touch(time.monotonic())
            self.ctx.station.keep_session_alive()  # the hub's idle clock too (throttled there)
        return False

    def _check_idle(self) -> None:
        if self.session is None:
            self.idle_banner.hide()
            return
        now = time.monotonic()
        phase, _left = self.idle.phase(now)
        if phase == "locked":
            self.lock("idle")
        elif phase == "warn":
            self.idle_banner.setText(self.idle.warning(now))
            self.idle_banner.show()
        else:
            self.idle_banner.hide()

    # -- events and frames -------------------------------------------------------------------

    def _on_event(self, event: object) -> None:
        match event:
            case SessionChanged():
                self._on_session(event)
            case GateAnswered():
                handler = self._asks.pop(event.request_id, None)
                if handler is not None:
                    handler(event)
            case CommandUpdated():
                self._on_status(event.status)
                self.refresh_panels()
            case ApprovalsChanged():
                self._refresh_queue()
                self._follow_two_person()
            case AuthorityChanged():
                self.refresh_panels()
            case AuditArrived():
                if event.request_id == self._audit_request:
                    self.audit.set_rows(event.rows, event.more, event.refused)

    def _on_frame(self, now: float) -> None:
        mono = time.monotonic()
        if mono - self._last_idle >= IDLE_CHECK_S:
            self._last_idle = mono
            self._check_idle()
        if mono - self._last_queue >= QUEUE_S:
            self._last_queue = mono
            self._refresh_queue()
            self.refresh_panels()
            if self.queue.isVisible():
                self.queue.refresh_plots(self.ctx.store.window, now)

    def _statuses(self) -> dict[str, CommandStatus]:
        return dict(self.ctx.store.commands)

    # -- the command panel -------------------------------------------------------------------

    def attach(self, panel: QtCommandPanel, machine: Callable[[], str | None]) -> None:
        """Drive ``panel`` for whichever machine ``machine()`` names."""
        self.panels[panel] = machine
        panel.command_pressed.connect(lambda name: self._pressed(panel, name))
        panel.authority_act.connect(lambda act: self._authority(panel, act))
        panel.login_wanted.connect(lambda: self.show_lock("Log in to command machines."))
        panel.destroyed.connect(lambda: self.panels.pop(panel, None))
        self.refresh_panel(panel)

    def refresh_panels(self) -> None:
        """Every attached panel, now."""
        for panel in list(self.panels):
            self.refresh_panel(panel)

    def _snapshot(self, machine: str) -> MachineSnapshot | None:
        for snap in self.ctx.store.machines():
            if snap.info.id == machine:
                return snap
        return None

    def checks(self, snap: MachineSnapshot) -> dict[str, list[CheckState]]:
        """Each command's interlocks and permissives from this station's live values."""
        readings = {r.tag: r for r in self.ctx.store.readings(snap.info.id)}

        def value_of(tag: str) -> tuple[float | None, int, int]:
            r = readings.get(tag)
            if r is None:
                return None, 0x80, 0
            return numeric(r.spec, r.value), r.quality, int(r.ts * 1e9)

        return {c.name: evaluate(c.checks, value_of) for c in snap.commands if c.checks}

    def refresh_panel(self, panel: QtCommandPanel) -> None:
        """Buttons, pending lines and control authority of the panel's machine."""
        machine = self.panels.get(panel, lambda: None)()
        snap = self._snapshot(machine) if machine else None
        if snap is None:
            panel.set_buttons([])
            panel.set_pending([])
            panel.set_authority(None)
            return
        session = self.session
        name = snap.info.name or snap.info.id
        grants = {}
        if session is not None:
            grants = {g.name: g for g in session.grants if g.machine == snap.info.id}
        statuses = self._statuses()
        mine = [(cmd_id, m) for cmd_id, m in self.mine.items() if m.machine == snap.info.id]
        pending = {
            statuses[c].name
            for c, _ in mine
            if c in statuses and statuses[c].state in ACTIVE_STATES
        }
        authorities = getattr(self.ctx.station, "authority", {}) or {}
        holder = authority_of(authorities, snap.info.id, snap.info.area)
        station_key = session.station if session is not None else ""
        panel.set_buttons(
            command_buttons(
                name,
                snap.commands,
                logged_in=session is not None,
                grants=grants,
                online=snap.online,
                checks=self.checks(snap),
                authority=holder,
                station=station_key,
                pending=pending,
            )
        )
        specs = {t.name: t for t in snap.tags}
        approvals = self._approvals()
        now_ns = time.time_ns()
        lines = []
        for cmd_id, m in sorted(mine, key=lambda item: -item[1].at):
            status = statuses.get(cmd_id)
            if status is None:
                continue
            approval = approvals.get(cmd_id)
            expires = approval.expires_at if approval is not None else 0
            lines.append(pending_line(status, m.label, specs, now_ns, expires))
        panel.set_pending(lines)
        panel.set_authority(
            authority_facts(
                holder, station=station_key, roles=self.roles(), logged_in=session is not None
            )
        )

    def _old_values(self, snap: MachineSnapshot, args: list[ArgSpec]) -> dict[str, Value]:
        old: dict[str, Value] = {}
        for arg in args:
            tag = current_tag(arg, snap.tags)
            if tag is None:
                continue
            r = self.ctx.store.reading(snap.info.id, tag.name)
            if r is not None and severity_of(r.quality) < 2:
                old[arg.name] = r.value
        return old

    def suggest(self, machine: str, name: str, args: dict[str, Scalar], note: str = "") -> bool:
        """A co-pilot suggestion tapped: the command's sheets, pre-filled, origin suggestion.

        Nothing is sent until the person confirms; ``False`` if the machine or the command is
        not known here (nothing opens). A tap while nobody is logged in asks for a login first.
        """
        snap = self._snapshot(machine)
        spec = next((c for c in snap.commands if c.name == name), None) if snap else None
        if snap is None or spec is None:
            return False
        if self.session is None:
            self.show_lock("Log in to act on the co-pilot's suggestion.")
            return True
        self.press(snap, spec, origin="suggestion", preset=args, note=note)
        return True

    def _pressed(self, panel: QtCommandPanel, name: str) -> None:
        machine = self.panels.get(panel, lambda: None)()
        snap = self._snapshot(machine) if machine else None
        spec = next((c for c in snap.commands if c.name == name), None) if snap else None
        if snap is None or spec is None:
            return
        self.press(snap, spec)

    def press(
        self,
        snap: MachineSnapshot,
        spec: CommandSpec,
        origin: str = "touch",
        preset: dict[str, Scalar] | None = None,
        note: str = "",
    ) -> None:
        """Run ``spec`` on the machine through its arguments and its tier's sheet.

        ``preset`` pre-fills the arguments (a co-pilot suggestion, ``origin="suggestion"``):
        the person still sees and may change them, and a suggestion always asks for a
        confirmation, even for a one-tap command.
        """
        grant = self.ctx.station.grant(snap.info.id, spec.name)
        tier = grant.tier if grant is not None else 2
        if origin == "suggestion":
            tier = max(tier, 2)  # the person confirms what the co-pilot proposed
        old = self._old_values(snap, spec.args)
        machine_name = snap.info.name or snap.info.id
        label = label_of(spec)
        if spec.args:
            # A suggestion's sheet says so in its title: a note line would squeeze the pad.
            suggested = " · suggested" if origin == "suggestion" else ""
            sheet = QtArgSheet(
                self.host,
                self.ctx.theme,
                f"{label} · {machine_name}{suggested}",
                spec.args,
                old,
                preset=preset,
                note=note,
            )
            self._track(sheet, label, machine_name)
            sheet.accepted.connect(
                lambda args: self._tiered(snap, spec, tier, args, old, origin, note)
            )
            sheet.open()
        else:
            self._tiered(snap, spec, tier, {}, old, origin, note)

    def _tiered(
        self,
        snap: MachineSnapshot,
        spec: CommandSpec,
        tier: int,
        args: dict[str, Scalar],
        old: dict[str, Value],
        origin: str,
        note: str = "",
    ) -> None:
        machine_name = snap.info.name or snap.info.id
        label = label_of(spec)
        changes = [
            f"{(a.description or a.name).capitalize()}: "
            + change_text(a, old.get(a.name), args[a.name])
            for a in spec.args
            if a.name in args
        ]

        def send(confirmed: bool, sign: Signature | None = None) -> str:
            cmd_id = self.ctx.station.request_command(
                snap.info.id, spec.name, args, origin=origin, confirmed=confirmed, sign=sign
            )
            self.mine[cmd_id] = _Mine(snap.info.id, machine_name, label, time.time())
            self.refresh_panels()
            return cmd_id

        if tier <= 1:
            send(False)
            return
        if tier == 2:
            confirm = QtConfirmSheet(
                self.host, self.ctx.theme, machine_name, label, changes, note=note
            )
            self._track(confirm, label, machine_name)
            confirm.confirmed.connect(lambda: send(True))
            confirm.open()
            return
        session = self.session
        printed = session.name if session is not None else ""
        if tier == 3:
            sign = QtSignSheet(
                self.host,
                self.ctx.theme,
                title=f"Sign: {label} · {machine_name}",
                lines=changes or [f"{label} on {machine_name}"],
                printed_name=printed,
                meaning="performed",
            )
            self._track(sign, label, machine_name)
            sign.signed.connect(
                lambda secret, reason: send(True, Signature(secret=secret, reason=reason))
            )
            sign.open()
            return
        two = QtTwoPersonSheet(
            self.host, self.ctx.theme, machine=machine_name, command=label, changes=changes
        )
        self._track(two, label, machine_name)

        def ask(secret: str, reason: str) -> None:
            cmd_id = send(True, Signature(secret=secret, reason=reason))
            self.two_person[cmd_id] = two
            two.withdrawn.connect(lambda: self.ctx.station.cancel_command(cmd_id))
            self._follow_two_person()

        two.requested.connect(ask)
        two.open()

    def _track(self, sheet: QtSheet, label: str, machine: str) -> None:
        entry = (sheet, label, machine)
        self.sheets.append(entry)
        sheet.destroyed.connect(lambda: self.sheets.remove(entry) if entry in self.sheets else None)

    def _on_status(self, status: CommandStatus) -> None:
        two = self.two_person.get(status.cmd_id)
        if two is None:
            return
        if status.state == "AWAITING_APPROVAL":
            self._follow_two_person()
        elif status.state in ("ACCEPTED", "EXECUTING", "COMPLETED"):
            by = f" by {status.approved_by}" if status.approved_by else ""
            two.set_outcome(f"Approved{by}; the command is on its way.", ok=True)
            self.two_person.pop(status.cmd_id, None)
        elif status.state not in ACTIVE_STATES:
            if status.state != "CANCELLED":
                two.set_outcome(cause_sentence(status.cause, status.message), ok=False)
            self.two_person.pop(status.cmd_id, None)

    def _follow_two_person(self) -> None:
        approvals = self._approvals()
        for cmd_id, sheet in list(self.two_person.items()):
            approval = approvals.get(cmd_id)
            if approval is not None and approval.state == "pending":
                sheet.set_waiting(approval.expires_at)

    # -- control authority -------------------------------------------------------------------

    def _authority(self, panel: QtCommandPanel, act: str) -> None:
        machine = self.panels.get(panel, lambda: None)()
        if not machine:
            return
        request = self.ctx.station.act_on_authority(f"machine:{machine}", act)
        self._asks[request] = lambda a: self._answered(a, panel)

    def _answered(self, answer: GateAnswered, panel: QtCommandPanel | None = None) -> None:
        text = answer.message or ("Done." if answer.ok else cause_sentence(answer.code))
        if panel is not None and not answer.ok:
            panel.why.setProperty("command", "")
            panel.why.setText(f"✕ {text}")
            panel.why.show()
        self.notice.emit(text)
        self.refresh_panels()

    # -- approvals ---------------------------------------------------------------------------

    def _approvals(self):  # type: ignore[no-untyped-def]
        return dict(getattr(self.ctx.station, "approvals", {}) or {})

    def _refresh_queue(self) -> None:
        now_ns = time.time_ns()
        session = self.session
        user = session.user if session is not None else ""
        roles = self.roles()
        live = open_requests(self._approvals().values(), now_ns)
        items: list[tuple[ApprovalFacts, str, list[str], list[str], list[str]]] = []
        alarms = self.ctx.station.alarms.all()
        for approval in live:
            snap = self._snapshot(approval.machine)
            specs: list[ArgSpec] = []
            units: list[str] = []
            name = approval.machine
            if snap is not None:
                name = snap.info.name or snap.info.id
                spec = next((c for c in snap.commands if c.name == approval.name), None)
                specs = list(spec.args) if spec is not None else []
                by_tag = {t.name: t.unit for t in snap.tags}
                units = [by_tag.get(t, "") for t in approval.watch]
            facts = approval_facts(
                approval, now_ns, user=user, roles=roles, machine_name=name, specs=specs
            )
            active = [
                f"{s.priority.upper()} {s.message or s.id}"
                for s in alarms.values()
                if s.machine == approval.machine and s.state in ("unack", "ack")
            ]
            items.append((facts, approval.machine, active, list(approval.watch), units))
        supervisor = "Supervisor" in roles
        note = "" if supervisor else "Log in as a Supervisor to approve or deny."
        self.queue.set_requests(items, note if items else "No requests are waiting.")
        count = len(live) if supervisor else 0
        self.badge.set_count(count)
        self.approvals_count.emit(count)
        new = {a.cmd_id for a in live} - self._seen_requests
        if new and supervisor and self.chime is not None:
            self.chime()
        self._seen_requests |= new

    def approve(self, cmd_id: str) -> None:
        """Approve: re-enter the PIN; the signature's meaning is "approved"."""
        approval = self._approvals().get(cmd_id)
        session = self.session
        if approval is None or session is None:
            return
        sheet = QtSignSheet(
            self.host,
            self.ctx.theme,
            title=f"Approve: {approval.label or approval.name} · {approval.machine}",
            lines=[f"Asked by {approval.requested_name}: {approval.reason or 'no reason'}"],
            printed_name=session.name,
            meaning="approved",
            reasons=(),
            need_reason=False,
            action="Sign and approve",
        )
        sheet.reasons.text.setPlaceholderText("Note (optional)")
        self._track(sheet, f"Your approval of {approval.label or approval.name}", approval.machine)
        sheet.signed.connect(lambda secret, note: self._decide(cmd_id, True, secret, note))
        sheet.open()

    def deny(self, cmd_id: str) -> None:
        """Deny with a note for the requester."""
        approval = self._approvals().get(cmd_id)
        if approval is None:
            return
        sheet = QtDenySheet(
            self.host,
            self.ctx.theme,
            f"Deny: {approval.label or approval.name} · {approval.machine}",
            [f"Asked by {approval.requested_name}: {approval.reason or 'no reason'}"],
        )
        self._track(sheet, f"Your denial of {approval.label or approval.name}", approval.machine)
        sheet.denied.connect(lambda note: self._decide(cmd_id, False, "", note))
        sheet.open()

    def _decide(self, cmd_id: str, approve: bool, secret: str, note: str) -> None:
        request = self.ctx.station.decide_approval(cmd_id, approve, secret, note)
        self._asks[request] = self._decided

    def _decided(self, answer: GateAnswered) -> None:
        text = answer.message or ("Done." if answer.ok else cause_sentence(answer.code))
        self.queue.note.setText(("✓ " if answer.ok else "✕ ") + text)
        self.notice.emit(text)
        self._refresh_queue()

    # -- audit -------------------------------------------------------------------------------

    def _on_audit_query(self, flt: object) -> None:
        assert isinstance(flt, AuditFilter)
        self._audit_request = self.ctx.station.query_audit(
            since=flt.since,
            until=flt.until,
            machine=flt.machine,
            user=flt.user,
            kind=flt.kind,
            limit=flt.limit,
        )
