"""Speech backends: how one utterance becomes sound (or a WAV file), behind one small interface.

A :class:`Backend` is used by exactly one thread, the :class:`~copilot.speech.tts.Speaker`'s:
it is built there (pyttsx3 is tied to the thread that made its engine), :meth:`Backend.speak`
blocks there until the utterance ends, and only :meth:`Backend.interrupt` is called from other
threads (it must return at once). A factory that cannot set its backend up raises
:class:`SpeechUnavailableError` with the reason, so the speaker can try the next one.

- :class:`Pyttsx3Backend` — pyttsx3 driving espeak-ng (the real one). pyttsx3 2.99 plays
  through ``os.system("aplay ...")``, which cannot be interrupted and fails silently where aplay
  is missing, so it is used to synthesise to a temporary WAV and a
  :class:`~copilot.speech.player.WavPlayer` plays that file.
- :class:`EspeakBackend` — ``espeak-ng`` by subprocess, the fallback when pyttsx3 cannot start:
  synthesised to a WAV and played the same way, or spoken by espeak-ng itself with no player.
- :class:`WavFileSink` — real espeak-ng synthesis written to numbered WAV files, for tests and
  for a panel without a sound card.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, cast

from copilot.speech.player import WavPlayer

RATE_WPM = 165
"""Speaking rate, words per minute: a little slower than espeak-ng's 175, for noisy floors."""
VOICE = "en"


class SpeechUnavailableError(RuntimeError):
    """A backend cannot be set up on this machine; the message says why, in a few words."""


class Backend(Protocol):
    """Turns one utterance into sound; see the module docstring for the threading contract."""

    name: str

    def speak(self, text: str, priority: str, stop: threading.Event) -> bool:
        """Say ``text``; block until done. ``False`` if interrupted (or ``stop`` was set)."""
        ...

    def interrupt(self) -> None:
        """Cut the utterance in progress short (any thread; returns at once)."""
        ...

    def close(self) -> None:
        """Release what the backend holds (once the speaker's thread has ended)."""
        ...


BackendFactory = Callable[[], Backend]
"""Builds a backend (on the speaker's thread), or raises :class:`SpeechUnavailableError`."""


