"""English through the real pocketsphinx engine on espeak-ng speech synthesized in the test."""

from __future__ import annotations

import numpy as np
import pytest

from copilot.protocol import ArgSpec, CommandSpec, Range
from copilot.voice.listener import SphinxListener, make_listener
from copilot.voice.noise import broadband, hum, mix, noise_only
from copilot.voice.synth import espeak_available, synthesize
from copilot.voice.templates import load_templates
from copilot.voice.types import Context, VoiceMachine, VoiceSetupError

pytest.importorskip("pocketsphinx")
pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")

SETPOINT = CommandSpec(
    name="set_setpoint", args=[ArgSpec(name="setpoint_c", unit="°C", range=Range(180.0, 260.0))]
)
MACHINES = (
    VoiceMachine("press-02", ("press two",), (CommandSpec(name="stop"), SETPOINT)),
    VoiceMachine("conveyor-01", ("conveyor one",), (CommandSpec(name="stop"),)),
)
CONTEXT = Context("en", MACHINES, on_screen="press-02")


@pytest.fixture(scope="module")
def listener() -> SphinxListener:
    made = make_listener("pocketsphinx", "en")
    assert isinstance(made, SphinxListener)
    return made


def test_a_command_with_a_number_decodes_to_its_intent_and_typed_slots(
    listener: SphinxListener,
) -> None:
    speech = synthesize("press two set target to two hundred ten degrees").astype(float)
    noisy = mix(speech, hum(len(speech), np.random.default_rng(1)), 18.0)
    heard = listener.hear(noisy, CONTEXT)
    assert heard.intent is not None, heard
    assert (heard.intent.kind, heard.intent.machine, heard.intent.command) == (
        "command",
        "press-02",
        "set_setpoint",
    )
    assert dict(heard.intent.args) == {"setpoint_c": 210.0}
    assert heard.engine == "pocketsphinx"
    assert len(heard.grammar_version) == 12
    assert heard.decode_ms > 0


def test_the_on_screen_machine_needs_no_name(listener: SphinxListener) -> None:
    heard = listener.hear(synthesize("stop", voice="en-gb"), CONTEXT)
    assert heard.intent is not None, heard
    assert (heard.intent.machine, heard.intent.command) == ("press-02", "stop")


@pytest.mark.parametrize(
    "sentence", ["cancel my dentist appointment", "the coffee machine is broken again"]
)
def test_out_of_grammar_speech_yields_no_command(listener: SphinxListener, sentence: str) -> None:
    heard = listener.hear(synthesize(sentence), CONTEXT)
    assert heard.intent is None, heard
    assert heard.reason in ("out_of_grammar", "no_speech")


def test_noise_only_yields_nothing(listener: SphinxListener) -> None:
    rng = np.random.default_rng(7)
    n = 16000 * 2
    heard = listener.hear(noise_only(hum(n, rng) + broadband(n, rng), -30.0), CONTEXT)
    assert heard.intent is None, heard


def test_a_word_missing_from_the_dictionary_is_named(listener: SphinxListener) -> None:
    odd = Context("en", (VoiceMachine("kx-1", ("kxq one",), (CommandSpec(name="stop"),)),), None)
    with pytest.raises(VoiceSetupError, match="'kxq'"):
        listener.prepare(odd)


def test_pocketsphinx_has_no_korean() -> None:
    with pytest.raises(VoiceSetupError, match="vosk"):
        make_listener("pocketsphinx", "ko")
    assert load_templates("ko").locale == "ko"


def test_the_phone_loop_helper_process_gives_what_the_inline_decoder_gives() -> None:
    from copilot.voice.sphinx import SphinxEngine, SphinxSettings

    speech = synthesize("conveyor one stop", voice="en-gb")
    noisy = mix(speech.astype(float), hum(len(speech), np.random.default_rng(3)), 12.0)
    inline = SphinxEngine(SphinxSettings(phone_process=False))
    beside = SphinxEngine(SphinxSettings(phone_process=True))
    try:
        assert beside._helper is not None  # a helper process was started
        grammar = load_templates("en")
        for engine in (inline, beside):
            listener = SphinxListener(grammar)
            listener.engine = engine
            listener.prepare(CONTEXT)
        one, two = inline.decode(noisy), beside.decode(noisy)
        assert one[1] == two[1]  # the phone loop: same segments, same score
        assert one[0].words == two[0].words
        assert beside.last_helper_cpu_ms > 0
        # The helper dies: the engine decodes the phone loop itself from then on.
        beside._helper._finalizer()  # type: ignore[union-attr]
        three = beside.decode(noisy)
        assert beside._helper is None
        assert three[1] == one[1]
    finally:
        inline.close()
        beside.close()
