"""The command gate across real processes: every tier and every refusal cause.

The hub runs as its own process with a policy file; a small in-process press
(:class:`tests.helpers.GatedAgent`) counts what it actually did, so each test can say that a
refused command never reached the machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from copilot.gate.audit import audit_path, query, verify
from copilot.protocol import CommandStatus, ErrorReply, Signature
from copilot.settings import StationSettings
from copilot.station import GateAnswered, HistoryArrived, Station
from tests.helpers import (
    GatedAgent,
    Plant,
    StationHandle,
    add_person,
    login,
    other_station_security,
    settled,
    wait_until,
)

POLICY = """
version = 1
[[allow]]
commands = ["*"]
roles = ["Operator", "Engineer", "Supervisor"]
[voice]
commands = ["stop", "set_speed", "reset"]
[approval]
timeout_s = 3
[lockout]
attempts = 3
duration_s = 60
[stations."assembly-panel"]
areas = ["Assembly"]
"""


@pytest.fixture
def panel(plant: Plant, tmp_path: Path) -> Iterator[Callable[[str], Station]]:
    """Stations on other hosts, each with its own key (``station:<name>``)."""
    made: list[StationHandle] = []

    def make(name: str) -> Station:
        handle = StationHandle(
            other_station_security(plant, tmp_path, name), plant.address, StationSettings()
        )
        made.append(handle)
        return handle.station

    yield make
    for handle in made:
        handle.close()


@pytest.fixture
def gated_hub(plant: Plant, tmp_path: Path) -> Plant:
    """The hub process with the test's people and policy."""
    for user, role, pin in (
        ("ana", "Operator", "1111"),
        ("sam", "Supervisor", "2222"),
        ("sue", "Supervisor", "4444"),
        ("olga", "Observer", "5555"),
    ):
        add_person(plant.data_dir, user, role, pin)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    plant.hub("--policy", str(policy))
    return plant


@pytest.fixture
def agent(gated_hub: Plant) -> Iterator[GatedAgent]:
    a = GatedAgent(gated_hub)
    yield a
    a.close()


def final(station: Station, cmd_id: str, timeout: float = 10) -> CommandStatus:
    """The command's status once it is final (or awaiting approval)."""
    wait_until(
        lambda: (
            (s := station.store.commands.get(cmd_id)) is not None
            and s.state not in ("SENT", "ACCEPTED", "EXECUTING")
        ),
        timeout,
        f"command {cmd_id} settled",
    )
    return station.store.commands[cmd_id]


def ready(station: Station, agent: GatedAgent) -> Station:
    wait_until(lambda: "press-1" in station.store.machine_ids(), 15, "press-1 known")
    wait_until(lambda: station.store.reading("press-1", "speed").good, 10, "live values")
    return station


def answers(station: Station) -> list[GateAnswered]:
    got: list[GateAnswered] = []
    station.add_listener(lambda e: got.append(e) if isinstance(e, GateAnswered) else None)
    return got


def test_tier_1_runs_at_one_tap_and_says_who(
    agent: GatedAgent, stations: Callable[..., Station]
) -> None:
    st = ready(stations(), agent)
    login(st, "ana", "1111")
    grant = st.grant("press-1", "stop")
    assert grant is not None and grant.allowed and grant.tier == 1
    status = final(st, st.request_command("press-1", "stop"))
    assert status.state == "COMPLETED", status.message
    assert status.by == "Ana" and status.tier == 1 and status.observed is not None
    assert agent.count("stop") == 1


def test_tier_2_needs_the_confirmation(agent: GatedAgent, stations: Callable[..., Station]) -> None:
    st = ready(stations(), agent)
    login(st, "ana", "1111")
    refused = final(st, st.request_command("press-1", "set_speed", {"speed": 55}))
    assert (refused.state, refused.cause) == ("REJECTED", "confirmation_required")
    done = final(st, st.request_command("press-1", "set_speed", {"speed": 55}, confirmed=True))
    assert done.state == "COMPLETED" and done.observed == {"speed": 55.0, "state": 1.0}
    assert agent.count("set_speed") == 1


def test_tier_3_needs_the_pin_again_and_a_reason(
    agent: GatedAgent, stations: Callable[..., Station], plant: Plant
) -> None:
    st = ready(stations(), agent)
    login(st, "ana", "1111")

    def reset(sign: Signature | None) -> CommandStatus:
        return final(st, st.request_command("press-1", "reset", confirmed=True, sign=sign))

    assert reset(None).cause == "signature_required"
    assert reset(Signature(secret="9999", reason="jam cleared")).cause == "bad_signature"
    assert reset(Signature(secret="1111", reason=" ")).cause == "reason_required"
    assert agent.count("reset") == 0
    done = reset(Signature(secret="1111", reason="jam cleared"))
    assert done.state == "COMPLETED"
    assert agent.count("reset") == 1
    rows = query(audit_path(plant.data_dir), kind="signature")
    assert [(r.name, r.meaning, r.details().get("reason")) for r in rows] == [
        ("Ana", "performed", "jam cleared")
    ]


