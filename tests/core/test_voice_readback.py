"""Read-back, result and answer sentences: the target first, then the numbers, in words."""

from __future__ import annotations

import pytest

from copilot.protocol import AlarmStatus, ArgSpec, CommandSpec, CommandStatus, Range, Shelf, TagSpec
from copilot.station.store import Reading
from copilot.voice.answers import attention_answer, status_answer
from copilot.voice.readback import (
    ack_readback,
    command_readback,
    number_name,
    result_sentence,
    spoken_name,
)

TAGS = [
    TagSpec(name="state", alias=0, type="enum", labels=["running", "idle"]),
    TagSpec(name="temp", alias=1, unit="°C", key=True),
    TagSpec(name="speed", alias=2, unit="rpm", writable=True),
]
STOP = CommandSpec(name="stop", label="Stop", risk="routine")
SPEED = CommandSpec(
    name="set_speed",
    label="Set speed",
    args=[ArgSpec(name="speed", unit="rpm", range=Range(0, 100))],
)


@pytest.mark.parametrize(
    ("name", "locale", "said"),
    [
        ("Press 1", "en", "press one"),
        ("Conveyor 2", "en", "conveyor two"),
        ("CNC 12", "en", "C N C twelve"),
        ("press-42", "en", "press forty two"),
        ("Oven 105", "en", "oven one hundred five"),
        ("Press 2", "ko", "press 이"),
    ],
)
def test_names_are_spoken_as_words(name: str, locale: str, said: str) -> None:
    assert spoken_name(name, locale) == said  # type: ignore[arg-type]


def test_korean_numbers() -> None:
    assert [number_name(n, "ko") for n in (1, 10, 12, 25, 180)] == [
        "일",
        "십",
        "십이",
        "이십오",
        "백팔십",
    ]


def test_a_command_without_arguments_reads_back_target_then_command() -> None:
    rb = command_readback("conveyor two", "Conveyor 2", STOP, {}, TAGS, {})
    assert rb.spoken == "Conveyor two: stop. Say yes confirm."
    assert rb.screen == "Conveyor 2: Stop"


def test_a_setpoint_reads_back_its_number_and_unit_after_the_target() -> None:
    rb = command_readback("press one", "Press 1", SPEED, {"speed": 80}, TAGS, {"speed": 40.0})
    assert rb.spoken == "Press one: set speed to 80 R P M. Say yes confirm."
    assert (
        rb.screen == "Press 1: Set speed · 40.0 → 80.0 rpm"
    )  # old → new, as the touch sheet shows it


def test_korean_readback() -> None:
    rb = command_readback("프레스 일", "Press 1", STOP, {}, TAGS, {}, "ko")
    assert rb.spoken == "프레스 일: 정지. 확인이라고 말하세요."


def test_acknowledge_readback_counts_the_alarms() -> None:
    assert ack_readback("press one", "Press 1", 2).spoken == (
        "Press one: acknowledge 2 alarms. Say yes confirm."
    )


def test_the_result_says_what_the_machine_now_reports() -> None:
    done = CommandStatus("c1", "press-1", "COMPLETED", observed={"speed": 40.0, "state": 1.0})
    assert result_sentence("press one", STOP, done, TAGS) == (
        "Press one: stop done. State idle, speed 40 R P M."
    )
    refused = CommandStatus("c1", "press-1", "REJECTED", cause="interlock", message="Guard open.")
    assert (
        result_sentence("press one", STOP, refused, TAGS) == "Press one: stop not done. Guard open."
    )


def reading(tag: TagSpec, value: object, quality: int = 0) -> Reading:
    return Reading("press-1", tag.name, value, quality, 1.0, tag)  # type: ignore[arg-type]


def alarm(aid: str, state: str = "unack", priority: str = "high", **kw: object) -> AlarmStatus:
    machine, tag, cond = aid.split("/")
    return AlarmStatus(
        id=aid,
        machine=machine,
        tag=tag,
        condition=cond,
        priority=priority,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        active=state != "normal",
        message="",
        value=96.0,
        **kw,  # type: ignore[arg-type]
    )


def test_status_answer_mode_key_values_and_alarms() -> None:
    readings = [reading(TAGS[0], "running"), reading(TAGS[1], 182.0), reading(TAGS[2], 40.0)]
    assert status_answer("press one", readings, []) == (
        "Press one running, 182 degrees Celsius, no alarms."
    )
    hot = alarm("press-1/temp/hi")
    assert status_answer("press one", readings, [hot]).endswith("one alarm.")


def test_status_answer_never_says_a_bad_value_as_good() -> None:
    readings = [reading(TAGS[0], "running"), reading(TAGS[1], 182.0, quality=0x80)]
    assert (
        status_answer("press one", readings, [])
        == "Press one running, temperature unknown, no alarms."
    )
    assert "no connection since" in status_answer(
        "press one", readings, [], online=False, since=1.0
    )


def test_attention_lists_the_most_urgent_first_and_skips_hidden_ones() -> None:
    alarms = [
        alarm("press-1/temp/hi", priority="low"),
        alarm("press-2/temp/hihi", priority="critical"),
        alarm("press-3/temp/hi", state="normal"),
        alarm("press-4/temp/hi", shelf=Shelf(by="ana", at=0, reason="noisy")),
    ]
    text = attention_answer(alarms)
    assert text.startswith("2 alarms need attention. Press 2: temperature high high")
    assert "Press 1: temperature high" in text and "Press 3" not in text and "Press 4" not in text
    assert attention_answer([]) == "Nothing needs attention."
