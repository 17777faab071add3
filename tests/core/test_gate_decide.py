"""The gate's checks as a pure function: every refusal cause, in order, and what passes."""

from __future__ import annotations

import time

import pytest

from copilot.gate.decide import Asker, Passed, Refused, Target, decide
from copilot.gate.policy import DEFAULT, parse_policy
from copilot.protocol import (
    ArgSpec,
    Authority,
    CheckState,
    CommandRequest,
    CommandSpec,
    MachineInfo,
    Range,
    Signature,
)

NOW = time.time_ns()
PRESS = MachineInfo(id="press-2", name="Press 2", kind="press", area="Molding")
COMMANDS = [
    CommandSpec(name="stop", label="Stop", risk="routine"),
    CommandSpec(
        name="set_speed",
        label="Set speed",
        risk="confirm",
        args=[ArgSpec(name="speed", unit="rpm", range=Range(0, 100))],
    ),
    CommandSpec(name="start", label="Start", risk="confirm"),
    CommandSpec(name="reset", label="Reset", risk="sign"),
    CommandSpec(name="purge", label="Purge", risk="two_person"),
]
ONLINE = Target(PRESS, COMMANDS, True, 0.0)
OPERATOR = Asker(("Operator",), "station:panel-1")
DOOR_OPEN = [CheckState(kind="interlock", words="guard door open", ok=False)]


def request(name: str = "stop", **fields: object) -> CommandRequest:
    base: dict[str, object] = {
        "token": "t",
        "cmd_id": "c",
        "machine": "press-2",
        "name": name,
        "not_after": NOW + 10**10,
    }
    base.update(fields)
    return CommandRequest(**base)  # type: ignore[arg-type]


SIGNED = Signature(secret="1111", reason="jam cleared")

CASES = [
    # (what, request, asker, target, extra, cause)
    ("expired", request(not_after=NOW - 1), OPERATOR, ONLINE, {}, "expired"),
    ("unknown machine", request(), OPERATOR, None, {}, "unknown_machine"),
    ("unknown command", request("explode"), OPERATOR, ONLINE, {}, "unknown_command"),
    ("observer", request(), Asker(("Observer",), "k"), ONLINE, {}, "not_authorised"),
    (
        "other area",
        request(),
        Asker(("Operator",), "k", frozenset({"Assembly"})),
        ONLINE,
        {},
        "not_authorised",
    ),
    ("voice, tier 3", request("reset", origin="voice"), OPERATOR, ONLINE, {}, "not_by_voice"),
    ("offline", request(), OPERATOR, Target(PRESS, COMMANDS, False, 0.0), {}, "offline"),
    (
        "out of range",
        request("set_speed", args={"speed": 500}, confirmed=True),
        OPERATOR,
        ONLINE,
        {},
        "out_of_range",
    ),
    (
        "bad argument",
        request("set_speed", args={"speed": "fast"}, confirmed=True),
        OPERATOR,
        ONLINE,
        {},
        "bad_argument",
    ),
    ("pending", request(), OPERATOR, ONLINE, {"busy": "in progress"}, "already_pending"),
    (
        "locked",
        request(),
        OPERATOR,
        ONLINE,
        {"holder": Authority(scope="machine:press-2", holder="station:b", holder_name="b")},
        "locked_by_other",
    ),
    ("interlock", request("start"), OPERATOR, ONLINE, {"checks": DOOR_OPEN}, "interlock"),
    ("tier 2 unconfirmed", request("start"), OPERATOR, ONLINE, {}, "confirmation_required"),
    (
        "tier 3 unsigned",
        request("reset", confirmed=True),
        OPERATOR,
        ONLINE,
        {},
        "signature_required",
    ),
    (
        "tier 3 no reason",
        request("reset", confirmed=True, sign=Signature(secret="1111")),
        OPERATOR,
        ONLINE,
        {},
        "reason_required",
    ),
]


@pytest.mark.parametrize(("what", "req", "asker", "target", "extra", "cause"), CASES)
def test_each_refusal_has_its_cause_and_one_sentence(
    what: str, req: CommandRequest, asker: Asker, target: Target | None, extra: dict, cause: str
) -> None:
    extra = dict(extra)
    checks = extra.pop("checks", [])
    result = decide(req, asker, target, DEFAULT, now_ns=NOW, checks_of=lambda _s: checks, **extra)
    assert isinstance(result, Refused), what
    assert result.cause == cause, what
    assert result.message.endswith(".") and result.message.count(". ") == 0, result.message
    assert (result.state == "EXPIRED") == (cause == "expired")


def test_the_interlock_sentence_names_the_machine_and_the_first_out_cause() -> None:
    result = decide(
        request("start", confirmed=True),
        OPERATOR,
        ONLINE,
        DEFAULT,
        now_ns=NOW,
        checks_of=lambda _s: DOOR_OPEN,
    )
    assert result == Refused("interlock", "Press 2 cannot start: guard door open.")


@pytest.mark.parametrize(
    ("req", "then", "tier"),
    [
        (request("stop"), "dispatch", 1),
        (request("start", confirmed=True), "dispatch", 2),
        (request("reset", confirmed=True, sign=SIGNED), "verify_signature", 3),
        (request("purge", confirmed=True, sign=SIGNED), "verify_signature", 4),
    ],
)
def test_what_passes_goes_on_by_its_tier(req: CommandRequest, then: str, tier: int) -> None:
    result = decide(req, OPERATOR, ONLINE, DEFAULT, now_ns=NOW)
    assert isinstance(result, Passed) and (result.then, result.tier) == (then, tier)


def test_after_the_signature_a_two_person_command_asks_for_approval() -> None:
    result = decide(
        request("purge", confirmed=True, sign=SIGNED),
        OPERATOR,
        ONLINE,
        DEFAULT,
        now_ns=NOW,
        signed=True,
    )
    assert isinstance(result, Passed) and result.then == "ask_approval"


def test_a_policy_tier_override_and_first_match_rules_apply() -> None:
    policy = parse_policy(
        """
[[allow]]
commands = ["stop"]
roles = ["Supervisor"]
[[allow]]
commands = ["*"]
roles = ["Operator"]
[[tier]]
commands = ["stop"]
areas = ["Molding"]
tier = "sign"
""",
        "p.toml",
    )
    refused = decide(request("stop"), OPERATOR, ONLINE, policy, now_ns=NOW)
    assert isinstance(refused, Refused) and "Supervisor (policy rule 1)" in refused.message
    boss = Asker(("Supervisor",), "k")
    passed = decide(request("stop", confirmed=True, sign=SIGNED), boss, ONLINE, policy, now_ns=NOW)
    assert isinstance(passed, Passed) and passed.tier == 3
