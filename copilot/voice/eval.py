"""The voice evaluation: every template phrase spoken, mixed with factory noise, recognised.

:func:`build_set` makes the clip list from the locale's templates and a simulated fleet's
command catalogue (12 machines, their BIRTH commands): command phrases (machine named, and
for the machine on screen without a name) at SNRs 24 → 6 dB in 3-dB steps, out-of-grammar
sentences (some containing a command word) and noise-only clips. The set is split in two:
the **tuning** part (its voices, rates, pitches, noise shapes, out-of-grammar sentences) and
the **held-out** part (other ones of each), which tuning never sees; the held-out figures are
the ones reported. :func:`run` recognises every clip in worker processes with the whole
pipeline short of dispatch (grammar, decoder, rejection, intent, live checks) and keeps the
rejection features of every clip, so :func:`tune_rejection` can choose thresholds on the
tuning part without decoding again. :func:`report` computes the figures.

A command is correct when its intent, machine, command and every argument are exact. A
false accept is an out-of-grammar or noise-only clip that yields any intent.
"""

from __future__ import annotations

import math
import os
import random
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from copilot.voice import noise
from copilot.voice.grammar import build_grammar, default_spoken
from copilot.voice.templates import load_templates
from copilot.voice.types import Context, Intent, Locale, VoiceMachine

SNRS = (24, 21, 18, 15, 12, 9, 6)
PARTS = ("tune", "held_out")

# Voice, rate and pitch variety; each part has its own.
VOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "tune": ("en-us", "en-gb", "en-us+m3"),
        "held_out": ("en-gb-scotland", "en-029", "en-us+f2"),
    },
    "ko": {"tune": ("ko", "ko+m3"), "held_out": ("ko+f2", "ko+m5")},
}
RATES = {"tune": (150, 175), "held_out": (140, 185)}
PITCHES = {"tune": (40, 60), "held_out": (30, 70)}
SHAPES = {"tune": ("hum", "broadband", "babble"), "held_out": ("brown", "impacts", "mixed")}


@dataclass(frozen=True)
class Clip:
    """One evaluation clip, fully described (a worker synthesizes it from this)."""

    part: str
    kind: str  # "command", "oog", "noise"
    text: str
    voice: str
    rate: int
    pitch: int
    shape: str
    snr: float
    seed: int
    expected: dict[str, Any] | None = None
    on_screen: str | None = None


@dataclass
class Outcome:
    """What the pipeline made of one clip, and the rejection features behind it."""

    clip: Clip
    intent: dict[str, Any] | None
    parsed: dict[str, Any] | None  # the intent before rejection (for offline tuning)
    reason: str
    transcript: str
    ratio: float
    coverage: float
    speech_frames: int
    decode_ms: float
    correct: bool = False
    extra: dict[str, float] = field(default_factory=dict)


def fleet(locale: Locale, machines: int = 12) -> tuple[VoiceMachine, ...]:
    """The simulated plant's machines with their BIRTH commands and default spoken names."""
    from copilot.sim.plant import Plant

    templates = load_templates(locale)
    plant = Plant(machines, 0, 0)
    return tuple(
        VoiceMachine(m.info.id, default_spoken(m.info.id, templates), tuple(m.commands), "")
        for m in plant.machines
    )


def intent_dict(intent: Intent | None) -> dict[str, Any] | None:
    """An intent as plain data (what is compared and stored)."""
    if intent is None:
        return None
    return {
        "kind": intent.kind,
        "machine": intent.machine,
        "command": intent.command,
        "args": dict(intent.args),
    }


