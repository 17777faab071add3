"""copilot.gate.panel: what the gate's station UI shows, decided without Qt."""

from __future__ import annotations

import time

import pytest

from copilot.gate.panel import (
    NS,
    AuditFilter,
    IdleClock,
    RecentUsers,
    approval_facts,
    audit_cells,
    authority_facts,
    authority_of,
    change_text,
    command_buttons,
    countdown,
    current_tag,
    in_flight,
    numeric,
    open_requests,
    parse_arg,
    parse_when,
    pending_line,
    range_text,
    signature_line,
)
from copilot.protocol import (
    Approval,
    ArgSpec,
    AuditRecord,
    Authority,
    CheckState,
    CommandSpec,
    CommandStatus,
    Grant,
    Range,
    TagSpec,
)

SPEED = ArgSpec(
    name="speed_rpm", unit="rpm", range=Range(1000.0, 10000.0), description="Spindle speed setpoint"
)
COMMANDS = [
    CommandSpec(name="start", label="Start", risk="confirm"),
    CommandSpec(name="set_speed", label="Set spindle speed", args=[SPEED], risk="sign"),
    CommandSpec(name="stop", label="Stop", risk="routine"),
]
GRANTS = {
    "start": Grant(machine="cnc-1", name="start", tier=2, allowed=True),
    "set_speed": Grant(machine="cnc-1", name="set_speed", tier=3, allowed=True),
    "stop": Grant(
        machine="cnc-1", name="stop", tier=1, allowed=False, why="Observers may not stop."
    ),
}


def _buttons(**kw: object) -> dict[str, object]:
    args: dict[str, object] = {
        "logged_in": True,
        "grants": GRANTS,
        "online": True,
        "checks": {},
        "station": "st-1",
    }
    args.update(kw)
    return {b.name: b for b in command_buttons("CNC 1", COMMANDS, **args)}  # type: ignore[arg-type]


def test_buttons_follow_the_gates_order_of_causes() -> None:
    b = _buttons()
    assert b["start"].enabled and b["start"].caption == "confirm" and b["start"].key == "Alt+1"
    assert b["set_speed"].caption == "sign" and b["set_speed"].tier == 3
    assert not b["stop"].enabled and b["stop"].why == "Observers may not stop."
    assert b["stop"].cause == "not_authorised"

    nobody = _buttons(logged_in=False)
    assert {x.cause for x in nobody.values()} == {"not_authenticated"}

    off = _buttons(online=False)
    assert off["start"].cause == "offline" and "offline" in off["start"].why
    assert off["stop"].cause == "not_authorised"  # the role comes before the machine

    held = Authority(
        scope="machine:cnc-1", holder="st-2", holder_name="Station 2", holder_user="ann"
    )
    other = _buttons(authority=held)
    assert other["start"].cause == "locked_by_other"
    assert other["start"].why == "Station 2 (ann) has control of CNC 1; ask it to hand over."
    assert _buttons(authority=Authority(scope="machine:cnc-1", holder="st-1"))["start"].enabled

    checks = {
        "start": [
            CheckState(kind="interlock", words="guard door open", ok=False),
            CheckState(kind="permissive", words="machine not idle", ok=False),
            CheckState(kind="interlock", words="fault active", ok=True),
        ]
    }
    blocked = _buttons(checks=checks)
    assert blocked["start"].cause == "interlock"
    assert blocked["start"].why == "CNC 1 cannot start: guard door open, machine not idle."
    assert blocked["start"].caption == "guard door open"

    busy = _buttons(pending=["set_speed"])
    assert busy["set_speed"].cause == "already_pending"


