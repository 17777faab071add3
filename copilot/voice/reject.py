"""Out-of-grammar rejection: the grammar must explain the speech as well as free phones do.

A grammar decoder maps anything onto the grammar. Two measurements separate a command from
chatter (FIELD_NOTES, "Voice"):

* the **likelihood ratio** of the grammar's best path against a free phone loop on the same
  audio, per speech frame: in-grammar speech costs little over free phones, chatter costs a
  lot, because the grammar forces the wrong words onto it;
* the **coverage**: the share of the speech the grammar's words (not its silences or fillers)
  account for, over the frames the phone loop hears as speech, each frame weighted by its
  energy (so quieter background talk counts less than the talker). "cancel my dentist
  appointment" decodes as ``cancel`` with the rest as silence: low coverage.

Too little speech at all is ``no_speech``. Thresholds are in :class:`RejectSettings`, tuned
by ``copilot voice eval`` on the tuning part of the set.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from copilot.voice.sphinx import FILLERS, Decoded


@dataclass(frozen=True)
class RejectSettings:
    """Rejection thresholds (tuned, see docs/voice.md "Rejection")."""

    min_ratio: float = -1.3  # log-likelihood ratio per 1000 speech frames, grammar − phone loop
    min_coverage: float = 0.70  # energy-weighted
    min_speech_frames: int = 15
    scale: float = 0.5  # spread of the logistic that turns the ratio into a confidence


@dataclass(frozen=True)
class Verdict:
    """Accept or not, why, and the numbers behind it."""

    accept: bool
    reason: str
    confidence: float
    ratio: float
    coverage: float
    speech_frames: int


def speech_frames(phones: Decoded, fillers: Collection[str] = FILLERS) -> set[int]:
    """Frames the phone loop hears as a phone (not silence or noise)."""
    out: set[int] = set()
    for s in phones.segments:
        if s.word not in fillers:
            out.update(range(s.start, s.end + 1))
    return out


def frame_energy(pcm: npt.NDArray[np.int16], hop: int = 160) -> npt.NDArray[np.float64]:
    """Mean power of each 10-ms frame (the decoders' frame rate)."""
    x = pcm.astype(np.float64)
    n = len(x) // hop
    out: npt.NDArray[np.float64] = np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1)
    return out


def judge(
    grammar: Decoded,
    phones: Decoded,
    settings: RejectSettings,
    energy: npt.NDArray[np.float64] | None = None,
) -> Verdict:
    """The verdict on one utterance; see the module docstring (``energy``: per frame)."""
    speech = speech_frames(phones)
    n = len(speech)
    if n < settings.min_speech_frames:
        return Verdict(False, "no_speech", 0.0, 0.0, 0.0, n)
    if not grammar.words:  # speech, but no sentence of the grammar fits it at all
        return Verdict(False, "out_of_grammar", 0.0, 0.0, 0.0, n)
    covered: set[int] = set()
    for s in grammar.segments:
        if s.word not in FILLERS:
            covered.update(range(s.start, s.end + 1))
    if energy is None or len(energy) == 0:
        coverage = len(speech & covered) / n
    else:
        idx = np.fromiter((i for i in speech if i < len(energy)), dtype=np.int64)
        inside = np.fromiter((i in covered for i in idx), dtype=bool, count=len(idx))
        total = float(energy[idx].sum())
        coverage = float(energy[idx][inside].sum()) / total if total > 0 else 0.0
    ratio = 1000.0 * (grammar.log_score - phones.log_score) / n
    confidence = 1.0 / (1.0 + math.exp(-(ratio - settings.min_ratio) / settings.scale))
    confidence *= min(1.0, coverage / max(settings.min_coverage, 1e-6))
    if coverage < settings.min_coverage:
        return Verdict(False, "out_of_grammar", confidence, ratio, coverage, n)
    if ratio < settings.min_ratio:
        return Verdict(False, "out_of_grammar", confidence, ratio, coverage, n)
    return Verdict(True, "", confidence, ratio, coverage, n)
