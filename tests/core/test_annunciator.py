"""The annunciator's decisions, table-driven: what sounds, when it repeats, silence, speech."""

from __future__ import annotations

from typing import Any

import pytest

from copilot.alarms.annunciator import MORE_KEY, REPEAT_S, Announcement, Annunciator
from copilot.alarms.wording import machine_words, number_words, sentence, tag_words, unit_words
from copilot.protocol import AlarmStatus, Shelf


def alarm(aid: str = "press-02/oil_temp_c/hihi", **kw: Any) -> AlarmStatus:
    machine, tag, cond = aid.split("/")
    fields: dict[str, Any] = {
        "id": aid,
        "machine": machine,
        "tag": tag,
        "condition": cond,
        "priority": "high",
        "state": "unack",
        "active": True,
        "message": "",
        "occurrence": 1,
    }
    fields.update(kw)
    return AlarmStatus(**fields)


SHELF = Shelf(by="ana", at=0, reason="sensor swap")

# -- which tone sounds ---------------------------------------------------------------------------

TONE_CASES: list[tuple[str, list[AlarmStatus], str | None]] = [
    ("nothing", [], None),
    ("one unack high", [alarm(priority="high")], "high"),
    ("most urgent wins", [alarm("a/t/hi", priority="low"), alarm("b/t/hi", priority="critical")],
     "critical"),
    ("acknowledged is quiet", [alarm(state="ack")], None),
    ("normal is quiet", [alarm(state="normal", active=False)], None),
    ("returned to normal, unacked: quiet by default", [alarm(state="rtn_unack")], None),
    ("silenced by plant state", [alarm(silenced=True)], None),
    ("suppressed by design", [alarm(suppressed=True)], None),
    ("shelved", [alarm(shelf=SHELF)], None),
    ("out of service", [alarm(removed=SHELF)], None),
    ("diagnostic never sounds", [alarm(priority="diagnostic")], None),
    ("hidden critical does not outrank a shown low",
     [alarm("a/t/hi", priority="critical", shelf=SHELF), alarm("b/t/hi", priority="low")], "low"),
    ("acked critical, unacked medium", [alarm("a/t/hi", priority="critical", state="ack"),
                                        alarm("b/t/hi", priority="medium")], "medium"),
]  # fmt: skip


@pytest.mark.parametrize(("alarms", "tone"), [c[1:] for c in TONE_CASES],
                         ids=[c[0] for c in TONE_CASES])  # fmt: skip
def test_tone(alarms: list[AlarmStatus], tone: str | None) -> None:
    d = Annunciator().update(alarms, now=100.0)
    assert d.tone == tone
    assert d.play == (tone is not None)
    assert (d.next_at is None) == (tone is None)


def test_rtn_unack_sounds_when_asked() -> None:
    assert Annunciator(sound_rtn=True).update([alarm(state="rtn_unack")], 0.0).tone == "high"


# -- repetition over time: (time, alarms, expected tone, expected play) --------------------------

H = alarm("press-01/p/hi", priority="high")
H2 = alarm("press-03/p/hi", priority="high")
C = alarm("oven-01/z/hihi", priority="critical")
C_ACK = alarm("oven-01/z/hihi", priority="critical", state="ack")
H_ACK = alarm("press-01/p/hi", priority="high", state="ack")
H_AGAIN = alarm("press-01/p/hi", priority="high", occurrence=2)

Step = tuple[float, list[AlarmStatus], str | None, bool]
TIMELINES: dict[str, list[Step]] = {
    "repeats every high interval until acked": [
        (0.0, [H], "high", True),
        (4.0, [H], "high", False),
        (REPEAT_S["high"], [H], "high", True),
        (REPEAT_S["high"] + 1, [H], "high", False),
        (2 * REPEAT_S["high"], [H], "high", True),
        (2 * REPEAT_S["high"] + 1, [H_ACK], None, False),
        (5 * REPEAT_S["high"], [H_ACK], None, False),
    ],
    "a new alarm sounds at once, even at the same priority": [
        (0.0, [H], "high", True),
        (1.0, [H, H2], "high", True),
        (2.0, [H, H2], "high", False),
        (1.0 + REPEAT_S["high"], [H, H2], "high", True),
    ],
    "critical takes over, then high resumes on its own interval": [
        (0.0, [H], "high", True),
        (1.0, [H, C], "critical", True),
        (1.0 + REPEAT_S["critical"], [H, C], "critical", True),
        (7.0, [H, C_ACK], "high", False),  # quieter tone: no jump, waits its interval
        (1.0 + REPEAT_S["critical"] + REPEAT_S["high"], [H, C_ACK], "high", True),
    ],
    "a recurrence is a new occurrence and sounds": [
        (0.0, [H], "high", True),
        (1.0, [H_ACK], None, False),
        (2.0, [H_AGAIN], "high", True),
    ],
}


