"""The push-to-talk dialogue, transition by transition, with an injected clock (no sleeps).

Every row of :data:`TABLE` drives a fresh :class:`~copilot.voice.dialogue.Dialogue` through a
script of inputs and says which phase it ends in and which effects the whole script produced.
The rows cover each transition of docs/voice.md "The flow": idle → listening → recognizing →
confirming → dispatched / cancelled / timed out / handed to touch; answering; not understood;
refused by the grants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from copilot.protocol import CommandStatus, Grant
from copilot.voice.dialogue import (
    CONFIRM_S,
    Dialogue,
    Dispatch,
    Effect,
    HandToTouch,
    Proposal,
    Readback,
    Recognize,
    Say,
)
from copilot.voice.types import Heard, Intent

GRANTS = {
    ("conveyor-2", "stop"): Grant("conveyor-2", "stop", tier=1, allowed=True, voice=True),
    ("press-1", "set_speed"): Grant("press-1", "set_speed", tier=2, allowed=True, voice=True),
    ("press-1", "reset"): Grant("press-1", "reset", tier=3, allowed=True, voice=False),
    ("press-1", "purge"): Grant("press-1", "purge", tier=4, allowed=True, voice=False),
    ("press-1", "start"): Grant("press-1", "start", tier=2, allowed=True, voice=False),
    ("press-1", "jog"): Grant("press-1", "jog", tier=1, allowed=False, why="Engineers only."),
}


@dataclass
class FakeWords:
    """Sentences a test can recognise; ``None`` read-back for a machine the plant lacks."""

    said_results: list[str] = field(default_factory=list)

    def readback(self, intent: Intent) -> Readback | None:
        if intent.machine == "ghost-9":
            return None
        return Readback(
            screen=f"{intent.machine}: {intent.command} {dict(intent.args)}",
            spoken=f"{intent.machine}: {intent.command}. Say yes confirm.",
        )

    def answer(self, intent: Intent) -> str:
        return f"answer to {intent.kind} {intent.machine}"

    def result(self, proposal: Proposal, status: CommandStatus) -> str:
        return f"{proposal.machine} {proposal.command} {status.state} {status.observed}"

    def phrase(self, key: str) -> str:
        return f"<{key}>"


def heard(
    kind: str | None, machine: str | None = None, command: str | None = None, **args: float
) -> Heard:
    intent = None if kind is None else Intent(kind, machine, command, args)  # type: ignore[arg-type]
    words = " ".join(x for x in (machine, command, kind) if x)
    return Heard(
        intent, words, "pocketsphinx", 0.9, "g1", reason="" if intent else "out_of_grammar"
    )


STOP = heard("command", "conveyor-2", "stop")
SPEED = heard("command", "press-1", "set_speed", speed=80)
CONFIRM = heard("confirm")
CANCEL = heard("cancel")
REPEAT = heard("repeat")
NOISE = heard(None)

Step = tuple[object, ...]


def run(
    steps: list[Step], grants: dict[tuple[str, str], Grant] | None = None
) -> tuple[Dialogue, list[Effect]]:
    """Drive a dialogue through ``steps`` ((input, time[, heard]) tuples); all its effects."""
    table = GRANTS if grants is None else grants
    d = Dialogue(
        FakeWords(),
        lambda m, c: table.get((m, c)),
        new_id=iter(f"c{i}" for i in range(99)).__next__,
    )
    out: list[Effect] = []
    for step in steps:
        what, t = step[0], float(step[1])  # type: ignore[arg-type]
        match what:
            case "press":
                out += d.press(t)
            case "release":
                out += d.release(t)
            case "heard":
                out += d.heard(d.seq, step[2], t)  # type: ignore[arg-type]
            case "tick":
                out += d.tick(t)
            case "confirm":
                out += d.touch_confirm(t)
            case "cancel":
                out += d.cancel(t)
    return d, out


def say(utterance: Heard, t: float) -> list[Step]:
    """Press, release and the listener's answer, 0.5 s apart."""
    return [("press", t), ("release", t + 0.5), ("heard", t + 0.7, utterance)]


def kinds(effects: list[Effect]) -> list[str]:
    return [type(e).__name__ for e in effects]