def test_arguments_range_old_new_and_parsing() -> None:
    assert range_text(SPEED) == "allowed 1000 – 10000 rpm"
    assert change_text(SPEED, 1200.0, 1500.0) == "1200 → 1500 rpm"
    assert change_text(SPEED, None, 1500.0) == "— → 1500 rpm"
    assert parse_arg(SPEED, "1500") == (1500.0, "")
    value, why = parse_arg(SPEED, "12000")
    assert value is None and why == "12000 rpm is outside the allowed 1000 – 10000 rpm."
    assert parse_arg(SPEED, "abc")[1] == "“abc” is not a number."
    assert parse_arg(SPEED, "")[1] == "Enter the spindle speed setpoint."
    mode = ArgSpec(name="mode", type="enum", choices=["idle", "setup"])
    assert parse_arg(mode, "setup") == ("setup", "")
    assert parse_arg(mode, "run")[1] == "Choose one of: idle, setup."
    count = ArgSpec(name="n", type="int", range=Range(1, 5))
    assert parse_arg(count, "3") == (3, "")
    assert parse_arg(count, "2.5")[1] == "The n is a whole number."
    tags = [
        TagSpec(name="spindle_speed_rpm", alias=0, unit="rpm", description="Spindle speed"),
        TagSpec(
            name="speed_setpoint_rpm", alias=1, unit="rpm", description="Spindle speed setpoint"
        ),
    ]
    found = current_tag(SPEED, tags)
    assert found is not None and found.name == "speed_setpoint_rpm"
    state = TagSpec(name="state", alias=0, type="enum", labels=["idle", "running"])
    assert numeric(state, "running") == 1.0 and numeric(state, None) is None
    assert numeric(state, True) == 1.0


def test_pending_lines_say_what_happened_with_a_shape() -> None:
    busy = pending_line(CommandStatus(cmd_id="a", machine="m", state="ACCEPTED", name="start"))
    assert busy.mark == "busy" and not busy.final and busy.words == "Accepted"
    assert busy.label == "Start"
    done = pending_line(
        CommandStatus(
            cmd_id="a",
            machine="m",
            state="COMPLETED",
            message="Speed set.",
            observed={"speed_setpoint_rpm": 1500.0},
            approved_by="Demo Supervisor",
        ),
        label="Set speed",
        specs={"speed_setpoint_rpm": TagSpec(name="speed_setpoint_rpm", alias=0, unit="rpm")},
    )
    assert done.mark == "done" and done.final and not done.abnormal
    assert (
        done.text
        == "Speed set. Observed: speed setpoint rpm 1500 rpm. Approved by Demo Supervisor."
    )
    refused = pending_line(
        CommandStatus(cmd_id="b", machine="m", state="REJECTED", cause="offline")
    )
    assert (
        refused.abnormal and refused.text == "The machine is offline." and refused.mark == "refused"
    )
    unknown = pending_line(CommandStatus(cmd_id="c", machine="m", state="UNKNOWN"))
    assert unknown.mark == "unknown" and "check it" in unknown.text
    waiting = pending_line(
        CommandStatus(cmd_id="d", machine="m", state="AWAITING_APPROVAL"),
        now_ns=0,
        expires_at=90 * NS,
    )
    assert waiting.text == "A supervisor must approve within 1:30."
    statuses = [
        CommandStatus(cmd_id="x", machine="m", state="COMPLETED", at=1),
        CommandStatus(cmd_id="y", machine="m", state="AWAITING_APPROVAL", at=3),
        CommandStatus(cmd_id="z", machine="m", state="SENT", at=2),
    ]
    assert [s.cmd_id for s in in_flight(statuses)] == ["z", "y"]


def test_idle_clock_warns_then_locks() -> None:
    idle = IdleClock(warn_s=240, lock_s=300)
    idle.touch(1000.0)
    assert idle.phase(1100.0)[0] == "active"
    assert idle.phase(1250.0) == ("warn", 50.0)
    assert idle.warning(1250.0) == (
        "This station locks in 50 s — touch the screen to stay logged in."
    )
    assert idle.phase(1300.0)[0] == "locked"
    idle.touch(1299.0)
    assert idle.phase(1300.0)[0] == "active"
    assert countdown(105) == "1:45" and countdown(-3) == "0 s" and countdown(0.2) == "1 s"


def _approval(**kw: object) -> Approval:
    base: dict[str, object] = {
        "cmd_id": "c1",
        "machine": "cnc-1",
        "name": "set_speed",
        "label": "Set spindle speed",
        "args": {"speed_rpm": 9000.0},
        "requested_by": "demo-operator",
        "requested_name": "Demo Operator",
        "station": "station-1",
        "requested_at": 100 * NS,
        "expires_at": 220 * NS,
        "reason": "Planned changeover",
        "old": {"speed_rpm": 4000.0},
        "checks": [CheckState(kind="interlock", words="guard door open", ok=True)],
    }
    base.update(kw)
    return Approval(**base)  # type: ignore[arg-type]


