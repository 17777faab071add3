"""The whole voice flow with the real pocketsphinx engine on speech synthesized by espeak-ng.

A hub process with the gate, the in-process press of :class:`tests.helpers.GatedAgent`
("Press 1": ``stop`` one tap, ``set_speed`` confirm, ``reset`` signed), a station, the real
Speaker writing WAVs, and :class:`copilot.station.voice.VoiceFlow` with the listener
:func:`copilot.voice.listener.make_listener` builds. Each utterance is synthesized
(:func:`copilot.voice.synth.synthesize`, 16 kHz mono), written to a WAV file and given to the
flow as a :class:`copilot.voice.audio.WavSource` (the microphone's interface).
The dialogue's clock is injected: the 6-second timeout is tested without waiting for it.
"""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from copilot.gate.audit import AuditRow, audit_path, query
from copilot.speech import Speaker
from copilot.speech.backends import WavFileSink
from copilot.station import Station
from copilot.station.voice import VoiceFlow
from copilot.voice.audio import WavSource
from copilot.voice.dialogue import CONFIRM_S, Proposal
from copilot.voice.synth import espeak_available, synthesize
from tests.helpers import GatedAgent, Plant, add_person, login, settled, wait_until

pytest.importorskip("pocketsphinx")
pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")

POLICY = """
version = 1
[[allow]]
commands = ["stop", "start"]
roles = ["Engineer", "Operator", "Supervisor"]
[[allow]]
commands = ["*"]
roles = ["Operator", "Supervisor"]
[voice]
commands = ["stop", "set_speed", "reset"]
"""


def spoken_wav(folder: Path, text: str, voice: str = "en-us") -> WavSource:
    """``text`` synthesized by espeak-ng into a 16 kHz WAV file, as a push-to-talk source."""
    path = folder / f"{len(list(folder.glob('*.wav'))):03d}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(synthesize(text, voice=voice).tobytes())
    return WavSource(path)


class Clock:
    def __init__(self) -> None:
        self.t = 5000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Rig:
    station: Station
    flow: VoiceFlow
    wavs: Path
    clock: Clock
    sink: WavFileSink
    speaker: Speaker
    handed: list[Proposal]

    def say(self, text: str) -> str:
        """Hold the button while ``text`` is spoken, let go; the phase the flow ends in."""
        self.speaker.wait_idle(10)  # the operator hears the station out, then speaks
        self.flow.source = spoken_wav(self.wavs, text)
        before = self.flow.stats.utterances
        self.flow.press()
        self.flow.release()
        wait_until(
            lambda: self.flow.stats.utterances > before and self.flow.view().phase != "recognizing",
            20,
            f"the flow heard {text!r}",
        )
        return self.flow.view().phase

    def spoken(self) -> list[str]:
        self.speaker.wait_idle(10)
        return [r.text for r in self.sink.rendered]


@pytest.fixture
def gated(plant: Plant, tmp_path: Path) -> Plant:
    add_person(plant.data_dir, "ana", "Operator", "1111")
    add_person(plant.data_dir, "kim", "Engineer", "2222")  # stop and start only
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    plant.hub("--policy", str(policy))
    return plant


@pytest.fixture
def agent(gated: Plant) -> Iterator[GatedAgent]:
    a = GatedAgent(gated)
    yield a
    a.close()


@pytest.fixture
def rig(agent: GatedAgent, stations: Callable[..., Station], tmp_path: Path) -> Iterator[Rig]:
    from copilot.voice.listener import make_listener

    station = stations()
    wait_until(lambda: station.store.reading("press-1", "speed") is not None, 15, "press-1 known")
    login(station, "ana", "1111")
    sink = WavFileSink(tmp_path / "spoken")
    speaker = Speaker([lambda: sink], name="voice-engine-test-speaker")
    speaker.start()
    wavs = tmp_path / "said"
    wavs.mkdir()
    clock = Clock()
    handed: list[Proposal] = []
    flow = VoiceFlow(
        station,
        lambda: make_listener("pocketsphinx", "en"),
        None,
        speaker,
        clock=clock,
        hand_to_touch=handed.append,
    )
    flow.start()
    assert flow.wait_ready(30) and flow.unavailable is None, flow.unavailable
    yield Rig(station, flow, wavs, clock, sink, speaker, handed)
    flow.stop()
    speaker.stop()


def audit(plant: Plant) -> list[AuditRow]:
    return query(audit_path(plant.data_dir))


