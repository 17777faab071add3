"""Grammar from a CommandSpec catalogue: ranges, units, enums, context, vocabulary check."""

from __future__ import annotations

import pytest

from copilot.protocol import ArgSpec, Check, CommandSpec, Range
from copilot.voice.grammar import build_grammar, check_vocabulary, default_spoken
from copilot.voice.intent import resolve
from copilot.voice.templates import load_templates, parse_templates
from copilot.voice.types import Context, VoiceMachine, VoiceSetupError

EN = load_templates("en")

START = CommandSpec(
    name="start",
    checks=[Check(kind="permissive", tag="state", op="in", values=[1.0, 2.0], words="not idle")],
)
STOP = CommandSpec(name="stop")
SETPOINT = CommandSpec(
    name="set_setpoint",
    args=[ArgSpec(name="setpoint_c", unit="°C", range=Range(180.0, 260.0))],
)
MODE = CommandSpec(
    name="set_mode", args=[ArgSpec(name="mode", type="enum", choices=["idle", "maintenance"])]
)
PRESS = VoiceMachine("press-02", ("press two",), (START, STOP, SETPOINT, MODE), state="idle")
BELT = VoiceMachine("conveyor-01", ("conveyor one", "belt one"), (START, STOP), state="running")


def ctx(on_screen: str | None = None, **kw: object) -> Context:
    return Context("en", (PRESS, BELT), on_screen=on_screen, **kw)  # type: ignore[arg-type]


def intents(text: str, context: Context) -> list[tuple[object, ...]]:
    g = build_grammar(context, EN)
    return [
        (p.intent.kind, p.intent.machine, p.intent.command, dict(p.intent.args))
        for p in g.parse(text.split())
    ]


def test_numbers_within_the_range_parse_typed_and_out_of_range_ones_do_not() -> None:
    c = ctx()
    assert intents("press two set target to two hundred ten degrees", c) == [
        ("command", "press-02", "set_setpoint", {"setpoint_c": 210.0})
    ]
    assert intents("press two set target to one hundred eighty", c) == [
        ("command", "press-02", "set_setpoint", {"setpoint_c": 180.0})
    ]
    assert intents("press two set target to one hundred seventy nine", c) == []
    assert intents("press two set target to two hundred sixty one", c) == []


def test_enum_choices_and_spoken_aliases() -> None:
    c = ctx()
    assert intents("press two switch to maintenance", c) == [
        ("command", "press-02", "set_mode", {"mode": "maintenance"})
    ]
    assert intents("press two switch to setup", c) == []
    assert intents("belt one stop", c) == [("command", "conveyor-01", "stop", {})]


def test_the_machine_on_screen_needs_no_name_and_the_others_do() -> None:
    assert intents("stop", ctx()) == []
    assert intents("stop", ctx(on_screen="press-02")) == [("command", "press-02", "stop", {})]
    assert intents("conveyor one stop", ctx(on_screen="press-02")) == [
        ("command", "conveyor-01", "stop", {})
    ]


def test_global_set_and_confirm_only() -> None:
    c = ctx()
    assert intents("status of conveyor one", c) == [("status", "conveyor-01", None, {})]
    assert intents("what needs attention", c) == [("attention", None, None, {})]
    assert intents("acknowledge alarm", c) == [("ack_alarm", None, None, {})]
    assert intents("confirm", c) == []
    only = ctx(confirm_only=True)
    assert intents("confirm", only) == [("confirm", None, None, {})]
    assert intents("cancel", only) == [("cancel", None, None, {})]
    assert intents("press two stop", only) == []


def test_jsgf_and_version_follow_the_catalogue() -> None:
    a = build_grammar(ctx(), EN)
    b = build_grammar(Context("en", (PRESS,), on_screen=None), EN)
    assert a.version != b.version
    assert "public <utterance>" in a.jsgf()
    assert "two hundred sixty" in a.jsgf()


def test_a_command_that_cannot_apply_now_ranks_below_one_that_can() -> None:
    c = ctx()
    g = build_grammar(c, EN)
    # conveyor one is running: start cannot apply (permissive idle/setup); press two is idle.
    r = resolve([("conveyor", "one", "start"), ("press", "two", "start")], g, c)
    assert r.intent is not None
    assert (r.intent.machine, r.rank) == ("press-02", 1)
    r = resolve([("conveyor", "one", "start")], g, c)
    assert (r.intent, r.reason) == (None, "not_applicable")
    denied = ctx(allowed=lambda m, cmd: cmd != "stop")
    r = resolve([("press", "two", "stop")], build_grammar(denied, EN), denied)
    assert (r.intent, r.reason) == (None, "not_allowed")


def test_the_vocabulary_check_names_the_missing_word() -> None:
    g = build_grammar(Context("en", (VoiceMachine("kiln-1", ("kiln one",), (STOP,)),), None), EN)
    known = {"kiln", "one", "stop", "cancel", "that", "repeat", "say", "again", "what", "needs"}
    known |= {"attention", "status", "of", "acknowledge", "alarm", "on"}
    check_vocabulary(g, known.__contains__, "test vocabulary")
    with pytest.raises(VoiceSetupError, match="the word 'kiln' is not in the test vocabulary"):
        check_vocabulary(g, (known - {"kiln"}).__contains__, "test vocabulary")


def test_default_spoken_names_and_bad_templates() -> None:
    assert default_spoken("press-02", EN) == ("press two",)
    assert default_spoken("cnc-01", EN) == ("c n c one",)
    with pytest.raises(VoiceSetupError, match=r"must say locale"):
        parse_templates("[sentences]\n", "x.toml")
