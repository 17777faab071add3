"""Read-back and result sentences, per locale: the target first, then the numbers.

A command heard by voice is read back before anything is sent, on screen and aloud:
"Conveyor two: stop. Say yes confirm." / "Press one: set speed to 80 R P M. Say yes confirm." The
screen line carries old → new with the unit (what a tier-2 confirmation must show); the spoken
line is short, names the machine first, then the command, then the value and its unit in words
(a synthesiser reads symbols badly). When the command is final the result is said from the
machine's observed values ("Press one: stop done. State idle, speed 40 R P M.").

Pure functions over the machine's BIRTH (names, tags, commands) and the values passed in; the
fixed sentences of each locale are in :data:`PHRASES`. English and Korean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from copilot.alarms.wording import number_words, tag_words, unit_words
from copilot.arguments import current_tag
from copilot.gate.panel import cause_sentence, change_text, label_of
from copilot.protocol import CommandSpec, CommandStatus, Scalar, TagSpec, Value
from copilot.voice.dialogue import Readback
from copilot.voice.numbers import int_words
from copilot.voice.types import Locale

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "confirm_prompt": "Say yes confirm.",
        "confirm_or_cancel": "Say yes confirm or cancel.",
        "cancelled": "Cancelled.",
        "timed_out": "No confirmation: cancelled.",
        "not_understood": "Not understood. Say it again.",
        "nothing_to_confirm": "Nothing to confirm.",
        "log_in": "Log in first to command by voice.",
        "not_allowed": "You may not issue this command.",
        "not_by_voice": "This command is not given by voice here; use the touch panel.",
        "sign_on_touch": "This command needs your signature: sign it on the touch panel.",
        "sent": "sent.",
        "done": "done",
        "not_done": "not done",
        "acknowledge": "acknowledge",
        "alarms": "alarms",
        "alarm": "alarm",
        "to": "to",
        "muted": "The microphone is ignored while the station speaks.",
    },
    "ko": {
        "confirm_prompt": "확인이라고 말하세요.",
        "confirm_or_cancel": "확인 또는 취소라고 말하세요.",
        "cancelled": "취소했습니다.",
        "timed_out": "확인이 없어 취소했습니다.",
        "not_understood": "알아듣지 못했습니다. 다시 말하세요.",
        "nothing_to_confirm": "확인할 명령이 없습니다.",
        "log_in": "음성 명령을 하려면 먼저 로그인하세요.",
        "not_allowed": "이 명령을 내릴 권한이 없습니다.",
        "not_by_voice": "이 명령은 음성으로 내릴 수 없습니다. 터치 패널을 쓰세요.",
        "sign_on_touch": "이 명령은 서명이 필요합니다. 터치 패널에서 서명하세요.",
        "sent": "보냈습니다.",
        "done": "완료",
        "not_done": "실패",
        "acknowledge": "알람 확인",
        "alarms": "건",
        "alarm": "건",
        "to": "",
        "muted": "안내 음성이 나오는 동안 마이크는 무시됩니다.",
    },
}
"""The fixed sentences of each locale, by key (the dialogue asks for them by key)."""

COMMAND_WORDS_KO: dict[str, str] = {
    "start": "시작",
    "stop": "정지",
    "reset": "리셋",
    "set_speed": "속도 설정",
    "set_mode": "모드 설정",
}
"""Korean words for common command names (a command not listed is read by its label)."""


def phrase(key: str, locale: Locale = "en") -> str:
    """A fixed sentence (English when the locale lacks it)."""
    return PHRASES.get(locale, PHRASES["en"]).get(key) or PHRASES["en"].get(key, "")


def number_name(n: int, locale: Locale = "en") -> str:
    """A whole number in words: 2 → "two", 42 → "forty two", 230 (ko) → "이백삼십".

    Ids past 999 (English) or 99,999 (Korean) are read digit by digit.
    """
    if n < 0:
        return ("마이너스 " if locale == "ko" else "minus ") + number_name(-n, locale)
    joiner = "" if locale == "ko" else " "  # Korean numerals are written as one word
    if n >= (100_000 if locale == "ko" else 1000):
        return " ".join(int_words(int(d), locale)[0] for d in str(n))
    return joiner.join(int_words(n, locale))


def spoken_name(name: str, locale: Locale = "en") -> str:
    """A display name as it is said: "Press 2" → "press two", "CNC 1" → "C N C one"."""
    words = []
    for part in name.replace("-", " ").replace("_", " ").split():
        if part.isdigit():
            words.append(number_name(int(part), locale))
        elif part.isupper() and len(part) > 1 and part.isalpha():
            words.append(" ".join(part))  # an acronym is spelled
        else:
            words.append(part.lower())
    return " ".join(words)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def value_words(value: Value, unit: str = "", labels: Sequence[str] | None = None) -> str:
    """A value for the ear: 80 rpm → "80 R P M", True → "on", an enum index → its label."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return value.replace("_", " ")
    number = float(value)
    if math.isnan(number):
        return "unknown"
    if labels and number == int(number) and 0 <= int(number) < len(labels):
        return labels[int(number)].replace("_", " ")
    spoken_unit = unit_words(unit, number)
    return f"{number_words(number)} {spoken_unit}".strip()