def test_spoken_setpoint_confirmed_by_voice_reaches_the_machine_and_the_audit(
    rig: Rig, agent: GatedAgent, gated: Plant
) -> None:
    assert rig.say("press one set speed to eighty") == "confirming"
    proposal = rig.flow.view().proposal
    assert proposal is not None
    assert (proposal.machine, proposal.command, dict(proposal.args)) == (
        "press-1",
        "set_speed",
        {"speed": 80.0},
    )
    assert proposal.cmd_id not in rig.station.store.commands  # nothing sent yet
    assert rig.spoken() == ["Press one: set speed to 80 R P M. Say yes confirm."]
    rig.clock.t += 2.0
    assert rig.say("yes confirm") == "dispatched"
    assert settled(rig.station, proposal.cmd_id).state == "COMPLETED"
    assert agent.actuations == [("set_speed", {"speed": 80.0})]
    assert agent.origins == ["voice"]
    wait_until(lambda: any(r.kind == "dispatched" for r in audit(gated)), 5, "the dispatch audited")
    (row,) = [r for r in audit(gated) if r.kind == "dispatched"]
    facts = row.details()["voice"]
    assert facts["transcript"] == "press one set speed to eighty"
    assert facts["engine"] == "pocketsphinx"
    assert 0.0 < facts["confidence"] <= 1.0
    assert facts["grammar_version"] == proposal.heard.grammar_version != ""
    wait_until(lambda: len(rig.spoken()) >= 2, 10, "the result spoken")
    assert rig.spoken()[-1] == "Press one: set speed done. Speed 80 R P M, state idle."
    # Release → read-back queued, decoding on the worker (figures: docs/voice.md, "The flow").
    assert len(rig.flow.stats.reply_ms) >= 1 and max(rig.flow.stats.reply_ms) < 5000


def test_without_a_confirmation_nothing_is_sent_and_the_timeout_cancels(
    rig: Rig, agent: GatedAgent, gated: Plant
) -> None:
    assert rig.say("press one stop") == "confirming"
    rig.clock.t += CONFIRM_S
    rig.flow.tick()
    assert rig.flow.view().phase == "timed_out"
    assert rig.say("yes confirm") == "not_understood"  # the proposal is gone: nothing to confirm
    assert rig.station.store.commands == {}
    assert agent.actuations == []
    assert not [r for r in audit(gated) if r.cmd_id]


def test_spoken_cancel_works_while_confirming(rig: Rig, agent: GatedAgent) -> None:
    assert rig.say("press one stop") == "confirming"
    assert rig.say("cancel") == "cancelled"
    assert rig.station.store.commands == {}
    assert agent.actuations == []


def test_a_spoken_signed_command_goes_to_touch_and_never_out_by_voice(
    rig: Rig, agent: GatedAgent, gated: Plant
) -> None:
    assert rig.say("press one reset") == "handed_to_touch"
    (proposal,) = rig.handed
    assert (proposal.command, proposal.tier) == ("reset", 3)
    rig.say("yes confirm")
    rig.flow.touch_confirm()
    assert rig.station.store.commands == {}
    assert agent.actuations == []
    assert not [r for r in audit(gated) if r.details().get("origin") == "voice"]


def test_status_of_a_machine_is_answered_aloud(rig: Rig) -> None:
    wait_until(
        lambda: (r := rig.station.store.reading("press-1", "state")) is not None and r.good,
        10,
        "live state",
    )
    assert rig.say("status of press one") == "answering"
    assert rig.spoken()[-1] == "Press one idle, no alarms."


def test_out_of_grammar_speech_proposes_nothing(rig: Rig) -> None:
    phase = rig.say("the forklift needs a new battery")
    assert phase in ("not_understood", "cancelled")
    assert rig.flow.view().proposal is None
    assert rig.station.store.commands == {}


def test_korean_through_vosk_confirmed_by_voice_reaches_the_machine(
    rig: Rig, agent: GatedAgent, gated: Plant, stations: Callable[..., Station]
) -> None:
    """The grammar holds what the person may command: kim's two commands have Korean words."""
    pytest.importorskip("vosk")
    from copilot.voice.listener import make_listener

    station = stations()
    wait_until(lambda: station.store.reading("press-1", "speed") is not None, 15, "press-1 known")
    login(station, "kim", "2222")
    flow = VoiceFlow(station, lambda: make_listener("auto", "ko"), None, rig.speaker, locale="ko")
    flow.start()
    try:
        assert flow.wait_ready(60) and flow.unavailable is None, flow.unavailable

        def say(text: str) -> str:
            flow.source = spoken_wav(rig.wavs, text, voice="ko")
            before = flow.stats.utterances
            flow.press()
            flow.release()
            wait_until(
                lambda: flow.stats.utterances > before and flow.view().phase != "recognizing",
                30,
                f"the flow heard {text!r}",
            )
            return flow.view().phase

        (press,) = flow.context().machines
        assert [c.name for c in press.commands] == ["stop", "start"]
        stop = f"{press.spoken[0]} 정지"  # "프레스 하나 정지", as the Korean templates say it
        assert say(stop) == "confirming"
        proposal = flow.view().proposal
        assert proposal is not None and (proposal.machine, proposal.command) == ("press-1", "stop")
        assert proposal.cmd_id not in station.store.commands
        assert say("확인") == "dispatched"
        assert settled(station, proposal.cmd_id).state == "COMPLETED"
        assert agent.origins == ["voice"]
        wait_until(lambda: any(r.kind == "dispatched" for r in audit(gated)), 5, "audited")
        (row,) = [r for r in audit(gated) if r.kind == "dispatched"]
        facts = row.details()["voice"]
        assert facts["transcript"] == stop
        assert facts["engine"].startswith("vosk")
    finally:
        flow.stop()
