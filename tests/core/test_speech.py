"""The speech worker: real espeak-ng synthesis to WAV, priority, interruption, cancel, bounds."""

from __future__ import annotations

import shutil
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from copilot.speech import (
    Speaker,
    SpeechEvent,
    SpeechUnavailable,
    SpeechUnavailableError,
    WavFileSink,
)
from copilot.station.events import WorkerFailed
from tests.helpers import wait_until

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


class Recorder:
    """A backend that records what it was asked to say, in order (for order checks only).

    Each utterance blocks until the test releases it (``gate``), so the test decides what is in
    progress when the next ``say`` arrives.
    """

    name = "recorder"

    def __init__(self, hold: bool = False) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.interrupted: list[str] = []
        self.hold = hold
        self._release = threading.Event()
        self._wake = threading.Event()

    def speak(self, text: str, priority: str, stop: threading.Event) -> bool:
        self.started.append(text)
        if self.hold:
            # The speaker sets ``stop`` before it calls interrupt(); release() sets its flag first.
            while not (self._release.is_set() or stop.is_set()):
                self._wake.wait()
                self._wake.clear()
            if stop.is_set():
                self.interrupted.append(text)
                return False
        self.finished.append(text)
        return True

    def interrupt(self) -> None:
        self._wake.set()

    def release(self) -> None:
        self.hold = False
        self._release.set()
        self._wake.set()

    def close(self) -> None:
        pass


@pytest.fixture
def speakers() -> Iterator[list[Speaker]]:
    made: list[Speaker] = []
    yield made
    for s in made:
        assert s.stop(5), "speaker thread did not end"


def start(made: list[Speaker], backend: object, **kw: object) -> Speaker:
    s = Speaker([lambda: backend], **kw)  # type: ignore[arg-type, list-item]
    made.append(s)
    s.start()
    return s


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
        return data / 32768.0, w.getframerate()


# -- real synthesis ------------------------------------------------------------------------------


