"""Spoken answers to read-only questions, from what the station already holds.

"status of press one" → "Press one running, 182 degrees Celsius, no alarms." — the machine's
mode (its ``state`` enum tag), its key measurements (``TagSpec.key``, at most three, in BIRTH
order) and its alarms that need someone. A value that is not Good is not said as if it were
("temperature unknown"); a machine whose link is down says since when.

"what needs attention" → the alarms that need action (not normal, or unacknowledged; neither
shelved, suppressed by design nor out of service), most urgent first, at most three said, then
how many more — each in the alarm wording the annunciator uses.

Pure functions over :class:`~copilot.station.store.Reading` lists and
:class:`~copilot.protocol.AlarmStatus` values; nothing here reads a clock or the store itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from copilot.alarms.wording import sentence, tag_words
from copilot.protocol import PRIORITY_RANK, AlarmStatus
from copilot.station.store import Reading
from copilot.voice.readback import value_words
from copilot.voice.types import Locale

MOST_SAID = 3
"""Alarms or measurements said in one answer; the rest are counted."""

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "no_alarms": "no alarms",
        "one_alarm": "one alarm",
        "alarms": "{n} alarms",
        "offline": "{who}: no connection since {when}",
        "unknown_machine": "I do not know that machine.",
        "nothing": "Nothing needs attention.",
        "one_needs": "One alarm needs attention.",
        "many_need": "{n} alarms need attention.",
        "more": "And {n} more.",
        "unknown": "unknown",
    },
    "ko": {
        "no_alarms": "알람 없음",
        "one_alarm": "알람 한 건",
        "alarms": "알람 {n}건",
        "offline": "{who}: {when}부터 연결 끊김",
        "unknown_machine": "그 기계를 모릅니다.",
        "nothing": "조치가 필요한 알람이 없습니다.",
        "one_needs": "조치가 필요한 알람이 한 건 있습니다.",
        "many_need": "조치가 필요한 알람이 {n}건 있습니다.",
        "more": "그 밖에 {n}건.",
        "unknown": "알 수 없음",
    },
}


def _w(key: str, locale: Locale) -> str:
    return _WORDS.get(locale, _WORDS["en"])[key]


def needs_attention(alarm: AlarmStatus) -> bool:
    """Whether an alarm asks for someone: active or unacknowledged, and not hidden."""
    if alarm.shelf is not None or alarm.removed is not None or alarm.suppressed:
        return False
    return alarm.state != "normal"


def _count(n: int, locale: Locale) -> str:
    if n == 0:
        return _w("no_alarms", locale)
    if n == 1:
        return _w("one_alarm", locale)
    return _w("alarms", locale).format(n=n)


def status_answer(
    machine_spoken: str,
    readings: Sequence[Reading],
    alarms: Iterable[AlarmStatus],
    *,
    online: bool = True,
    since: float = 0.0,
    locale: Locale = "en",
) -> str:
    """What a machine is doing: "Press one running, 182 degrees Celsius, no alarms."."""
    who = machine_spoken[:1].upper() + machine_spoken[1:]
    if not online:
        when = time.strftime("%H:%M", time.localtime(since)) if since else "?"
        return _w("offline", locale).format(who=who, when=when) + "."
    parts: list[str] = []
    state = next((r for r in readings if r.tag == "state" and r.spec.type == "enum"), None)
    if state is not None:
        parts.append(
            value_words(state.value, "", state.spec.labels)
            if state.good
            else f"{tag_words('state')} {_w('unknown', locale)}"
        )
    keys = [r for r in readings if r.spec.key and r.spec.type in ("float", "int")]
    for r in keys[:MOST_SAID]:
        said = value_words(r.value, r.spec.unit) if r.good else _w("unknown", locale)
        parts.append(said if r.good and r.spec.unit else f"{tag_words(r.tag)} {said}")
    mine = [a for a in alarms if needs_attention(a)]
    parts.append(_count(len(mine), locale))
    head, rest = (f"{who} {parts[0]}", parts[1:]) if state is not None else (who, parts)
    return ", ".join([head, *rest]) + "."


def attention_answer(
    alarms: Iterable[AlarmStatus],
    describe: Callable[[AlarmStatus], str] = sentence,
    *,
    locale: Locale = "en",
) -> str:
    """The alarms that need action, most urgent (then oldest) first; at most three said."""
    mine = sorted(
        (a for a in alarms if needs_attention(a)),
        key=lambda a: (PRIORITY_RANK.get(a.priority, 9), a.state != "unack", a.raised_at),
    )
    if not mine:
        return _w("nothing", locale)
    n = len(mine)
    head = _w("one_needs", locale) if n == 1 else _w("many_need", locale).format(n=n)
    said = [describe(a).rstrip(".") + "." for a in mine[:MOST_SAID]]
    out = " ".join([head, *said])
    if n > MOST_SAID:
        out += " " + _w("more", locale).format(n=n - MOST_SAID)
    return out