def wav_frames(path: Path) -> int:
    """How many audio frames a WAV file holds (0 for a header-only file)."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes()


class _Espeak:
    """``espeak-ng`` as an interruptible subprocess; the text goes in on stdin, never argv."""

    def __init__(self, rate: int = RATE_WPM, voice: str = VOICE) -> None:
        program = shutil.which("espeak-ng")
        if program is None:
            raise SpeechUnavailableError("espeak-ng is not installed")
        self.program = program
        self.rate = rate
        self.voice = voice
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._interrupted = False

    def render(self, text: str, path: Path | None, stop: threading.Event) -> bool:
        """Synthesise ``text`` to ``path`` (aloud when ``None``); ``False`` if interrupted."""
        args = [self.program, "-v", self.voice, "-s", str(self.rate), "--stdin"]
        if path is not None:
            args += ["-w", str(path)]
        with self._lock:
            if stop.is_set():
                return False
            self._interrupted = False
            self._proc = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            proc = self._proc
        try:
            _, err = proc.communicate(text.encode())
        finally:
            with self._lock:
                self._proc = None
                interrupted = self._interrupted
        if interrupted:
            return False
        if proc.returncode != 0:
            msg = err.decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"espeak-ng failed: {msg[-1] if msg else proc.returncode}")
        return True

    def interrupt(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._interrupted = True
                self._proc.terminate()


class _DropPyttsx3Chatter:
    """A stdout stand-in that forwards everything but pyttsx3's ``Audio saved to ...`` line.

    pyttsx3 2.99 prints that line on every ``save_to_file``; other threads' output in that
    moment still reaches the real stdout.
    """

    def __init__(self, target: IO[str]) -> None:
        self._target = target
        self._eat_newline = False

    def write(self, s: str) -> int:
        if s.startswith("Audio saved to "):
            self._eat_newline = True
            return len(s)
        if self._eat_newline and s == "\n":
            self._eat_newline = False
            return len(s)
        self._eat_newline = False
        return self._target.write(s)

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _Playing:
    """Synthesise to a temporary WAV, then play it: the part both real backends share."""

    def __init__(self, player: WavPlayer) -> None:
        self._player = player
        self._folder = tempfile.TemporaryDirectory(prefix="copilot-speech-")
        self._count = 0

    def next_path(self) -> Path:
        self._count += 1
        return Path(self._folder.name) / f"utterance-{self._count % 4}.wav"

    def play(self, path: Path, stop: threading.Event) -> bool:
        try:
            return self._player.play(path, stop)
        finally:
            path.unlink(missing_ok=True)

    def interrupt(self) -> None:
        self._player.interrupt()

    def close(self) -> None:
        self._folder.cleanup()


class Pyttsx3Backend:
    """pyttsx3 (its espeak driver, i.e. libespeak-ng) synthesises; a WavPlayer plays."""

    name = "pyttsx3"

    def __init__(self, player: WavPlayer | None = None, rate: int = RATE_WPM) -> None:
        player = player if player is not None else WavPlayer()
        if not player.available:
            raise SpeechUnavailableError("no audio player (paplay, pw-play, aplay or play)")
        try:
            pyttsx3 = importlib.import_module("pyttsx3")  # optional: only stations install it
        except ImportError as exc:
            raise SpeechUnavailableError("pyttsx3 is not installed") from exc
        try:
            self._engine: Any = pyttsx3.init("espeak")
            self._engine.setProperty("rate", rate)
        except Exception as exc:  # pyttsx3 raises whatever its driver raised (OSError, ...)
            raise SpeechUnavailableError(f"pyttsx3 could not start espeak-ng ({exc})") from exc
        self._out = _Playing(player)
        # pyttsx3 2.99 loses a one-chunk utterance (a single short word): say it with espeak-ng.
        self._fallback: _Espeak | None = None
        with contextlib.suppress(SpeechUnavailableError):
            self._fallback = _Espeak(rate)

    def speak(self, text: str, priority: str, stop: threading.Event) -> bool:
        """Synthesise with pyttsx3 to a WAV, then play it."""
        path = self._out.next_path()
        with contextlib.redirect_stdout(cast(IO[str], _DropPyttsx3Chatter(sys.stdout))):
            self._engine.save_to_file(text, str(path))
            self._engine.runAndWait()
        if not path.exists() or wav_frames(path) == 0:
            if self._fallback is None:
                raise RuntimeError(f"pyttsx3 rendered no audio for {text[:40]!r}")
            if not self._fallback.render(text, path, stop):
                return False
        return self._out.play(path, stop)

    def interrupt(self) -> None:
        """Stop playback (synthesis takes milliseconds and is not cut)."""
        if self._fallback is not None:
            self._fallback.interrupt()
        self._out.interrupt()

    def close(self) -> None:
        """Remove the temporary folder (pyttsx3 keeps espeak-ng loaded for the process)."""
        self._out.close()


class EspeakBackend:
    """``espeak-ng`` by subprocess: to a WAV played by a WavPlayer, or aloud by itself."""

    name = "espeak-ng"

    def __init__(self, player: WavPlayer | None = None, rate: int = RATE_WPM) -> None:
        self._espeak = _Espeak(rate)
        player = player if player is not None else WavPlayer()
        self._out = _Playing(player) if player.available else None

    def speak(self, text: str, priority: str, stop: threading.Event) -> bool:
        """Synthesise and play ``text``."""
        if self._out is None:
            return self._espeak.render(text, None, stop)
        path = self._out.next_path()
        if not self._espeak.render(text, path, stop):
            return False
        return self._out.play(path, stop)

    def interrupt(self) -> None:
        """Stop synthesis or playback."""
        self._espeak.interrupt()
        if self._out is not None:
            self._out.interrupt()

    def close(self) -> None:
        """Remove the temporary folder."""
        if self._out is not None:
            self._out.close()


@dataclass(frozen=True)
class Rendered:
    """One utterance a :class:`WavFileSink` wrote."""

    text: str
    priority: str
    path: Path


class WavFileSink:
    """Renders every utterance with espeak-ng to ``folder/NNNN-<priority>.wav``; plays nothing.

    ``rendered`` lists what was written, in order (read it once the speaker is idle).
    """

    name = "wav-file"

    def __init__(self, folder: Path, rate: int = RATE_WPM) -> None:
        self._espeak = _Espeak(rate)
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rendered: list[Rendered] = []

    def speak(self, text: str, priority: str, stop: threading.Event) -> bool:
        """Write ``text`` as speech to the next numbered WAV file."""
        path = self.folder / f"{len(self.rendered) + 1:04d}-{priority}.wav"
        if not self._espeak.render(text, path, stop):
            path.unlink(missing_ok=True)
            return False
        self.rendered.append(Rendered(text, priority, path))
        return True

    def interrupt(self) -> None:
        """Stop the synthesis in progress (its partial file is removed)."""
        self._espeak.interrupt()

    def close(self) -> None:
        """Nothing to release: the files stay."""


def default_backends(player: WavPlayer | None = None) -> tuple[BackendFactory, ...]:
    """pyttsx3 first, espeak-ng by subprocess if pyttsx3 cannot start."""
    return (lambda: Pyttsx3Backend(player), lambda: EspeakBackend(player))
