"""Voice: push-to-talk recognition bound to a grammar built from live data."""

from copilot.voice.audio import (
    AudioSource,
    MicrophoneUnavailableError,
    SounddeviceSource,
    WavSource,
    level_dbfs,
    read_wav,
)
from copilot.voice.grammar import Grammar, build_grammar, check_vocabulary, default_spoken
from copilot.voice.listener import SphinxListener, make_listener
from copilot.voice.templates import Templates, load_templates
from copilot.voice.types import (
    Context,
    Heard,
    Intent,
    IntentKind,
    Listener,
    Locale,
    VoiceMachine,
    VoiceSetupError,
)

__all__ = [
    "AudioSource",
    "Context",
    "Grammar",
    "Heard",
    "Intent",
    "IntentKind",
    "Listener",
    "Locale",
    "MicrophoneUnavailableError",
    "SounddeviceSource",
    "SphinxListener",
    "Templates",
    "VoiceMachine",
    "VoiceSetupError",
    "WavSource",
    "build_grammar",
    "check_vocabulary",
    "default_spoken",
    "level_dbfs",
    "load_templates",
    "make_listener",
    "read_wav",
]
