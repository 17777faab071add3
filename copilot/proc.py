"""Process lifecycle: stop on SIGINT/SIGTERM, and child processes that never outlive their parent.

:func:`stop_on_signals` turns the first SIGINT or SIGTERM into a stop request. :func:`spawn`
starts a child that the kernel kills if the parent dies (Linux ``PR_SET_PDEATHSIG``), and
:func:`terminate` stops children politely, then firmly, within a deadline.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

_PR_SET_PDEATHSIG = 1


def stop_on_signals(stop: Callable[[], None]) -> None:
    """Call ``stop()`` on the first SIGINT/SIGTERM; a second one exits at once."""
    state = {"count": 0}

    def handler(signum: int, frame: FrameType | None) -> None:
        state["count"] += 1
        if state["count"] > 1:
            os._exit(128 + signum)
        stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def run_in_thread(loop: Callable[[], None], name: str, owner: Any) -> threading.Thread:
    """Run ``loop`` on a daemon thread; keep an exception that ends it in ``owner.error``.

    The exception is also logged, so a stopped loop is never silent.
    """

    def target() -> None:
        try:
            loop()
        except BaseException as exc:
            owner.error = exc
            logging.getLogger(__name__).exception("%s stopped on an error", name)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def die_with_parent() -> None:
    """In a child, before exec: ask the kernel to SIGTERM us when our parent dies."""
    libc_name = ctypes.util.find_library("c")
    if libc_name and sys.platform.startswith("linux"):
        libc = ctypes.CDLL(libc_name, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def spawn(args: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``python -m copilot <args>`` as a child that dies with this process."""
    return subprocess.Popen(
        [sys.executable, "-m", "copilot", *args],
        env=env,
        preexec_fn=die_with_parent,
        stdin=subprocess.DEVNULL,
    )


def terminate(children: Sequence[subprocess.Popen[bytes]], deadline_s: float = 1.5) -> None:
    """SIGTERM every child, wait up to ``deadline_s``, then SIGKILL what is left."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    end = time.monotonic() + deadline_s
    for child in children:
        try:
            child.wait(max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