@pytest.mark.parametrize("name", list(TIMELINES))
def test_timeline(name: str) -> None:
    ann = Annunciator()
    for now, alarms, tone, play in TIMELINES[name]:
        d = ann.update(alarms, now)
        assert (d.tone, d.play) == (tone, play), f"{name} at t={now}"
        if tone is not None:
            assert d.next_at is not None and now < d.next_at <= now + REPEAT_S[tone]


# -- silence -------------------------------------------------------------------------------------


def test_silence_quiets_without_acknowledging_and_ends_on_time() -> None:
    ann = Annunciator()
    assert ann.update([H], 0.0).play
    ann.silence(1.0, 30.0)
    d = ann.update([H], 2.0)
    assert (d.tone, d.play, d.silenced_until, d.next_at) == (None, False, 31.0, 31.0)
    assert d.sounding == (H.id,), "silenced is not acknowledged: it still calls for sound"
    assert ann.update([H], 25.0).play is False
    d = ann.update([H], 31.0)
    assert (d.tone, d.play, d.silenced_until) == ("high", True, None)


def test_a_new_alarm_during_silence_sounds_again() -> None:
    ann = Annunciator()
    ann.update([H], 0.0)
    ann.silence(0.0, 60.0)
    assert not ann.update([H], 5.0).play
    d = ann.update([H, H2], 6.0)
    assert (d.tone, d.play, d.silenced_until) == ("high", True, None)


def test_silence_with_nothing_sounding_does_not_swallow_the_next_alarm() -> None:
    ann = Annunciator()
    ann.update([], 0.0)
    ann.silence(0.0, 60.0)
    assert ann.update([H], 1.0).play


def test_acknowledged_during_silence_stays_quiet_after_it() -> None:
    ann = Annunciator()
    ann.update([H], 0.0)
    ann.silence(0.0, 10.0)
    ann.update([H_ACK], 5.0)
    d = ann.update([H_ACK], 11.0)
    assert (d.tone, d.play) == (None, False)


def test_bad_repeat_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="repeat_s"):
        Annunciator(repeat_s={"critical": 0, "high": 1, "medium": 1, "low": 1})


# -- what is spoken ------------------------------------------------------------------------------

SPEECH_CASES: list[tuple[str, list[AlarmStatus], list[str]]] = [
    ("high and critical are spoken, critical first",
     [alarm("a/t/hi", priority="high", raised_at=1), alarm("b/t/hi", priority="critical",
                                                           raised_at=2)], ["b/t/hi", "a/t/hi"]),
    ("medium and low are not", [alarm("a/t/hi", priority="medium"),
                                alarm("b/t/hi", priority="low")], []),
    ("hidden ones are not", [alarm("a/t/hi", shelf=SHELF), alarm("b/t/hi", suppressed=True),
                             alarm("c/t/hi", silenced=True), alarm("d/t/hi", state="ack")], []),
]  # fmt: skip


@pytest.mark.parametrize(("alarms", "keys"), [c[1:] for c in SPEECH_CASES],
                         ids=[c[0] for c in SPEECH_CASES])  # fmt: skip
def test_announce(alarms: list[AlarmStatus], keys: list[str]) -> None:
    d = Annunciator().update(alarms, 0.0)
    assert [a.key for a in d.announce] == keys


def test_announced_once_per_occurrence_and_cancelled_when_acked() -> None:
    ann = Annunciator()
    first = ann.update([H], 0.0)
    assert first.announce == (Announcement(H.id, "high", "Press 1: p high"),)
    assert ann.update([H], 1.0).announce == ()
    acked = ann.update([H_ACK], 2.0)
    assert acked.announce == () and acked.cancel == (H.id,)
    assert ann.update([H_ACK], 3.0).cancel == (), "a cancel is said once"
    assert [a.key for a in ann.update([H_AGAIN], 4.0).announce] == [H.id]


