"""Speech for the evaluation and the tests: espeak-ng (the system binary) → 16 kHz int16.

``synthesize`` runs ``espeak-ng --stdout`` with a voice, rate (words per minute) and pitch
(0–99), reads the WAV it writes and resamples it to 16 kHz (band-limited, by FFT: a clip is a
few seconds). Push-to-talk audio starts and ends with a little room sound: ``pad_s`` of it is
added each side, and a faint noise floor over the clip.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

import numpy as np
import numpy.typing as npt

from copilot.voice.types import VoiceSetupError

RATE = 16000


def resample(x: npt.NDArray[np.float64], rate: int, to: int = RATE) -> npt.NDArray[np.float64]:
    """Band-limited resampling of a whole clip by FFT."""
    if rate == to:
        return x
    n_out = round(len(x) * to / rate)
    spec = np.fft.rfft(x)
    keep = n_out // 2 + 1
    out = np.zeros(keep, dtype=complex)
    m = min(keep, len(spec))
    out[:m] = spec[:m]
    return np.asarray(np.fft.irfft(out, n_out) * (n_out / len(x)), dtype=np.float64)


def espeak_available() -> bool:
    """Whether the espeak-ng binary is on PATH."""
    return shutil.which("espeak-ng") is not None


def synthesize(
    text: str, voice: str = "en-us", rate: int = 160, pitch: int = 50, pad_s: float = 0.3
) -> npt.NDArray[np.int16]:
    """``text`` spoken by espeak-ng, 16 kHz mono int16, with ``pad_s`` of silence each side."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise VoiceSetupError("espeak-ng is not installed: run make install (it installs it).")
    proc = subprocess.run(
        [exe, "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", text],
        capture_output=True,
        check=False,
        timeout=60,
    )
    if proc.returncode != 0 or not proc.stdout:
        raise VoiceSetupError(f"espeak-ng could not speak with voice {voice!r}.")
    with wave.open(io.BytesIO(proc.stdout)) as w:
        src = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    y = resample(data.astype(np.float64), src)
    pad = np.zeros(round(pad_s * RATE))
    y = np.concatenate([pad, y, pad])
    # A microphone never gives digital silence: a little room noise, the same for the same text.
    rng = np.random.default_rng(sum(text.encode()))
    y += rng.normal(0.0, 3.0, len(y))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)
