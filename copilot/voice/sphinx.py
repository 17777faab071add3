"""The pocketsphinx recognizer: a JSGF grammar search and a free phone loop on the same audio.

The wheel ships the en-US acoustic model, its dictionary and a phone language model; nothing
is downloaded. One :class:`SphinxEngine` owns two decoders (grammar, phone loop) and is used
from one thread at a time (the station's voice Worker).

Settings (:class:`SphinxSettings`) were tuned on the evaluation set (``copilot voice eval``):
``bestpath`` off, a low silence probability, more Gaussians (``topn``) and a lower language
weight. The model's own ``feat.params`` would override ``remove_noise``: a copy with our value
is written to a temporary folder and passed as ``featparams``.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from copilot.voice.audio import with_noise_floor
from copilot.voice.phoneloop import PhoneLoopProcess
from copilot.voice.types import VoiceSetupError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAME_RATE = 100  # pocketsphinx frames per second
VOWELS = frozenset(
    ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"]
)
FILLERS = frozenset({"<sil>", "<s>", "</s>", "(NULL)", "[NOISE]", "SIL", "+NSN+", "+SPN+"})


@dataclass(frozen=True)
class SphinxSettings:
    """Decoder settings; defaults are the tuned ones (docs/voice.md, "Engine")."""

    bestpath: bool = False
    silprob: float = 0.1
    topn: int = 4
    lw: float = 2.0
    beam: float = 1e-40
    wbeam: float = 1e-24
    pbeam: float = 1e-40
    phone_topn: int = 4
    phone_beam: float = 1e-40
    ds: int = 1  # the grammar search's GMM frame downsampling
    phone_ds: int = 1  # the phone loop's
    phone_process: bool = True  # the phone loop in a helper process, beside the grammar search
    remove_noise: bool | None = None  # None: the model's own choice
    nbest: int = 5
    nonrhotic: bool = True  # add "staat" for "start": British and Caribbean talkers
    noise_floor_db: float | None = None  # e.g. 35: a pink floor under the speech (audio.py)


@dataclass(frozen=True)
class Segment:
    """A word (or phone) and its frames, end inclusive."""

    word: str
    start: int
    end: int
    ascore: float = 0.0  # natural log of the acoustic score, as the decoder normalises it


@dataclass(frozen=True)
class Decoded:
    """One search's outcome: best words, their segments, its log score, and alternatives."""

    words: tuple[str, ...]
    segments: tuple[Segment, ...]
    log_score: float  # natural log, frame-normalised by the decoder
    frames: int
    nbest: tuple[tuple[str, ...], ...] = ()


def _log(p: float) -> float:
    return math.log(p) if p > 0 else -1e9