TABLE: list[tuple[str, list[Step], str, list[str]]] = [
    ("idle → listening", [("press", 0)], "listening", []),
    (
        "listening → recognizing (open context)",
        [("press", 0), ("release", 1)],
        "recognizing",
        ["Recognize"],
    ),
    ("a release without a press does nothing", [("release", 0)], "idle", []),
    ("recognizing → confirming: read back", say(STOP, 0), "confirming", ["Recognize", "Say"]),
    (
        "confirming → dispatched by a spoken confirm",
        say(STOP, 0) + say(CONFIRM, 2),
        "dispatched",
        ["Recognize", "Say", "Recognize", "Dispatch"],
    ),
    (
        "confirming → dispatched by a touch on Confirm",
        [*say(STOP, 0), ("confirm", 3)],
        "dispatched",
        ["Recognize", "Say", "Dispatch"],
    ),
    (
        "confirming → cancelled by a spoken cancel",
        say(STOP, 0) + say(CANCEL, 2),
        "cancelled",
        ["Recognize", "Say", "Recognize", "Say"],
    ),
    (
        "confirming → cancelled by a touch on Cancel",
        [*say(STOP, 0), ("cancel", 2)],
        "cancelled",
        ["Recognize", "Say", "Say"],
    ),
    (
        "listening → cancelled by a touch on Cancel",
        [("press", 0), ("cancel", 0.5)],
        "cancelled",
        ["Say"],
    ),
    (
        "recognizing → cancelled by a touch; the late answer is ignored",
        [("press", 0), ("release", 1), ("cancel", 1.1), ("heard", 1.5, STOP)],
        "cancelled",
        ["Recognize", "Say"],
    ),
    ("open context: a spoken cancel cancels", say(CANCEL, 0), "cancelled", ["Recognize", "Say"]),
    (
        "confirming → timed out after the countdown",
        [*say(STOP, 0), ("tick", 0.7 + CONFIRM_S - 0.01), ("tick", 0.7 + CONFIRM_S)],
        "timed_out",
        ["Recognize", "Say", "Say"],
    ),
    (
        "a confirm after the countdown is too late",
        [*say(STOP, 0), ("confirm", 0.7 + CONFIRM_S + 0.1)],
        "timed_out",
        ["Recognize", "Say", "Say"],
    ),
    (
        "a press after the countdown: timed out, then a fresh utterance",
        say(STOP, 0) + say(CONFIRM, 0.7 + CONFIRM_S + 1),
        "not_understood",
        ["Recognize", "Say", "Say", "Recognize", "Say"],
    ),
    (
        "holding the button to answer stops the clock",
        [*say(STOP, 0), ("press", 6.5), ("tick", 9), ("release", 9), ("heard", 9.2, CONFIRM)],
        "dispatched",
        ["Recognize", "Say", "Recognize", "Dispatch"],
    ),
    (
        "confirming: noise asks again, the countdown runs on",
        say(STOP, 0) + say(NOISE, 1),
        "confirming",
        ["Recognize", "Say", "Recognize", "Say"],
    ),
    (
        "confirming: noise after the deadline times out",
        [*say(STOP, 0), ("press", 6.6), ("release", 7.5), ("heard", 7.6, NOISE)],
        "timed_out",
        ["Recognize", "Say", "Recognize", "Say"],
    ),
    (
        "confirming: a command is not a confirmation",
        say(STOP, 0) + say(SPEED, 1),
        "confirming",
        ["Recognize", "Say", "Recognize", "Say"],
    ),
    (
        "confirming: repeat reads back again",
        say(STOP, 0) + say(REPEAT, 1),
        "confirming",
        ["Recognize", "Say", "Recognize", "Say"],
    ),
    ("tier 2 with voice → confirming", say(SPEED, 0), "confirming", ["Recognize", "Say"]),
    (
        "tier 3 → handed to touch, never dispatched",
        say(heard("command", "press-1", "reset"), 0) + say(CONFIRM, 1) + [("confirm", 2)],
        "not_understood",
        ["Recognize", "HandToTouch", "Say", "Recognize", "Say"],
    ),
    (
        "tier 4 → handed to touch",
        say(heard("command", "press-1", "purge"), 0),
        "handed_to_touch",
        ["Recognize", "HandToTouch", "Say"],
    ),
    (
        "tier 2 the site does not allow by voice → refused",
        say(heard("command", "press-1", "start"), 0),
        "refused",
        ["Recognize", "Say"],
    ),
    (
        "a command the person may not issue → refused",
        say(heard("command", "press-1", "jog"), 0),
        "refused",
        ["Recognize", "Say"],
    ),
    (
        "nobody logged in → refused",
        say(heard("command", "press-1", "frobnicate"), 0),
        "refused",
        ["Recognize", "Say"],
    ),
    (
        "a machine the plant lacks → not understood",
        say(heard("command", "ghost-9", "stop"), 0),
        "not_understood",
        ["Recognize", "Say"],
    ),
    ("out of grammar → not understood", say(NOISE, 0), "not_understood", ["Recognize", "Say"]),
    (
        "confirm with nothing pending → not understood",
        say(CONFIRM, 0),
        "not_understood",
        ["Recognize", "Say"],
    ),
    (
        "status question → answering",
        say(heard("status", "press-1"), 0),
        "answering",
        ["Recognize", "Say"],
    ),
    (
        "what needs attention → answering",
        say(heard("attention"), 0),
        "answering",
        ["Recognize", "Say"],
    ),
    (
        "answering → listening on the next press",
        [*say(heard("attention"), 0), ("press", 2)],
        "listening",
        ["Recognize", "Say"],
    ),
    (
        "repeat in the open context says the last sentence again",
        say(heard("attention"), 0) + say(REPEAT, 2),
        "idle",
        ["Recognize", "Say", "Recognize", "Say"],
    ),
    (
        "acknowledge alarm → confirming → dispatched",
        say(heard("ack_alarm", "press-1"), 0) + say(CONFIRM, 1),
        "dispatched",
        ["Recognize", "Say", "Recognize", "Dispatch"],
    ),
    (
        "a cancel the recogniser rejected still cancels",
        [
            *say(STOP, 0),
            *say(Heard(None, "cancel", "pocketsphinx", 0.3, "g1", "out_of_grammar"), 1),
        ],
        "cancelled",
        ["Recognize", "Say", "Recognize", "Say"],
    ),
    (
        "a second press while listening changes nothing",
        [("press", 0), ("press", 0.2)],
        "listening",
        [],
    ),
    ("a cancel at rest does nothing", [("cancel", 0)], "idle", []),
]


