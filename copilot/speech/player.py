"""Play a WAV file through the system's audio player, one at a time, and stop it on demand.

A :class:`WavPlayer` runs the first of ``paplay`` (PulseAudio/PipeWire), ``pw-play``
(PipeWire), ``aplay`` (ALSA) and ``play`` (SoX) that is installed, as a subprocess. The
:meth:`WavPlayer.play` call blocks until the sound ends, so it belongs on a worker thread;
:meth:`WavPlayer.interrupt` may be called from any thread and returns at once (it terminates
the subprocess). A player that exits with an error raises :class:`PlaybackError` with the last
line it printed, so a panel without a sound card says why it is silent.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

PLAYERS: tuple[tuple[str, ...], ...] = (
    ("paplay",),
    ("pw-play",),
    ("aplay", "-q"),
    ("play", "-q"),
)
"""Candidate commands, best first; the WAV's path is appended."""


class PlaybackError(RuntimeError):
    """The audio player could not play a file (no device, unreadable file...)."""


def find_player(candidates: Sequence[Sequence[str]] = PLAYERS) -> tuple[str, ...] | None:
    """The first candidate command whose program is on ``PATH``, or ``None``."""
    for command in candidates:
        path = shutil.which(command[0])
        if path is not None:
            return (path, *command[1:])
    return None


class WavPlayer:
    """Plays WAV files through a player subprocess; interruptible from any thread."""

    def __init__(self, command: Sequence[str] | None = None) -> None:
        found = tuple(command) if command is not None else find_player()
        self.command: tuple[str, ...] | None = found
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._interrupted = False

    @property
    def available(self) -> bool:
        """Whether a player program was found."""
        return self.command is not None

    def play(self, path: Path, stop: threading.Event | None = None) -> bool:
        """Play ``path`` to the end; ``False`` if interrupted (or ``stop`` was already set).

        Blocks until the player exits. Raises :class:`PlaybackError` if there is no player or
        it failed.
        """
        if self.command is None:
            raise PlaybackError("no audio player (paplay, pw-play, aplay or play) is installed")
        with self._lock:
            if stop is not None and stop.is_set():
                return False
            self._interrupted = False
            self._proc = subprocess.Popen(
                [*self.command, str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            proc = self._proc
        try:
            _, err = proc.communicate()
        finally:
            with self._lock:
                self._proc = None
                interrupted = self._interrupted
        if interrupted:
            return False
        if proc.returncode != 0:
            lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
            last = lines[-1].strip() if lines else f"exit status {proc.returncode}"
            raise PlaybackError(f"{Path(self.command[0]).name} could not play {path.name}: {last}")
        return True

    def interrupt(self) -> None:
        """Stop the sound now playing, if any (any thread; returns at once)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._interrupted = True
                self._proc.terminate()