@needs_espeak
def test_wav_sink_renders_real_speech(tmp_path: Path, speakers: list[Speaker]) -> None:
    sink = WavFileSink(tmp_path / "out")
    s = start(speakers, sink)
    text = "Press 2: oil temperature high high, 96 degrees Celsius"
    assert s.say(text, "critical", key="press-02/oil_temp_c/hihi")
    assert s.say("Conveyor 1: jam detected", "high", key="conveyor-01/jam/on")
    assert s.wait_idle(20)
    assert [r.text for r in sink.rendered] == [text, "Conveyor 1: jam detected"]
    assert [r.path.name for r in sink.rendered] == ["0001-critical.wav", "0002-high.wav"]

    audio, rate = read_wav(sink.rendered[0].path)
    seconds = len(audio) / rate
    # ~12 words at 165 words a minute: 3-7 s is speech at that rate, not a click or silence.
    assert 2.5 < seconds < 8.0, seconds
    rms = float(np.sqrt(np.mean(audio**2)))
    assert rms > 0.02, rms
    # Speech has pauses and syllables: the level over 20 ms frames varies a lot.
    frame = rate // 50
    levels = np.sqrt(np.mean(audio[: len(audio) // frame * frame].reshape(-1, frame) ** 2, 1))
    # (espeak-ng 1.51 gives ~64 % of frames above a tenth of the loudest, ~20 % below it.)
    assert (levels < 0.1 * levels.max()).mean() > 0.05, "no pauses: not speech-like"
    assert (levels > 0.1 * levels.max()).mean() > 0.4, "mostly quiet: not speech"

    short, _ = read_wav(sink.rendered[1].path)
    assert len(short) < len(audio), "the shorter sentence made the longer file"
    assert s.stats.spoken == 2 and s.stats.dropped == {}


# -- order, interruption, merge, cancel ------------------------------------------------------


def test_priority_order_critical_then_high_then_the_rest(speakers: list[Speaker]) -> None:
    rec = Recorder(hold=True)
    s = start(speakers, rec)
    s.say("first, in progress", "low")
    wait_until(lambda: rec.started, 5, "first utterance started")
    s.say("low one", "low")
    s.say("medium one", "medium")
    s.say("high one", "high")
    s.say("diagnostic one", "diagnostic")
    s.say("high two", "high")
    s.say("critical one", "critical")  # interrupts "first, in progress" (low)
    rec.release()
    assert s.wait_idle(10)
    assert rec.interrupted == ["first, in progress"]
    # The interrupted low one is said again, whole, in its place among the low ones (oldest).
    assert rec.finished == [
        "critical one",
        "high one",
        "high two",
        "first, in progress",
        "low one",
        "medium one",
        "diagnostic one",
    ]
    assert s.stats.interrupted == 1 and s.stats.spoken == 7


def test_high_does_not_interrupt_and_critical_does_not_interrupt_critical(
    speakers: list[Speaker],
) -> None:
    rec = Recorder(hold=True)
    s = start(speakers, rec)
    s.say("critical A", "critical")
    wait_until(lambda: rec.started, 5, "A started")
    s.say("critical B", "critical")
    s.say("high C", "high")
    assert rec.interrupted == []
    rec.release()
    assert s.wait_idle(10)
    assert rec.finished == ["critical A", "critical B", "high C"]
    assert s.stats.interrupted == 0


def test_interrupted_utterance_not_replayed_when_disabled(speakers: list[Speaker]) -> None:
    rec = Recorder(hold=True)
    s = start(speakers, rec, replay_interrupted=False)
    s.say("medium in progress", "medium")
    wait_until(lambda: rec.started, 5, "started")
    s.say("critical", "critical")
    wait_until(lambda: rec.interrupted, 5, "interrupted")
    rec.release()
    assert s.wait_idle(10)
    assert rec.finished == ["critical"]


def test_duplicates_merge_and_take_the_higher_priority(speakers: list[Speaker]) -> None:
    rec = Recorder(hold=True)
    s = start(speakers, rec)
    s.say("busy", "low")
    wait_until(lambda: rec.started, 5, "started")
    s.say("medium one", "medium")
    s.say("Press 1: pressure high", "low", key="a")
    s.say("  Press 1:  pressure high ", "high", key="b")  # same words: merged, promoted
    assert s.pending == ["Press 1: pressure high", "medium one"]
    assert s.stats.merged == 1 and s.stats.queued == 3
    # One of its two keys cancelled: still said (the other alarm still wants it).
    assert s.cancel("a") == 0
    rec.release()
    assert s.wait_idle(10)
    assert rec.finished == ["busy", "Press 1: pressure high", "medium one"]


def test_cancel_before_spoken_is_never_spoken(speakers: list[Speaker]) -> None:
    rec = Recorder(hold=True)
    s = start(speakers, rec)
    s.say("Press 1: busy", "high", key="press-01/x/hi")
    wait_until(lambda: rec.started, 5, "started")
    s.say("Press 2: oil temperature high high", "critical", key="press-02/oil/hihi")
    s.say("Oven 1: zone 2 temperature low", "high", key="oven-01/z2/lo")
    assert s.cancel("press-02/oil/hihi") == 1  # acknowledged before it was spoken
    assert s.cancel("nothing/queued") == 0
    rec.release()
    assert s.wait_idle(10)
    assert "Press 2: oil temperature high high" not in rec.started
    assert rec.finished == ["Press 1: busy", "Oven 1: zone 2 temperature low"]
    assert s.stats.dropped == {"cancelled": 1}


def test_cancel_cuts_the_utterance_in_progress(speakers: list[Speaker]) -> None:
    rec = Recorder(hold=True)
    s = start(speakers, rec)
    s.say("Press 2: long announcement", "high", key="k")
    wait_until(lambda: rec.started, 5, "started")
    assert s.cancel("k") == 1
    assert s.wait_idle(10)
    assert rec.interrupted == ["Press 2: long announcement"] and rec.finished == []
    assert s.stats.spoken == 0


# -- bounds and drops ----------------------------------------------------------------------------


def test_queue_bound_and_drop_counts_by_reason(speakers: list[Speaker]) -> None:
    rec = Recorder(hold=True)
    s = start(speakers, rec, maxsize=3)
    s.say("busy", "critical")
    wait_until(lambda: rec.started, 5, "started")
    assert s.say("low 1", "low")
    assert s.say("medium 1", "medium")
    assert s.say("high 1", "high")
    assert not s.say("low 2", "low")  # full, and not more urgent than the worst queued
    assert not s.say("medium 2", "medium")  # same rank as the worst ("anything else"): refused
    assert s.say("critical 1", "critical")  # displaces the newest of the least urgent
    assert not s.say("   ", "high")
    assert s.pending == ["critical 1", "high 1", "low 1"]
    rec.release()
    assert s.wait_idle(10)
    assert rec.finished == ["busy", "critical 1", "high 1", "low 1"]
    assert s.stop(5)
    assert not s.say("after stop", "critical")
    assert s.stats.dropped == {"queue_full": 2, "displaced": 1, "empty": 1, "stopped": 1}


def test_stop_forgets_the_queue_and_interrupts(speakers: list[Speaker]) -> None:
    rec = Recorder(hold=True)
    s = Speaker([lambda: rec])
    s.start()
    s.say("in progress", "high")
    wait_until(lambda: rec.started, 5, "started")
    s.say("queued", "high")
    assert s.stop(5)
    assert rec.interrupted == ["in progress"] and rec.finished == []
    assert s.stats.dropped == {"stopped": 1}


def test_say_never_blocks_while_the_backend_is_busy(speakers: list[Speaker]) -> None:
    rec = Recorder(hold=True)
    s = start(speakers, rec, maxsize=500)
    s.say("busy", "low")
    wait_until(lambda: rec.started, 5, "started")
    done = threading.Event()

    def caller() -> None:
        for i in range(400):
            s.say(f"item {i}", "medium", key=str(i))
            s.cancel(str(i - 1))
        done.set()

    threading.Thread(target=caller).start()
    assert done.wait(5), "say/cancel blocked while the backend was speaking"
    rec.release()
    assert s.wait_idle(10)
    assert rec.finished == ["busy", "item 399"]


# -- errors and no engine ------------------------------------------------------------------------


def test_no_engine_says_so_once_and_stays_silent(speakers: list[Speaker]) -> None:
    events: list[SpeechEvent] = []

    def no_pyttsx3() -> Recorder:
        raise SpeechUnavailableError("pyttsx3 is not installed")

    def no_espeak() -> Recorder:
        raise SpeechUnavailableError("espeak-ng is not installed")

    s = Speaker([no_pyttsx3, no_espeak], on_event=events.append)  # type: ignore[list-item]
    speakers.append(s)
    s.start()
    assert s.wait_idle(5)
    assert not s.say("Press 1: pressure high", "high")
    assert not s.say("Press 2: pressure high", "critical")
    assert events == [
        SpeechUnavailable(
            "No speech engine (pyttsx3 is not installed; espeak-ng is not installed):"
            " alarms will not be spoken."
        )
    ]
    assert s.unavailable is not None and s.unavailable.count(".") == 1  # one sentence
    assert s.stats.dropped == {"no_engine": 2}
    assert s.backend_name is None


def test_fallback_to_the_next_backend() -> None:
    rec = Recorder()

    def broken() -> Recorder:
        raise SpeechUnavailableError("pyttsx3 could not start espeak-ng")

    s = Speaker([broken, lambda: rec])  # type: ignore[list-item]
    s.start()
    try:
        s.say("hello", "high")
        assert s.wait_idle(5)
        assert s.backend_name == "recorder" and rec.finished == ["hello"]
    finally:
        assert s.stop(5)


def test_backend_errors_become_events_not_exceptions(speakers: list[Speaker]) -> None:
    events: list[SpeechEvent] = []

    class Broken(Recorder):
        def speak(self, text: str, priority: str, stop: threading.Event) -> bool:
            if text == "bad":
                raise OSError("no default audio device")
            return super().speak(text, priority, stop)

    rec = Broken()
    s = start(speakers, rec, on_event=events.append)
    assert s.say("bad", "high")  # accepted on the caller's thread; fails on the speaker's
    s.say("good", "high")
    wait_until(lambda: rec.finished == ["good"] and events, 5, "error event and next utterance")
    assert events == [WorkerFailed("speaker", "saying 'bad'", "OSError: no default audio device")]
    assert s.stats.failed == 1 and s.stats.spoken == 1


@needs_espeak
def test_default_backends_start_on_this_machine(speakers: list[Speaker]) -> None:
    """pyttsx3 (or espeak-ng) starts: the speaker names the backend instead of going silent."""
    s = Speaker()
    speakers.append(s)
    s.start()
    assert s.wait_idle(10)
    assert s.backend_name in {"pyttsx3", "espeak-ng"}
    assert s.unavailable is None
