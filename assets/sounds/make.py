"""Make the alarm tones: one short WAV per priority, told apart by rhythm as well as pitch.

Run ``python assets/sounds/make.py`` to rewrite ``critical.wav``, ``high.wav``, ``medium.wav``
and ``low.wav`` beside this file (16-bit mono, 22 050 Hz; the output is deterministic, so the
committed files are exactly what this script writes).

| priority | rhythm | pitch | level |
|---|---|---|---|
| critical | fast triple pulse (3 x 90 ms, 60 ms apart) | 988 Hz | loudest |
| high | double pulse (2 x 150 ms, 110 ms apart) | 880 Hz | loud |
| medium | single 320 ms tone | 659 Hz | medium |
| low | soft single 260 ms tone, slow rise | 523 Hz | soft |

A few odd harmonics make the tones cut through machine noise better than a pure sine.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 22050
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Tone:
    """One priority's sound: ``pulses`` pulses of ``pulse_s``, ``gap_s`` apart."""

    pulses: int
    pulse_s: float
    gap_s: float
    hz: float
    level: float
    attack_s: float = 0.005


TONES: dict[str, Tone] = {
    "critical": Tone(pulses=3, pulse_s=0.090, gap_s=0.060, hz=988.0, level=0.80),
    "high": Tone(pulses=2, pulse_s=0.150, gap_s=0.110, hz=880.0, level=0.70),
    "medium": Tone(pulses=1, pulse_s=0.320, gap_s=0.0, hz=659.0, level=0.55),
    "low": Tone(pulses=1, pulse_s=0.260, gap_s=0.0, hz=523.0, level=0.30, attack_s=0.060),
}


def pulse(t: Tone) -> np.ndarray:
    """One pulse: a tone with two odd harmonics under a raised-cosine rise and fall."""
    n = round(t.pulse_s * RATE)
    time = np.arange(n) / RATE
    wave_ = (
        np.sin(2 * np.pi * t.hz * time)
        + 0.30 * np.sin(2 * np.pi * 3 * t.hz * time)
        + 0.12 * np.sin(2 * np.pi * 5 * t.hz * time)
    ) / 1.42
    env = np.ones(n)
    rise = max(1, round(t.attack_s * RATE))
    fall = max(1, round(0.010 * RATE))
    env[:rise] = 0.5 - 0.5 * np.cos(np.pi * np.arange(rise) / rise)
    env[-fall:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(fall) / fall)
    result: np.ndarray = t.level * wave_ * env
    return result


def render(priority: str) -> np.ndarray:
    """The whole sound of ``priority`` as float samples in [-1, 1], with 20 ms of tail."""
    t = TONES[priority]
    gap = np.zeros(round(t.gap_s * RATE))
    parts: list[np.ndarray] = []
    for i in range(t.pulses):
        if i:
            parts.append(gap)
        parts.append(pulse(t))
    parts.append(np.zeros(round(0.020 * RATE)))
    return np.concatenate(parts)


def write(path: Path, samples: np.ndarray) -> None:
    """Write float samples as a 16-bit mono WAV."""
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def main() -> None:
    """Write every tone beside this script."""
    for priority in TONES:
        path = HERE / f"{priority}.wav"
        write(path, render(priority))
        print(f"{path.name}: {len(render(priority)) / RATE:.3f} s")


if __name__ == "__main__":
    main()
