"""The Worker pattern: one thread, an inbox, errors as events, bounded, explicit shutdown."""

from __future__ import annotations

import threading

import pytest

from copilot.station import Worker, WorkerFailed
from tests.helpers import wait_until


def test_items_are_handled_in_order_on_the_workers_thread() -> None:
    seen: list[tuple[int, str]] = []
    worker: Worker[int] = Worker(
        "w-order", lambda i: seen.append((i, threading.current_thread().name))
    )
    worker.start()
    for i in range(100):
        assert worker.submit(i)
    wait_until(lambda: len(seen) == 100, 5, "all items")
    worker.stop()
    assert worker.join(5)
    assert [i for i, _ in seen] == list(range(100))
    assert {name for _, name in seen} == {"w-order"}
    assert worker.stats.handled == 100 and worker.stats.failed == 0
    assert not worker.alive


def test_a_failing_item_becomes_an_event_and_the_worker_goes_on() -> None:
    failures: list[WorkerFailed] = []
    handled: list[int] = []

    def handle(i: int) -> None:
        if i % 2:
            raise RuntimeError(f"odd {i}")
        handled.append(i)

    worker: Worker[int] = Worker(
        "w-fail", handle, on_error=failures.append, describe=lambda i: f"item {i}"
    )
    worker.start()
    for i in range(6):
        worker.submit(i)
    wait_until(lambda: len(handled) == 3 and len(failures) == 3, 5, "items and failures")
    worker.stop()
    worker.join(5)
    assert handled == [0, 2, 4]
    assert failures[0] == WorkerFailed("w-fail", "item 1", "RuntimeError: odd 1")
    assert worker.stats.failed == 3 and worker.stats.handled == 3


@pytest.mark.parametrize(
    ("overflow", "kept"), [("drop_newest", [0, 1, 2]), ("drop_oldest", [3, 4, 5])]
)
def test_a_full_inbox_drops_and_counts(overflow: str, kept: list[int]) -> None:
    gate = threading.Event()
    seen: list[int] = []

    def handle(i: int) -> None:
        if i == -1:
            gate.wait(5)
        else:
            seen.append(i)

    worker: Worker[int] = Worker("w-full", handle, maxsize=3, overflow=overflow)  # type: ignore[arg-type]
    worker.start()
    worker.submit(-1)
    wait_until(lambda: worker.pending == 0, 5, "the blocker taken")
    accepted = [worker.submit(i) for i in range(6)]
    assert accepted == ([True] * 3 + [False] * 3 if overflow == "drop_newest" else [True] * 6)
    assert worker.stats.dropped == 3
    gate.set()
    wait_until(lambda: len(seen) == 3, 5, "the kept items")
    assert seen == kept
    worker.stop()
    worker.join(5)


def test_stop_discards_or_drains_and_refuses_later_items() -> None:
    gate = threading.Event()
    seen: list[int] = []

    def handle(i: int) -> None:
        gate.wait(5)
        seen.append(i)

    for drain, expect in ((False, [0]), (True, [0, 1, 2])):
        seen.clear()
        gate.clear()
        worker: Worker[int] = Worker(f"w-stop-{drain}", handle)
        worker.start()
        for i in range(3):
            worker.submit(i)
        wait_until(lambda w=worker: w.pending == 2, 5, "first item taken")
        worker.stop(drain=drain)
        assert not worker.submit(9)
        gate.set()
        assert worker.join(5)
        assert seen == expect
        assert worker.stats.discarded == (0 if drain else 2)


def test_a_worker_can_stop_itself_from_its_handler() -> None:
    holder: list[Worker[int]] = []

    def handle(i: int) -> None:
        holder[0].stop()
        assert not holder[0].join(1)  # never waits for its own thread

    worker: Worker[int] = Worker("w-self", handle)
    holder.append(worker)
    worker.start()
    worker.submit(1)
    wait_until(lambda: not worker.alive, 5, "worker ended")
    assert worker.stats.handled == 1


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        Worker("w", print, maxsize=0)


class NoAudioError(RuntimeError):
    """What a player says on a station without an audio device."""


def test_an_expected_failure_is_one_line_once_and_a_bug_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every tone and sentence of a station without an audio device failed alike, and each
    logged a traceback; the site can do nothing about it in code, so it is said once."""

    def handle(i: int) -> None:
        if i < 5:
            raise NoAudioError(f"play could not play sound-{i}.wav: no default audio device")
        raise KeyError(f"bug {i}")

    worker: Worker[int] = Worker(
        "w-audio", handle, describe=lambda i: f"sound {i}", expected=(NoAudioError,)
    )
    worker.start()
    with caplog.at_level("DEBUG", logger="copilot.station.worker"):
        for i in range(7):
            worker.submit(i)
        wait_until(lambda: worker.stats.failed == 7, 5, "every item failed")
    worker.stop()
    worker.join(5)
    shown = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    audio = [r for r in shown if "audio device" in r.getMessage()]
    assert len(audio) == 1 and audio[0].levelname == "WARNING" and audio[0].exc_info is None
    bugs = [r for r in shown if r.levelname == "ERROR"]
    assert len(bugs) == 2 and all(r.exc_info is not None for r in bugs)  # sound 5, sound 6