class SphinxEngine:
    """The pocketsphinx decoders; build on the worker (it takes about a second)."""

    name = "pocketsphinx"

    def __init__(self, settings: SphinxSettings | None = None) -> None:
        self._ps: Any = _import()
        self.settings = settings or SphinxSettings()
        s = self.settings
        self._folder = tempfile.mkdtemp(prefix="copilot-sphinx-")
        weakref.finalize(self, shutil.rmtree, self._folder, True)
        common = _common_config(s, self._folder)
        self._grammar = self._ps.Decoder(
            **common, bestpath=s.bestpath, silprob=s.silprob, lw=s.lw, wbeam=s.wbeam, ds=s.ds
        )
        self._phones: Any = None  # built on first inline use (the helper has its own)
        self._helper: PhoneLoopProcess | None = None
        if s.phone_process:
            self._helper = PhoneLoopProcess.start(s)
        if self._helper is None:
            self._phones = phone_decoder(s, self._folder)
        self._searches: dict[str, str] = {}
        self.last_helper_cpu_ms = 0.0  # the helper's CPU on the last utterance (evaluation)

    def has_word(self, word: str) -> bool:
        """Whether the dictionary can pronounce ``word``."""
        return self._grammar.lookup_word(word) is not None

    def add_variants(self, words: set[str]) -> None:
        """Give each of ``words`` its non-rhotic pronunciation as an alternative, if it differs.

        ``start`` S T AA R T gets S T AA T, ``conveyor`` … EY ER gets … EY AH: the dictionary
        is American, many talkers (and espeak-ng's British voices) drop post-vocalic R.
        """
        if not self.settings.nonrhotic:
            return
        for word in sorted(words):
            pron = self._grammar.lookup_word(word)
            alt_name = f"{word}(9)"
            if pron is None or self._grammar.lookup_word(alt_name) is not None:
                continue
            phones = pron.split()
            out: list[str] = []
            for i, ph in enumerate(phones):
                nxt = phones[i + 1] if i + 1 < len(phones) else ""
                if ph == "R" and out and out[-1] in VOWELS and nxt not in VOWELS:
                    continue
                out.append("AH" if ph == "ER" and not nxt else ph)
            if out != phones:
                self._grammar.add_word(alt_name, " ".join(out), False)

    def use_grammar(self, jsgf: str, version: str) -> None:
        """Make ``jsgf`` the active search (compiled once per version, a few kept)."""
        name = f"g{version}"
        if name not in self._searches:
            if len(self._searches) >= 8:
                old = next(iter(self._searches))
                self._searches.pop(old)
                self._grammar.remove_search(old)
            try:
                self._grammar.add_jsgf_string(name, jsgf)
            except (RuntimeError, ValueError) as exc:
                raise VoiceSetupError(f"pocketsphinx rejected the grammar: {exc}.") from exc
            self._searches[name] = jsgf
        self._grammar.activate_search(name)

    def alternatives(
        self, limit: int | None = None, budget_s: float = 0.1
    ) -> list[tuple[str, ...]]:
        """The grammar search's N-best word sequences of the last utterance, best first.

        Costly: the A* over the lattice repeats hypotheses and can run for seconds on a long
        utterance, so it stops after ``budget_s`` or three times ``limit`` candidates. The
        listener asks only when the best hypothesis does not parse to an applicable intent.
        """
        want = limit or self.settings.nbest
        out: list[tuple[str, ...]] = []
        start = time.perf_counter()
        for seen, n in enumerate(self._grammar.nbest()):
            if n is None or seen >= 3 * want or time.perf_counter() - start > budget_s:
                break
            w = tuple(n.hypstr.split())
            if w not in out:
                out.append(w)
            if len(out) >= want:
                break
        return out

    def decode(self, pcm: npt.NDArray[np.int16]) -> tuple[Decoded, Decoded]:
        """Grammar search and phone loop on ``pcm`` (with the noise floor added).

        With the helper process the phone loop decodes on the other core while the grammar
        search runs here (the bindings hold the interpreter, so a thread would not overlap);
        if the helper has died, the phone loop runs here after the grammar search.
        """
        if self.settings.noise_floor_db is not None:
            pcm = with_noise_floor(pcm, self.settings.noise_floor_db)
        raw = np.ascontiguousarray(pcm, dtype=np.int16).tobytes()
        self.last_helper_cpu_ms = 0.0
        helper = self._helper
        sent = helper is not None and helper.submit(raw)
        grammar = run_decoder(self._grammar, raw)
        if helper is not None and sent:
            got = helper.result()
            if got is not None:
                phones, self.last_helper_cpu_ms = got
                return grammar, phones
        if helper is not None:
            log.warning("voice: the phone-loop helper process is gone; decoding here")
            helper.close()
            self._helper = None
        if self._phones is None:
            self._phones = phone_decoder(self.settings, self._folder)
        return grammar, run_decoder(self._phones, raw)

    def close(self) -> None:
        """Stop the helper process (also done when the engine is collected)."""
        if self._helper is not None:
            self._helper.close()
            self._helper = None


def _import() -> Any:
    try:
        import pocketsphinx
    except ImportError as exc:
        raise VoiceSetupError(
            "pocketsphinx is not installed: install the voice extra "
            "(pip install 'operator-copilot[voice]')."
        ) from exc
    return pocketsphinx


def _model() -> Path:
    return Path(_import().get_model_path()) / "en-us"


def _common_config(s: SphinxSettings, folder: str) -> dict[str, Any]:
    """Settings both decoders share; a ``feat.params`` copy in ``folder`` if needed."""
    model = _model()
    hmm = model / "en-us"
    common: dict[str, Any] = {
        "hmm": str(hmm),
        "dict": str(model / "cmudict-en-us.dict"),
        "lm": None,
        "loglevel": "FATAL",
        "topn": s.topn,
        "beam": s.beam,
        "pbeam": s.pbeam,
    }
    if s.remove_noise is not None:
        params = (hmm / "feat.params").read_text()
        lines = [ln for ln in params.splitlines() if not ln.startswith("-remove_noise")]
        lines.append(f"-remove_noise {'yes' if s.remove_noise else 'no'}")
        feat = Path(folder) / "feat.params"
        feat.write_text("\n".join(lines) + "\n")
        common["featparams"] = str(feat)
    return common


def phone_decoder(s: SphinxSettings, folder: str) -> Any:
    """The free phone loop's decoder."""
    phones = {
        **_common_config(s, folder),
        "topn": s.phone_topn,
        "beam": s.phone_beam,
        "pbeam": s.phone_beam,
        "ds": s.phone_ds,
    }
    return _import().Decoder(**phones, allphone=str(_model() / "en-us-phone.lm.bin"), lw=2.0)


def run_decoder(decoder: Any, pcm: bytes) -> Decoded:
    """One utterance through ``decoder``: best words, segments, score."""
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    frames = int(decoder.n_frames())
    if hyp is None:
        return Decoded((), (), -1e9, frames)
    segs = tuple(
        Segment(s.word, int(s.start_frame), int(s.end_frame), _log(s.ascore)) for s in decoder.seg()
    )
    return Decoded(tuple(hyp.hypstr.split()), segs, _log(hyp.score), frames)