def command_words(spec: CommandSpec, locale: Locale = "en") -> str:
    """The command as it is said ("set speed"; Korean: "속도 설정")."""
    if locale == "ko" and spec.name in COMMAND_WORDS_KO:
        return COMMAND_WORDS_KO[spec.name]
    return label_of(spec).lower()


def command_readback(
    machine_spoken: str,
    machine_name: str,
    spec: CommandSpec,
    args: Mapping[str, Scalar],
    tags: Sequence[TagSpec],
    old: Mapping[str, Value],
    locale: Locale = "en",
) -> Readback:
    """The read-back of a command: target first, then each value with its unit.

    ``machine_spoken`` is the machine's spoken form ("press one"), ``machine_name`` its
    display name ("Press 1"); ``old`` holds the current values of the tags the arguments set.
    """
    said = command_words(spec, locale)
    shown = label_of(spec)
    spoken_values: list[str] = []
    shown_values: list[str] = []
    for arg in spec.args:
        if arg.name not in args:
            continue
        new = args[arg.name]
        holder = current_tag(arg, tags)
        labels = holder.labels if holder is not None and arg.type == "enum" else None
        spoken_values.append(value_words(new, arg.unit, None if isinstance(new, str) else labels))
        change = change_text(arg, old.get(arg.name), new)
        what = (arg.description or arg.name.replace("_", " ")).lower()
        shown_values.append(change if len(spec.args) == 1 else f"{what} {change}")
    to = phrase("to", locale)
    spoken = f"{_cap(machine_spoken)}: {said}"
    if spoken_values:
        spoken += f" {to} " if to else " "
        spoken += ", ".join(spoken_values)
    spoken += f". {phrase('confirm_prompt', locale)}"
    screen = f"{machine_name}: {shown}"
    if shown_values:
        screen += " · " + ", ".join(shown_values)
    return Readback(screen=screen, spoken=" ".join(spoken.split()))


def ack_readback(
    machine_spoken: str, machine_name: str, count: int, locale: Locale = "en"
) -> Readback:
    """The read-back of "acknowledge alarm": how many alarms of which machine."""
    noun = phrase("alarm" if count == 1 else "alarms", locale)
    ack = phrase("acknowledge", locale)
    if locale == "ko":
        spoken = f"{machine_spoken}: {ack} {count}{noun}. {phrase('confirm_prompt', locale)}"
    else:
        spoken = f"{_cap(machine_spoken)}: {ack} {count} {noun}. {phrase('confirm_prompt')}"
    return Readback(screen=f"{machine_name}: acknowledge {count} {noun}", spoken=spoken)


def result_sentence(
    machine_spoken: str,
    spec: CommandSpec | None,
    status: CommandStatus,
    tags: Sequence[TagSpec],
    locale: Locale = "en",
    most: int = 3,
) -> str:
    """What is said when the command is final: done with what the machine now reports, or not.

    ``COMPLETED`` → "Press one: stop done. State idle, speed 40 R P M." (the observed values,
    at most ``most``, in BIRTH order); anything else → "Press one: stop not done. <why>".
    """
    said = command_words(spec, locale) if spec is not None else status.name.replace("_", " ")
    who = _cap(machine_spoken)
    if status.state != "COMPLETED":
        why = cause_sentence(status.cause, status.message)
        return f"{who}: {said} {phrase('not_done', locale)}. {why}".strip()
    observed = status.observed or {}
    by_name = {t.name: t for t in tags}
    order = [t.name for t in tags if t.name in observed] + [k for k in observed if k not in by_name]
    parts = []
    for name in order[:most]:
        tag = by_name.get(name)
        unit = tag.unit if tag is not None else ""
        labels = tag.labels if tag is not None else None
        parts.append(f"{tag_words(name)} {value_words(observed[name], unit, labels)}")
    text = f"{who}: {said} {phrase('done', locale)}."
    if parts:
        text += " " + _cap(", ".join(parts)) + "."
    return text