def build_set(
    locale: Locale, quick: bool = False, seed: int = 12, limit: int | None = None
) -> list[Clip]:
    """The clip list.

    ``quick`` takes about a third of the phrases; ``limit`` caps the phrases and the
    negatives of each part (a smoke run).
    """
    rng = random.Random(seed)
    templates = load_templates(locale)
    machines = fleet(locale)
    clips: list[Clip] = []
    on_screen = machines[1].name
    grammar = build_grammar(Context(locale, machines, on_screen=on_screen), templates)
    phrases = list(grammar.samples(rng, per_sentence=1))
    rng.shuffle(phrases)
    if quick:
        phrases = phrases[:36]
    if limit is not None:
        phrases = phrases[:limit]
    for i, (text, intent) in enumerate(phrases):
        for snr in SNRS:
            part = PARTS[(i + snr) % 2]
            clips.append(
                Clip(
                    part,
                    "command",
                    text,
                    rng.choice(VOICES[locale][part]),
                    rng.choice(RATES[part]),
                    rng.choice(PITCHES[part]),
                    rng.choice(SHAPES[part]),
                    float(snr),
                    rng.randrange(2**31),
                    intent_dict(intent),
                    on_screen,
                )
            )
    for part in PARTS:
        sentences = templates.oog_tune if part == "tune" else templates.oog_held_out
        sentences = sentences[:limit] if limit is not None else sentences
        reps = 1 if quick or limit is not None else 2
        for text in sentences:
            for _ in range(reps):
                clips.append(
                    Clip(
                        part,
                        "oog",
                        text,
                        rng.choice(VOICES[locale][part]),
                        rng.choice(RATES[part]),
                        rng.choice(PITCHES[part]),
                        rng.choice(SHAPES[part]),
                        float(rng.choice(SNRS)),
                        rng.randrange(2**31),
                        None,
                        on_screen,
                    )
                )
        for _ in range(limit if limit is not None else 8 if quick else 20):
            clips.append(
                Clip(
                    part,
                    "noise",
                    "",
                    "",
                    0,
                    0,
                    rng.choice(SHAPES[part]),
                    float(rng.uniform(-45, -20)),  # level in dBFS
                    rng.randrange(2**31),
                    None,
                    on_screen,
                )
            )
    return clips


# -- the worker side --------------------------------------------------------------------------
_STATE: dict[str, Any] = {}


def _init(engine: str, locale: Locale, niceness: int, model_dir: Path | None) -> None:
    if niceness:
        os.nice(niceness)
    from copilot.voice.listener import make_listener

    _STATE["listener"] = make_listener(engine, locale, model_dir)
    _STATE["machines"] = fleet(locale)
    _STATE["locale"] = locale
    _STATE["babble"] = {}


def _babble_voices(locale: Locale, part: str) -> list[np.ndarray]:
    from copilot.voice.synth import synthesize

    cache = _STATE["babble"]
    if part not in cache:
        templates = load_templates(locale)
        # babble: the other part's out-of-grammar sentences, so no clip hears its own words
        texts = templates.oog_held_out if part == "tune" else templates.oog_tune
        voices = VOICES[locale]["held_out" if part == "tune" else "tune"]
        cache[part] = [
            synthesize(t, voice=voices[i % len(voices)], pad_s=0.0).astype(float)
            for i, t in enumerate(texts[:6])
        ]
    out: list[np.ndarray] = cache[part]
    return out


def _noise(clip: Clip, n: int) -> np.ndarray:
    rng = np.random.default_rng(clip.seed)
    locale: Locale = _STATE["locale"]
    match clip.shape:
        case "hum":
            return noise.hum(n, rng)
        case "broadband":
            return noise.broadband(n, rng)
        case "brown":
            return noise.brown(n, rng)
        case "impacts":
            return noise.impacts(n, rng)
        case "babble":
            pool = _babble_voices(locale, clip.part)
            return noise.babble(n, rng, [pool[i] for i in rng.choice(len(pool), 3, replace=False)])
        case _:  # mixed: a motor, impacts and people, on the held-out side
            pool = _babble_voices(locale, clip.part)
            x = noise.hum(n, rng) + noise.impacts(n, rng) + 0.7 * noise.babble(n, rng, pool[:2])
            return x / (np.std(x) + 1e-12)