def test_tier_4_is_approved_by_another_supervisor_on_another_station(
    agent: GatedAgent,
    stations: Callable[..., Station],
    panel: Callable[[str], Station],
    plant: Plant,
) -> None:
    a = ready(stations(), agent)
    b = ready(panel("panel-b"), agent)
    login(a, "ana", "1111")
    login(b, "sam", "2222")
    heard = answers(b)
    cmd_id = a.request_command(
        "press-1", "purge", confirmed=True, sign=Signature(secret="1111", reason="colour change")
    )
    assert final(a, cmd_id).state == "AWAITING_APPROVAL"
    wait_until(lambda: cmd_id in b.approvals, 5, "the approval reaches station B")
    approval = b.approvals[cmd_id]
    assert approval.requested_name == "Ana" and approval.reason == "colour change"
    assert agent.count("purge") == 0

    wrong = b.decide_approval(cmd_id, True, "0000")
    wait_until(lambda: any(h.request_id == wrong for h in heard), 5, "bad PIN answer")
    assert [h.code for h in heard if h.request_id == wrong] == ["bad_signature"]
    ok = b.decide_approval(cmd_id, True, "2222", "checked the mould")
    wait_until(lambda: any(h.request_id == ok and h.ok for h in heard), 5, "approved")
    status = settled(a, cmd_id)
    assert status.state == "COMPLETED" and status.approved_by == "Sam" and status.tier == 4
    assert agent.count("purge") == 1
    wait_until(lambda: b.approvals[cmd_id].state == "approved", 5, "B sees it approved")
    rows = (
        query(audit_path(plant.data_dir), cmd_id=cmd_id)
        if False
        else query(audit_path(plant.data_dir), kind="approved")
    )
    assert [(r.name, r.meaning) for r in rows] == [("Sam", "approved")]


def test_tier_4_refusals_requester_denied_expired_withdrawn(
    agent: GatedAgent, stations: Callable[..., Station], panel: Callable[[str], Station]
) -> None:
    a = ready(stations(), agent)
    b = ready(panel("panel-b"), agent)
    login(a, "sue", "4444")  # a Supervisor asks: she cannot approve her own request
    login(b, "sam", "2222")
    heard_a = answers(a)
    sign = Signature(secret="4444", reason="purge")
    first = a.request_command("press-1", "purge", confirmed=True, sign=sign)
    assert final(a, first).state == "AWAITING_APPROVAL"
    again = final(a, a.request_command("press-1", "purge", confirmed=True, sign=sign))
    assert again.cause == "already_pending"
    own = a.decide_approval(first, True, "4444")
    wait_until(lambda: any(h.request_id == own for h in heard_a), 5, "own approval answered")
    assert [h.code for h in heard_a if h.request_id == own] == ["approver_is_requester"]
    b.decide_approval(first, False, note="not now")
    denied = settled(a, first)
    assert (denied.state, denied.cause) == ("REJECTED", "denied")
    # The same cmd_id again is answered with its refusal: no second approval, no second check.
    a.store.commands.pop(first)
    a.request_command("press-1", "purge", confirmed=True, sign=sign, cmd_id=first)
    again_first = settled(a, first)
    assert (again_first.state, again_first.cause) == ("REJECTED", "denied")
    assert [k for k, v in b.approvals.items() if v.state == "pending"] == []

    second = a.request_command("press-1", "purge", confirmed=True, sign=sign)
    assert final(a, second).state == "AWAITING_APPROVAL"
    expired = settled(a, second, timeout=10)  # the policy's approval window is 3 s
    assert (expired.state, expired.cause) == ("EXPIRED", "approval_expired")

    third = a.request_command("press-1", "purge", confirmed=True, sign=sign)
    assert final(a, third).state == "AWAITING_APPROVAL"
    a.cancel_command(third)
    withdrawn = settled(a, third)
    assert (withdrawn.state, withdrawn.cause) == ("CANCELLED", "cancelled")
    assert agent.count("purge") == 0


