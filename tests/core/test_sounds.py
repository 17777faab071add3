"""The alarm tones in assets/sounds: as make.py writes them, and told apart by rhythm."""

from __future__ import annotations

import importlib.util
import sys
import wave
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from copilot.alarms.annunciator import TONES

SOUNDS = Path(__file__).resolve().parents[2] / "assets" / "sounds"


def make_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_sounds", SOUNDS / "make.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


def read(priority: str) -> tuple[np.ndarray, int]:
    with wave.open(str(SOUNDS / f"{priority}.wav"), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return pcm.astype(np.float64) / 32768.0, w.getframerate()


def pulses(samples: np.ndarray, rate: int) -> int:
    """Count the bursts of sound separated by at least 30 ms of quiet."""
    frame = rate // 200  # 5 ms
    n = len(samples) // frame * frame
    level = np.sqrt(np.mean(samples[:n].reshape(-1, frame) ** 2, axis=1))
    loud = level > 0.2 * level.max()
    starts = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    count = int(loud[0]) + len(starts)
    return count


@pytest.mark.parametrize("priority", TONES)
def test_committed_wav_is_what_make_py_writes(priority: str, tmp_path: Path) -> None:
    make = make_module()
    out = tmp_path / f"{priority}.wav"
    make.write(out, make.render(priority))
    assert out.read_bytes() == (SOUNDS / f"{priority}.wav").read_bytes(), (
        "assets/sounds is stale: run python assets/sounds/make.py"
    )


@pytest.mark.parametrize(("priority", "count"), [("critical", 3), ("high", 2), ("medium", 1),
                                                  ("low", 1)])  # fmt: skip
def test_rhythm_tells_the_priorities_apart(priority: str, count: int) -> None:
    samples, rate = read(priority)
    assert pulses(samples, rate) == count
    assert 0.2 < len(samples) / rate < 0.6, "a tone is short"


def test_low_is_the_softest_and_critical_the_loudest() -> None:
    peak = {p: float(np.abs(read(p)[0]).max()) for p in TONES}
    assert peak["critical"] > peak["high"] > peak["medium"] > peak["low"]
    assert peak["low"] < 0.5