def audio(clip: Clip) -> np.ndarray:
    """The clip's 16 kHz int16 audio (deterministic from the clip)."""
    from copilot.voice.synth import synthesize

    if clip.kind == "noise":
        n = int(16000 * (1.5 + (clip.seed % 1000) / 1000 * 1.5))
        return noise.noise_only(_noise(clip, n), clip.snr)
    speech = synthesize(clip.text, voice=clip.voice, rate=clip.rate, pitch=clip.pitch)
    return noise.mix(speech.astype(float), _noise(clip, len(speech)), clip.snr)


def _one(clip: Clip) -> Outcome:
    from copilot.voice.intent import resolve
    from copilot.voice.listener import SphinxListener
    from copilot.voice.reject import frame_energy, judge
    from copilot.voice.vosk_engine import VoskListener

    listener = _STATE["listener"]
    pcm = audio(clip)
    ctx = Context(_STATE["locale"], _STATE["machines"], on_screen=clip.on_screen)
    cpu0 = time.process_time()
    heard = listener.hear(pcm, ctx)
    cpu_ms = (time.process_time() - cpu0) * 1000.0
    if isinstance(listener, SphinxListener):  # the phone loop's helper process, if any
        cpu_ms += listener.engine.last_helper_cpu_ms
    ratio = coverage = 0.0
    frames = 0
    parsed = intent_dict(heard.intent)
    if isinstance(listener, SphinxListener):
        last = listener.last
        if last is not None:
            grammar, decoded, phones = last
            v = judge(decoded, phones, listener.reject, frame_energy(pcm))
            ratio, coverage, frames = v.ratio, v.coverage, v.speech_frames
            parsed = intent_dict(resolve([decoded.words], grammar, ctx).intent)
    elif isinstance(listener, VoskListener) and listener.last is not None:
        grammar, words, conf = listener.last
        # the vosk acceptance score is the lowest word confidence: tuned like the ratio
        ratio, coverage, frames = conf, 1.0, 100 if words else 0
        parsed = intent_dict(resolve([words], grammar, ctx).intent) if words else None
    return Outcome(
        clip,
        intent_dict(heard.intent),
        parsed,
        heard.reason,
        heard.transcript,
        ratio,
        coverage,
        frames,
        heard.decode_ms,
        extra={"cpu_ms": cpu_ms},
    )