def test_a_flood_is_summarised() -> None:
    flood = [alarm(f"press-{i:02d}/p/hi", priority="high", raised_at=i) for i in range(1, 8)]
    d = Annunciator(max_announce=3).update(flood, 0.0)
    assert [a.key for a in d.announce] == [
        "press-01/p/hi", "press-02/p/hi", "press-03/p/hi", MORE_KEY,
    ]  # fmt: skip
    assert d.announce[-1].text == "And 4 more alarms."
    assert Annunciator(max_announce=3).update(flood[:4], 0.0).announce[-1].text == (
        "And 1 more alarm."
    )


# -- the sentence --------------------------------------------------------------------------------

SENTENCES: list[tuple[AlarmStatus, dict[str, str], str]] = [
    (alarm("press-02/oil_temp_c/hihi", value=96.04), {},
     "Press 2: oil temperature high high, 96 degrees Celsius"),
    (alarm("press-02/oil_temp_c/hihi", value=96.04), {"machine_name": "Press 2 (hall B)"},
     "Press 2 (hall B): oil temperature high high, 96 degrees Celsius"),
    (alarm("oven-01/zone2_temp_c/lo", value=158.6), {},
     "Oven 1: zone 2 temperature low, 159 degrees Celsius"),
    (alarm("compressor-01/pressure_bar/lolo", value=3.25), {},
     "Compressor 1: pressure low low, 3.25 bar"),
    (alarm("cnc-01/vibration/hi", value=7.42), {"unit": "mm/s"},
     "CNC 1: vibration high, 7.42 millimetres per second"),
    (alarm("conveyor-01/speed_m_min/hi", value=1.0), {},
     "Conveyor 1: speed high, 1 metre per minute"),
    (alarm("press-01/level/hi", value=91.0), {"unit": "%"}, "Press 1: level high, 91 percent"),
    (alarm("press-01/aux_current_03/hihi", value=42.5), {"unit": "A"},
     "Press 1: auxiliary current 3 high high, 42.5 amps"),
    (alarm("press-01/temp/hi", value=-5.0), {"unit": "°C"},
     "Press 1: temperature high, minus 5 degrees Celsius"),
    (alarm("press-01/torque/hi", value=12.0), {"unit": "kN·m"}, "Press 1: torque high, 12 kN·m"),
    (alarm("press-01/flow/roc", value=2.0), {"unit": "l/min"},
     "Press 1: flow changing fast, 2 litres per minute"),
    (alarm("press-01/x/hi"), {}, "Press 1: x high"),
    (alarm("conveyor-01/jam_detected/on", message="Jam detected by the photo-eyes."), {},
     "Conveyor 1: Jam detected by the photo-eyes"),
    (alarm("conveyor-01/jam_detected/on"), {}, "Conveyor 1: jam detected"),
    # The hub's own message names the machine already: said once.
    (alarm("conveyor-01/jam/on", message="Conveyor 1: jam detected by the photo-eyes"),
     {"machine_name": "Conveyor 1"}, "Conveyor 1: jam detected by the photo-eyes"),
    (alarm("press-01/-/comm", message="lost"), {}, "Press 1: connection lost"),
]  # fmt: skip


@pytest.mark.parametrize(("a", "kw", "text"), SENTENCES, ids=[s[2] for s in SENTENCES])
def test_sentence(a: AlarmStatus, kw: dict[str, str], text: str) -> None:
    assert sentence(a, **kw) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "words"), [
    (96.04, "96"), (96.5, "96.5"), (3.14159, "3.14"), (0.5, "0.5"), (0.0, "0"),
    (-0.001, "0"), (-12.25, "minus 12.2"), (1500.0, "1500"), (10.0, "10"),
])  # fmt: skip
def test_number_words(value: float, words: str) -> None:
    assert number_words(value) == words


def test_words_helpers() -> None:
    assert machine_words("press-02") == "Press 2"
    assert machine_words("cnc-10") == "CNC 10"
    assert tag_words("spindle_temp_c") == "spindle temperature"
    assert unit_words("°C", 1.0) == "degree Celsius"
    assert unit_words("rpm", 1.0) == "R P M"
    assert unit_words("Hz", 1.0) == "hertz"
    assert unit_words("m/s²") == "m per s²"
