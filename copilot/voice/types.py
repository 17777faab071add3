"""The shared voice types: what a listener is told (Context) and what it answers (Heard).

This module is the contract between recognition (grammar, engines, rejection, intent) and the
push-to-talk flow (dialogue, read-back, station wiring). It holds data only: no engine, no
audio, no Qt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from copilot.protocol import CommandSpec, Scalar

Locale = Literal["en", "ko"]
IntentKind = Literal["command", "confirm", "cancel", "repeat", "status", "ack_alarm", "attention"]


class VoiceSetupError(RuntimeError):
    """A recognizer or grammar cannot be built; the message is one sentence for a person."""


@dataclass(frozen=True)
class VoiceMachine:
    """One machine as voice sees it.

    ``name`` is the machine id on the wire (``press-2``); ``spoken`` its spoken forms, the
    first being the read-back form (``press two``); ``commands`` come from the machine's
    BIRTH; ``state`` is the current mode label (``running``, ``idle``), ``""`` when unknown.
    """

    name: str
    spoken: tuple[str, ...]
    commands: tuple[CommandSpec, ...]
    state: str = ""


@dataclass(frozen=True)
class Context:
    """What the listener may hear right now.

    The commands of ``on_screen`` need no machine name. ``confirm_only``: waiting for a
    confirmation, only confirm / cancel / repeat are heard. ``allowed(machine, command)`` says
    whether voice may propose that command now (grants); ``None`` allows every command.
    """

    locale: Locale
    machines: tuple[VoiceMachine, ...]
    on_screen: str | None
    confirm_only: bool = False
    allowed: Callable[[str, str], bool] | None = None


@dataclass(frozen=True)
class Intent:
    """What was understood: a kind, and for a command its machine, command and typed args."""

    kind: IntentKind
    machine: str | None = None
    command: str | None = None
    args: Mapping[str, Scalar] = field(default_factory=dict)
    phrase: str = ""


@dataclass(frozen=True)
class Heard:
    """One utterance's outcome; ``intent`` is ``None`` when rejected or nothing was understood.

    ``reason`` says why it was rejected (``out_of_grammar``, ``no_speech``, ``not_applicable``,
    ``ambiguous``); ``decode_ms`` is the time from end of speech (release) to this answer.
    """

    intent: Intent | None
    transcript: str
    engine: str
    confidence: float
    grammar_version: str
    reason: str = ""
    decode_ms: float = 0.0


class Listener(Protocol):
    """Turns one push-to-talk utterance into a Heard; called on a station Worker only."""

    def hear(self, pcm: npt.NDArray[np.int16], context: Context) -> Heard:
        """Recognise 16 kHz mono int16 PCM (the whole utterance) in ``context``."""
        ...
