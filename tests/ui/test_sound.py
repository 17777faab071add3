"""AlarmSounder under the offscreen platform: tones through a real player subprocess, no sound card.

The "player" is a real subprocess (this Python, appending the WAV's name to a log), so the
path from decision to process is the one a panel runs; speech goes to a real WavFileSink.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from copilot.alarms.annunciator import Annunciator
from copilot.protocol import AlarmStatus
from copilot.speech import Speaker, WavFileSink, WavPlayer
from ui.sound import SOUNDS, AlarmSounder


def alarm(aid: str, priority: str, **kw: Any) -> AlarmStatus:
    machine, tag, cond = aid.split("/")
    fields: dict[str, Any] = dict(
        id=aid, machine=machine, tag=tag, condition=cond, priority=priority, state="unack",
        active=True, message="", occurrence=1,
    )  # fmt: skip
    fields.update(kw)
    return AlarmStatus(**fields)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def logging_player(log: Path, delay_s: float = 0.0) -> WavPlayer:
    code = (
        "import sys, time; time.sleep(float(sys.argv[2])); "
        "open(sys.argv[1], 'a').write(sys.argv[3].rsplit('/', 1)[-1] + '\\n')"
    )
    return WavPlayer([sys.executable, "-c", code, str(log), str(delay_s)])


def played(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


@pytest.fixture
def sounders(qtbot: Any) -> Iterator[list[AlarmSounder]]:
    made: list[AlarmSounder] = []
    yield made
    for s in made:
        s.close()


def test_sounds_ship_for_every_tone() -> None:
    assert sorted(p.name for p in SOUNDS.glob("*.wav")) == [
        "critical.wav", "high.wav", "low.wav", "medium.wav",
    ]  # fmt: skip


def test_tone_plays_and_repeats_until_acknowledged(
    tmp_path: Path, qtbot: Any, sounders: list[AlarmSounder]
) -> None:
    log = tmp_path / "played.log"
    ann = Annunciator(repeat_s={"critical": 0.3, "high": 0.3, "medium": 1, "low": 1})
    s = AlarmSounder(annunciator=ann, player=logging_player(log))
    sounders.append(s)
    crit = alarm("press-02/oil_temp_c/hihi", "critical", value=96.0)
    with qtbot.waitSignal(s.tone_started, timeout=2000) as blocker:
        d = s.update([crit])
    assert blocker.args == ["critical"] and d.tone == "critical" and d.play
    qtbot.waitUntil(lambda: played(log) == ["critical.wav"], timeout=5000)
    # The timer repeats it on its own, with no update from the caller.
    qtbot.waitUntil(lambda: len(played(log)) >= 2, timeout=5000)
    s.update([alarm("press-02/oil_temp_c/hihi", "critical", state="ack")])
    assert s.decision.tone is None and s.next_at is None


def test_silence_and_mute_play_nothing_but_a_new_alarm_sounds(
    tmp_path: Path, qtbot: Any, sounders: list[AlarmSounder]
) -> None:
    clock = Clock()
    s = AlarmSounder(player=logging_player(tmp_path / "log"), clock=clock)
    sounders.append(s)
    high = alarm("press-01/p/hi", "high")
    s.update([high])
    assert s.played == 1
    s.silence(60)
    assert s.decision.tone is None and s.decision.silenced_until == clock.t + 60
    assert s.next_at == clock.t + 60, "wakes when the silence ends, not before"
    clock.t += 5
    s.update([high])
    assert s.played == 1
    s.update([high, alarm("oven-01/z/lo", "high")])
    assert s.played == 2 and s.decision.silenced_until is None
    s.muted = True
    s.update([high, alarm("oven-01/z/lo", "high"), alarm("cnc-01/v/hi", "critical")])
    assert s.decision.play and s.played == 2, "muted: decided, not played"


def test_update_never_waits_for_the_player(
    tmp_path: Path, qtbot: Any, sounders: list[AlarmSounder]
) -> None:
    log = tmp_path / "log"
    s = AlarmSounder(player=logging_player(log, delay_s=1.0))
    sounders.append(s)
    t0 = time.perf_counter()
    for i in range(20):
        s.update([alarm(f"m-{i:02d}/t/hi", "high")])
    assert time.perf_counter() - t0 < 0.5
    qtbot.waitUntil(lambda: played(log) == ["high.wav"], timeout=5000)


def test_player_failure_is_reported_once(qtbot: Any, sounders: list[AlarmSounder]) -> None:
    player = WavPlayer([sys.executable, "-c", "import sys; sys.exit('no default audio device')"])
    s = AlarmSounder(player=player)
    sounders.append(s)
    with qtbot.waitSignal(s.failed, timeout=5000) as blocker:
        s.update([alarm("press-01/p/hi", "high")])
    assert "no default audio device" in blocker.args[0]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
def test_new_critical_is_spoken(tmp_path: Path, qtbot: Any, sounders: list[AlarmSounder]) -> None:
    sink = WavFileSink(tmp_path / "speech")
    speaker = Speaker([lambda: sink])
    speaker.start()
    try:
        s = AlarmSounder(speaker=speaker, player=logging_player(tmp_path / "log"))
        sounders.append(s)
        s.update([alarm("press-02/oil_temp_c/hihi", "critical", value=96.0)])
        assert speaker.wait_idle(20)
        assert [r.text for r in sink.rendered] == [
            "Press 2: oil temperature high high, 96 degrees Celsius"
        ]
        assert sink.rendered[0].path.stat().st_size > 20_000
    finally:
        assert speaker.stop(5)
