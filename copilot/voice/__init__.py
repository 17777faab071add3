"""Voice: push-to-talk recognition bound to a grammar built from live data."""

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
    "Context",
    "Heard",
    "Intent",
    "IntentKind",
    "Listener",
    "Locale",
    "VoiceMachine",
    "VoiceSetupError",
]