def run(
    clips: Sequence[Clip],
    engine: str,
    locale: Locale,
    workers: int = 2,
    niceness: int = 10,
    model_dir: Path | None = None,
) -> list[Outcome]:
    """Recognise every clip in ``workers`` processes; order kept.

    The listener is built and its grammar checked here first, so a setup error (an engine
    without that locale, a word missing from the vocabulary) is one VoiceSetupError, not a
    broken worker pool.
    """
    from copilot.voice.listener import make_listener

    probe = make_listener(engine, locale, model_dir)
    prepare = getattr(probe, "prepare", None)
    if prepare is not None and clips:
        prepare(Context(locale, fleet(locale), on_screen=clips[0].on_screen))
    del probe
    chunk = max(1, len(clips) // (workers * 8))
    with ProcessPoolExecutor(
        workers, initializer=_init, initargs=(engine, locale, niceness, model_dir)
    ) as ex:
        out = list(ex.map(_one, clips, chunksize=chunk))
    for o in out:
        o.correct = o.clip.kind == "command" and o.intent == o.clip.expected
    return out


# -- figures ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    """Rejection thresholds applied offline (same meaning as RejectSettings)."""

    min_ratio: float
    min_coverage: float
    min_speech_frames: int = 15


def apply(outcomes: Sequence[Outcome], t: Thresholds) -> list[Outcome]:
    """The outcomes as they would be with thresholds ``t`` (pocketsphinx features)."""
    out = []
    for o in outcomes:
        accept = (
            o.parsed is not None
            and o.speech_frames >= t.min_speech_frames
            and o.coverage >= t.min_coverage
            and o.ratio >= t.min_ratio
        )
        intent = o.parsed if accept else None
        out.append(
            replace(
                o, intent=intent, correct=o.clip.kind == "command" and intent == o.clip.expected
            )
        )
    return out


def figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Accuracy per SNR and mean, false-accept rate, latency p90, counts."""
    by_snr: dict[str, float] = {}
    for snr in SNRS:
        cmds = [o for o in outcomes if o.clip.kind == "command" and o.clip.snr == snr]
        if cmds:
            by_snr[str(snr)] = sum(o.correct for o in cmds) / len(cmds)
    negatives = [o for o in outcomes if o.clip.kind in ("oog", "noise")]
    oog = [o for o in negatives if o.clip.kind == "oog"]
    nz = [o for o in negatives if o.clip.kind == "noise"]
    fa = [o for o in negatives if o.intent is not None]
    p90 = _p90([o.decode_ms for o in outcomes])
    p90_cpu = _p90([o.extra.get("cpu_ms", 0.0) for o in outcomes])
    return {
        "accuracy_mean": sum(by_snr.values()) / len(by_snr) if by_snr else 0.0,
        "accuracy_by_snr": by_snr,
        "false_accept_rate": len(fa) / len(negatives) if negatives else 0.0,
        "false_accept_oog": sum(o.intent is not None for o in oog) / len(oog) if oog else 0.0,
        "false_accept_noise": sum(o.intent is not None for o in nz) / len(nz) if nz else 0.0,
        "readback_latency_p90_ms": p90,
        "readback_latency_p90_cpu_ms": p90_cpu,
        "commands": sum(o.clip.kind == "command" for o in outcomes),
        "negatives": len(negatives),
        "false_accepts": [o.clip.text or f"noise:{o.clip.shape}" for o in fa],
    }


def _p90(values: Sequence[float]) -> float:
    lat = sorted(values)
    return lat[min(len(lat) - 1, math.ceil(0.9 * len(lat)) - 1)] if lat else 0.0


def tune_rejection(outcomes: Sequence[Outcome], max_fa: float = 0.01) -> Thresholds:
    """Thresholds that maximise mean accuracy on ``outcomes`` with false accepts ≤ ``max_fa``.

    Works on the stored features (no decoding): a grid over the ratio and the coverage.
    """
    cmd = np.array([o.clip.kind == "command" for o in outcomes])
    right = np.array([o.parsed is not None and o.parsed == o.clip.expected for o in outcomes])
    some = np.array([o.parsed is not None for o in outcomes])
    ratio = np.array([o.ratio for o in outcomes])
    cov = np.array([o.coverage for o in outcomes])
    enough = np.array([o.speech_frames >= 15 for o in outcomes])
    snr = np.array([o.clip.snr for o in outcomes])
    levels = [s for s in SNRS if np.any(cmd & (snr == s))]
    best: tuple[float, float, Thresholds] | None = None
    for c in np.arange(0.5, 1.0, 0.025):
        for r in np.arange(-6.0, 2.0, 0.05):
            accept = some & enough & (cov >= c) & (ratio >= r)
            acc = np.mean([np.mean((accept & right)[cmd & (snr == s)]) for s in levels])
            fa = float(np.mean(accept[~cmd])) if np.any(~cmd) else 0.0
            score = float(acc) - (10.0 if fa > max_fa else 0.0)
            if best is None or (score, -fa) > (best[0], best[1]):
                best = (score, -fa, Thresholds(round(float(r), 2), round(float(c), 3)))
    assert best is not None
    return best[2]


def report(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Held-out figures (the ones that count), tuning figures and the gap."""
    held = [o for o in outcomes if o.clip.part == "held_out"]
    tune = [o for o in outcomes if o.clip.part == "tune"]
    h, t = figures(held), figures(tune)
    out = dict(h)
    out["tuning"] = t
    out["gap_accuracy_mean"] = t["accuracy_mean"] - h["accuracy_mean"]
    out["gap_false_accept_rate"] = t["false_accept_rate"] - h["false_accept_rate"]
    return out


def outcome_row(o: Outcome) -> dict[str, Any]:
    """One outcome as plain data (for --dump)."""
    row = asdict(o)
    row["clip"] = asdict(o.clip)
    return row


def stable_seed(text: str) -> int:
    """A seed from text that does not change between runs (``hash`` does)."""
    return zlib.crc32(text.encode())
