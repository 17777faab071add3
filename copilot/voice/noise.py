"""Factory-like noise for the evaluation, generated (no recordings), and mixing at an SNR.

Shapes: ``hum`` (a motor's mains-locked fundamental and harmonics with slow wobble),
``broadband`` (pink-ish fan and air noise), ``brown`` (low rumble), ``impacts`` (decaying
bursts at random times, a press or a hammer), ``babble`` (other people's speech: espeak-ng
sentences summed, passed in by the caller) and ``mixed``. SNR is speech power over the voiced
part of the speech (frames within 30 dB of the loudest) against noise power over the clip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

RATE = 16000
Float = npt.NDArray[np.float64]


def _colored(n: int, rng: np.random.Generator, exponent: float) -> Float:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1]
    spec /= f ** (exponent / 2)
    x = np.fft.irfft(spec, n)
    return np.asarray(x / (np.std(x) + 1e-12), dtype=np.float64)


def hum(n: int, rng: np.random.Generator) -> Float:
    """A motor: fundamental 50/60 Hz × a random pole factor, harmonics, slow wobble."""
    t = np.arange(n) / RATE
    f0 = rng.choice([50.0, 60.0]) * rng.choice([1, 2, 3])
    x = np.zeros(n)
    for k in range(1, 9):
        wobble = 1 + 0.002 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t)
        x += rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * f0 * k * wobble * t + rng.uniform(0, 6))
    x += 0.1 * _colored(n, rng, 1.0)
    return x / (np.std(x) + 1e-12)


def broadband(n: int, rng: np.random.Generator) -> Float:
    """Fans and air: pink noise."""
    return _colored(n, rng, 1.0)


def brown(n: int, rng: np.random.Generator) -> Float:
    """Rumble: brown noise."""
    return _colored(n, rng, 2.0)


def impacts(n: int, rng: np.random.Generator) -> Float:
    """Decaying bursts (0.5–3 per second) over a little background."""
    x = 0.05 * _colored(n, rng, 1.0)
    count = max(1, int(rng.uniform(0.5, 3.0) * n / RATE))
    for _ in range(count):
        start = int(rng.integers(0, n))
        length = min(n - start, int(RATE * rng.uniform(0.05, 0.3)))
        decay = np.exp(-np.arange(length) / (length / rng.uniform(3, 8)))
        x[start : start + length] += rng.uniform(1, 4) * rng.standard_normal(length) * decay
    return x / (np.std(x) + 1e-12)


def babble(n: int, rng: np.random.Generator, voices: Sequence[Float]) -> Float:
    """Other people talking: several speech clips at random offsets, summed."""
    x = np.zeros(n)
    for v in voices:
        if len(v) == 0:
            continue
        off = int(rng.integers(0, max(1, n)))
        clip = np.resize(v, n)  # repeat the clip to cover the whole utterance
        x += np.roll(clip, off) * rng.uniform(0.5, 1.0)
    return x / (np.std(x) + 1e-12)


def voiced_power(speech: Float, frame: int = 320) -> float:
    """Mean power of the frames within 30 dB of the loudest (the voiced part)."""
    m = len(speech) // frame
    if m == 0:
        return float(np.mean(speech**2) + 1e-12)
    p = np.mean(speech[: m * frame].reshape(m, frame) ** 2, axis=1)
    voiced = p[p >= p.max() * 1e-3]
    return float(np.mean(voiced))


def mix(speech: Float, noise: Float, snr_db: float) -> npt.NDArray[np.int16]:
    """``speech`` plus ``noise`` scaled to ``snr_db``; peak-limited into int16."""
    noise = noise[: len(speech)]
    scale = np.sqrt(voiced_power(speech) / (np.mean(noise**2) + 1e-12) / 10 ** (snr_db / 10))
    y = speech + noise * scale
    peak = np.max(np.abs(y))
    if peak > 32000:
        y *= 32000 / peak
    out: npt.NDArray[np.int16] = np.round(y).astype(np.int16)
    return out


def noise_only(noise: Float, level_db: float) -> npt.NDArray[np.int16]:
    """A clip of noise alone at ``level_db`` dBFS (RMS)."""
    rms = 32768 * 10 ** (level_db / 20)
    return np.clip(np.round(noise * rms), -32768, 32767).astype(np.int16)