def test_approval_facts_and_who_may_decide() -> None:
    a = _approval()
    facts = approval_facts(
        a,
        130 * NS,
        user="demo-supervisor",
        roles=["Supervisor"],
        machine_name="CNC 1",
        specs=[SPEED],
    )
    assert facts.can_decide and facts.title == "CNC 1 · Set spindle speed"
    assert facts.args == "speed rpm: 4000 → 9000 rpm"
    assert facts.expires == "expires in 1:30" and facts.checks == ("✓ guard door open",)
    assert facts.requester.startswith("Demo Operator (demo-operator) at station-1, ")
    same = approval_facts(a, 130 * NS, user="demo-operator", roles=["Supervisor", "Operator"])
    assert not same.can_decide
    assert same.why == "You asked for this command; another supervisor must approve it."
    op = approval_facts(a, 130 * NS, user="ann", roles=["Operator"])
    assert op.why == "Only a Supervisor can approve or deny."
    late = approval_facts(a, 300 * NS, user="demo-supervisor", roles=["Supervisor"])
    assert not late.can_decide and late.expires.startswith("expired at ")
    done = approval_facts(
        _approval(state="approved", decided_name="Demo Supervisor", decided_at=150 * NS),
        160 * NS,
        user="x",
        roles=["Supervisor"],
    )
    assert done.decision.startswith("Demo Supervisor · ") and done.decision.endswith(" · approved")
    assert [x.cmd_id for x in open_requests([a, _approval(cmd_id="c2", state="denied")], 0)] == [
        "c1"
    ]
    assert open_requests([a], 300 * NS) == []


def test_authority_in_words_with_the_acts_that_make_sense() -> None:
    free = authority_facts(None, station="st-1")
    assert free.acts == ("take",) and not free.other
    mine = authority_facts(
        Authority(scope="machine:m", holder="st-1", asked_by="st-2", asked_name="Station 2"),
        station="st-1",
    )
    assert mine.mine and mine.acts == ("release", "grant", "refuse")
    assert "Station 2 asks for control" in mine.text
    theirs = Authority(scope="machine:m", holder="st-2", holder_name="Station 2", since=NS)
    other = authority_facts(theirs, station="st-1", roles=["Supervisor"])
    assert other.other and other.acts == ("request", "override")
    assert other.text.startswith("Control: Station 2 since ")
    area = {"area:Molding": theirs, "machine:m": Authority(scope="machine:m")}
    assert authority_of(area, "m", "Molding") is theirs
    assert authority_of({}, "m") is None


def test_audit_cells_show_signatures_as_name_time_meaning() -> None:
    row = AuditRecord(
        seq=3,
        at=1_700_000_000 * NS,
        kind="approved",
        user="demo-supervisor",
        name="Demo Supervisor",
        machine="cnc-1",
        command="set_speed",
        meaning="approved",
        outcome="ok",
    )
    cells = audit_cells(row)
    assert cells[1] == "approved" and cells[2] == "Demo Supervisor (demo-supervisor)"
    assert cells[-1] == signature_line("Demo Supervisor", row.at, "approved")
    assert cells[-1].endswith(" · approved")
    assert audit_cells(AuditRecord(seq=1, at=1, kind="login"))[-1] == ""
    assert AuditFilter().limit == 500


def test_parse_when() -> None:
    ns, why = parse_when("2024-05-01 14:03")
    assert why == "" and ns == int(
        time.mktime(time.strptime("2024-05-01 14:03", "%Y-%m-%d %H:%M")) * NS
    )
    assert parse_when("") == (0, "")
    assert parse_when("teatime")[1].startswith("“teatime” is not a time")
    ns, _ = parse_when("08:30", today=lambda: time.mktime((2024, 5, 1, 12, 0, 0, 0, 0, -1)))
    assert time.localtime(ns / NS)[:5] == (2024, 5, 1, 8, 30)


def test_recent_users_first() -> None:
    picker = RecentUsers(extras=("demo-operator", "demo-supervisor"))
    picker.used("ann")
    picker.used("demo-supervisor")
    assert picker.choices() == ["demo-supervisor", "ann", "demo-operator"]


@pytest.mark.parametrize("cause", ["offline", "interlock", "approver_is_requester"])
def test_every_cause_has_a_sentence(cause: str) -> None:
    line = pending_line(CommandStatus(cmd_id="a", machine="m", state="REJECTED", cause=cause))
    assert line.text.endswith(".") and line.text[0].isupper()
