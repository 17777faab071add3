"""Audio sources behind one interface: a WAV file, or a microphone through sounddevice.

An :class:`AudioSource` gives 16 kHz mono int16 blocks between :meth:`start` and
:meth:`stop` (push-to-talk: press → start, release → stop returns the whole utterance).
:class:`WavSource` plays a file (tests, demos, a site's recorded phrases);
:class:`SounddeviceSource` captures the default input device; without one it raises
:class:`MicrophoneUnavailableError` with one sentence. :func:`level_dbfs` is the meter's number.
"""

from __future__ import annotations

import threading
import wave
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from copilot.voice.synth import RATE, resample

Pcm = npt.NDArray[np.int16]


class MicrophoneUnavailableError(RuntimeError):
    """No microphone can be opened; the message says so in one sentence."""


class AudioSource(Protocol):
    """Push-to-talk capture: ``start`` on press, ``stop`` on release returns the utterance."""

    name: str

    def start(self) -> None:
        """Begin capturing."""
        ...

    def stop(self) -> Pcm:
        """End capturing; the whole utterance, 16 kHz mono int16."""
        ...

    def level(self) -> float:
        """The input level of the last block, dBFS."""
        ...


def level_dbfs(pcm: Pcm) -> float:
    """RMS level of ``pcm`` in dBFS (-120 for silence)."""
    if len(pcm) == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
    return max(-120.0, 20.0 * float(np.log10(max(rms, 1e-9) / 32768.0)))


def with_noise_floor(pcm: Pcm, below_db: float) -> Pcm:
    """``pcm`` with a pink noise floor ``below_db`` under its voiced speech power.

    pocketsphinx decodes near-silent pauses badly (its noise estimate and silence model expect
    a room): on the evaluation, clean speech was understood less often than speech in 24-dB
    hum. A fixed, faint floor relative to the talker's level makes every microphone look like
    a room. The floor is the same for the same length (seeded), so decoding is reproducible.
    """
    if len(pcm) == 0:
        return pcm
    from copilot.voice.noise import broadband, mix

    floor = broadband(len(pcm), np.random.default_rng(len(pcm)))
    return mix(pcm.astype(np.float64), floor, below_db)


def speech_span(pcm: Pcm, above_db: float, margin_s: float) -> tuple[int, int]:
    """The samples ``[start, end)`` ``above_db`` louder than the clip's quietest tenth, ± a margin.

    A push-to-talk clip starts and ends with the room (a motor's hum) around the talker; the
    vosk Korean model hears 0.3 s of hum as a number word ("구", "오"). The floor is the 10th
    percentile of the 10-ms frame powers; when nothing stands above it (the clip is all speech,
    or all babble), the span is the whole clip.
    """
    hop = RATE // 100
    n = len(pcm) // hop
    if n < 10:
        return 0, len(pcm)
    x = pcm[: n * hop].astype(np.float64).reshape(n, hop)
    db = 10.0 * np.log10(np.mean(x**2, axis=1) + 1.0)
    loud = np.flatnonzero(db > np.percentile(db, 10) + above_db)
    if len(loud) == 0:
        return 0, len(pcm)
    margin = round(margin_s * 100)
    first, last = max(0, int(loud[0]) - margin), int(loud[-1]) + 1 + margin
    return first * hop, len(pcm) if last >= n else last * hop


def read_wav(path: Path) -> Pcm:
    """A WAV file as 16 kHz mono int16 (mixed down and resampled when needed)."""
    try:
        with wave.open(str(path)) as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            frames = w.readframes(w.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        raise ValueError(f"{path} is not a readable WAV file ({exc}).") from exc
    if width != 2:
        raise ValueError(f"{path} is not 16-bit PCM: convert it (sox in.wav -b 16 out.wav).")
    x = np.frombuffer(frames, dtype=np.int16).astype(np.float64)
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    y = resample(x, rate, RATE)
    out: Pcm = np.clip(np.round(y), -32768, 32767).astype(np.int16)
    return out


class WavSource:
    """A WAV file as a push-to-talk source: ``stop`` returns the file's audio."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self._pcm = read_wav(path)
        self._started = False

    def start(self) -> None:
        """Begin (nothing to open)."""
        self._started = True

    def stop(self) -> Pcm:
        """The file's audio."""
        self._started = False
        return self._pcm

    def level(self) -> float:
        """The file's level."""
        return level_dbfs(self._pcm)


class SounddeviceSource:
    """The default input device at 16 kHz mono, captured on sounddevice's own thread."""

    def __init__(self, device: int | str | None = None) -> None:
        try:
            import sounddevice
        except ImportError as exc:
            raise MicrophoneUnavailableError(
                "sounddevice is not installed: install the voice extra, then try again."
            ) from exc
        except OSError as exc:
            raise MicrophoneUnavailableError(
                "no microphone can be used here: the PortAudio library is missing "
                "(apt-get install libportaudio2), then try again."
            ) from exc
        self._sd: Any = sounddevice
        try:
            info = sounddevice.query_devices(device, kind="input")
        except (ValueError, sounddevice.PortAudioError) as exc:
            raise MicrophoneUnavailableError(
                "no microphone found: connect one (or choose one in the settings) and try again."
            ) from exc
        self.name = str(info["name"])
        self._device = device
        self._blocks: list[Pcm] = []
        self._lock = threading.Lock()
        self._level = -120.0
        self._stream: Any = None

    def _on_block(self, data: Any, frames: int, time: Any, status: Any) -> None:
        block = np.asarray(data[:, 0], dtype=np.int16).copy()
        with self._lock:
            self._blocks.append(block)
            self._level = level_dbfs(block)

    def start(self) -> None:
        """Open the stream and begin capturing."""
        with self._lock:
            self._blocks = []
        try:
            self._stream = self._sd.InputStream(
                samplerate=RATE,
                channels=1,
                dtype="int16",
                device=self._device,
                callback=self._on_block,
            )
            self._stream.start()
        except self._sd.PortAudioError as exc:
            raise MicrophoneUnavailableError(f"the microphone cannot be opened ({exc}).") from exc

    def stop(self) -> Pcm:
        """Close the stream; the utterance."""
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
        with self._lock:
            blocks, self._blocks = self._blocks, []
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)

    def level(self) -> float:
        """The last block's level, dBFS."""
        with self._lock:
            return self._level

    def probe_level(self, seconds: float) -> float:
        """Capture ``seconds`` and return their level (``copilot voice check``)."""
        import time as _time

        self.start()
        _time.sleep(seconds)  # capturing for a fixed time is the point here
        return level_dbfs(self.stop())
