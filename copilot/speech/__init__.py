"""Speech out: the one text-to-speech worker, its backends and the WAV player they share."""

from copilot.speech.backends import (
    Backend,
    BackendFactory,
    EspeakBackend,
    Pyttsx3Backend,
    Rendered,
    SpeechUnavailableError,
    WavFileSink,
    default_backends,
)
from copilot.speech.player import PlaybackError, WavPlayer, find_player
from copilot.speech.tts import (
    DropReason,
    Speaker,
    SpeakerStats,
    SpeechEvent,
    SpeechUnavailable,
    urgency,
)

__all__ = [
    "Backend",
    "BackendFactory",
    "DropReason",
    "EspeakBackend",
    "PlaybackError",
    "Pyttsx3Backend",
    "Rendered",
    "Speaker",
    "SpeakerStats",
    "SpeechEvent",
    "SpeechUnavailable",
    "SpeechUnavailableError",
    "WavFileSink",
    "WavPlayer",
    "default_backends",
    "find_player",
    "urgency",
]