@pytest.mark.parametrize(
    ("steps", "phase", "effects"), [r[1:] for r in TABLE], ids=[r[0] for r in TABLE]
)
def test_every_transition(steps: list[Step], phase: str, effects: list[str]) -> None:
    d, out = run(steps)
    assert d.phase == phase
    assert kinds(out) == effects


def test_nothing_is_dispatched_without_a_confirmation() -> None:
    """Every script without a confirm (spoken or touched) ends with no Dispatch at all."""
    for name, steps, _phase, _effects in TABLE:
        confirmed = any(s[0] == "confirm" or (s[0] == "heard" and s[2] is CONFIRM) for s in steps)
        _d, out = run(steps)
        if not confirmed:
            assert not any(isinstance(e, Dispatch) for e in out), name


def test_the_confirm_only_context_is_asked_for_while_confirming() -> None:
    _d, out = run([*say(STOP, 0), ("press", 1), ("release", 1.5)])
    recognize = [e for e in out if isinstance(e, Recognize)]
    assert [r.confirm_only for r in recognize] == [False, True]


def test_the_dispatch_carries_the_proposal_as_heard_and_once() -> None:
    d, out = run(say(SPEED, 0) + say(CONFIRM, 1) + [("confirm", 2)])
    dispatches = [e for e in out if isinstance(e, Dispatch)]
    assert len(dispatches) == 1  # the touch after the spoken confirm sends nothing more
    p = dispatches[0].proposal
    assert (p.machine, p.command, dict(p.args), p.tier) == (
        "press-1",
        "set_speed",
        {"speed": 80},
        2,
    )
    assert p.heard is SPEED  # the facts the audit gets are the command's, not the "confirm"'s
    assert d.in_flight == [p.cmd_id]


def test_a_handed_over_command_carries_its_tier() -> None:
    _d, out = run(say(heard("command", "press-1", "purge"), 0))
    (hand,) = [e for e in out if isinstance(e, HandToTouch)]
    assert hand.proposal.tier == 4


def test_the_countdown_is_shown_and_ends_at_zero() -> None:
    d, _ = run(say(STOP, 0))
    assert d.view(0.7).seconds_left == pytest.approx(CONFIRM_S)
    assert d.view(3.7).seconds_left == pytest.approx(CONFIRM_S - 3)
    assert d.view(100).seconds_left == 0.0
    d.tick(100)
    assert d.view(100).seconds_left is None


def test_the_result_is_said_only_when_the_command_is_final() -> None:
    d, out = run(say(STOP, 0) + say(CONFIRM, 1))
    (dispatch,) = [e for e in out if isinstance(e, Dispatch)]
    cmd_id = dispatch.proposal.cmd_id
    for state in ("SENT", "ACCEPTED", "EXECUTING"):
        assert d.command_updated(CommandStatus(cmd_id, "conveyor-2", state), 3) == []  # type: ignore[arg-type]
    done = CommandStatus(cmd_id, "conveyor-2", "COMPLETED", observed={"speed": 0.0})
    (said,) = d.command_updated(done, 4)
    assert isinstance(said, Say) and "COMPLETED" in said.text and "speed" in said.text
    assert d.command_updated(done, 5) == []  # said once
    assert d.command_updated(CommandStatus("someone-else", "x", "COMPLETED"), 5) == []


def test_recent_utterances_are_listed_newest_first() -> None:
    d, _ = run(say(NOISE, 0) + say(STOP, 1) + say(CANCEL, 2))
    recent = d.view(3).recent
    assert [u.outcome for u in recent] == ["cancelled", "read back", "not understood"]
    assert recent[-1].transcript == "(out of grammar)"