def test_refusal_causes_each_with_a_sentence_and_no_actuation(
    agent: GatedAgent, stations: Callable[..., Station]
) -> None:
    st = ready(stations(), agent)
    nobody = final(st, st.request_command("press-1", "stop"))
    assert nobody.cause == "not_authenticated"
    login(st, "olga", "5555")
    assert final(st, st.request_command("press-1", "stop")).cause == "not_authorised"
    st.logout()
    login(st, "ana", "1111")

    def cause(*args: object, **kwargs: object) -> str:
        status = final(st, st.request_command(*args, **kwargs))  # type: ignore[arg-type]
        assert status.message.endswith(".") and len(status.message) < 200, status.message
        return status.cause

    assert cause("press-9", "stop") == "unknown_machine"
    assert cause("press-1", "explode") == "unknown_command"
    assert cause("press-1", "set_speed", {"speed": 500}, confirmed=True) == "out_of_range"
    assert cause("press-1", "set_speed", {"speed": "fast"}, confirmed=True) == "bad_argument"
    assert cause("press-1", "stop", ttl_s=-1) == "expired"
    assert cause("press-1", "start", confirmed=True, origin="voice") == "not_by_voice"
    assert cause("press-1", "reset", origin="voice") == "not_by_voice"
    agent.set(guard_door=1.0)
    wait_until(lambda: st.store.reading("press-1", "guard_door").value, 5, "door open seen")
    blocked = final(st, st.request_command("press-1", "start", confirmed=True))
    assert blocked.cause == "interlock"
    assert blocked.message == "Press 1 cannot start: guard door open."
    assert agent.actuations == []


def test_control_authority_locks_out_other_stations(
    agent: GatedAgent, stations: Callable[..., Station], panel: Callable[[str], Station]
) -> None:
    a = ready(stations(), agent)
    b = ready(panel("panel-b"), agent)
    login(a, "ana", "1111")
    login(b, "sam", "2222")
    a.act_on_authority("machine:press-1", "take")
    wait_until(lambda: "machine:press-1" in b.authority, 5, "B sees A's control")
    assert b.authority["machine:press-1"].holder_user == "ana"
    locked = final(b, b.request_command("press-1", "stop"))
    assert locked.cause == "locked_by_other" and "has control of Press 1" in locked.message
    assert final(a, a.request_command("press-1", "stop")).state == "COMPLETED"
    b.act_on_authority("machine:press-1", "override")  # a Supervisor may take it over
    wait_until(lambda: a.authority["machine:press-1"].holder_user == "sam", 5, "override seen")
    assert final(a, a.request_command("press-1", "stop")).cause == "locked_by_other"


def test_lockout_after_repeated_failures_says_until_when(
    agent: GatedAgent, stations: Callable[..., Station]
) -> None:
    st = ready(stations(), agent)
    heard = answers(st)
    for _ in range(3):
        r = st.login("ana", "0000")
        wait_until(lambda r=r: any(h.request_id == r for h in heard), 10, "refusal")
    r = st.login("ana", "1111")  # the right PIN, but locked out now
    wait_until(lambda: any(h.request_id == r for h in heard), 10, "refusal")
    (last,) = [h for h in heard if h.request_id == r]
    assert last.code == "locked_out" and "until" in last.message
    assert st.session is None


def test_the_audit_trail_records_everything_and_verifies(
    agent: GatedAgent, stations: Callable[..., Station], plant: Plant
) -> None:
    st = ready(stations(), agent)
    login(st, "ana", "1111")
    cmd_id = st.request_command("press-1", "stop")
    assert final(st, cmd_id).state == "COMPLETED"
    wait_until(
        lambda: any(r.kind == "result" for r in query(audit_path(plant.data_dir))), 5, "result"
    )
    kinds = [r.kind for r in reversed(query(audit_path(plant.data_dir)))]
    assert kinds[:2] == ["login", "dispatched"] and "result" in kinds
    assert verify(audit_path(plant.data_dir)).ok


def test_a_station_key_limited_to_an_area_neither_sees_nor_commands_others(
    gated_hub: Plant, stations: Callable[..., Station], panel: Callable[[str], Station]
) -> None:
    limited = panel("assembly-panel")
    wait_until(lambda: limited.state.name == "LIVE", 15, "the limited station live")
    assert limited.store.areas == frozenset({"Assembly"})
    agent = GatedAgent(gated_hub)  # press-1 (area Molding) is born on the live stream now
    try:
        ready(stations(), agent)  # an unlimited station sees it
        login(limited, "ana", "1111")
        assert "press-1" not in limited.store.machine_ids()
        grant = limited.grant("press-1", "stop")
        assert grant is not None and not grant.allowed and "area Molding" in grant.why
        refused = final(limited, limited.request_command("press-1", "stop"))
        assert refused.cause == "not_authorised"
        answers_: list[HistoryArrived] = []
        limited.add_listener(
            lambda e: answers_.append(e) if isinstance(e, HistoryArrived) else None
        )
        limited.request_history("press-1", ["speed"], time.time() - 60)
        wait_until(lambda: answers_, 5, "the history answer")
        reply = answers_[0].reply
        assert isinstance(reply, ErrorReply) and reply.code == "not_authorised"
        assert agent.actuations == []
    finally:
        agent.close()
