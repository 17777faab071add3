"""Session epochs that only move forward, even when the wall clock steps back.

An epoch is ns since 1970 at the session's start (docs/protocol.md §7.1), and must be larger
than every epoch this machine used before: the hub ignores an older session's messages. The
last epoch is kept in a small file in the agent's data folder (written atomically with
``os.replace``, so a kill -9 never leaves half a number); a new epoch is
``max(clock(), last + 1)``. A missing or unreadable file counts as "no epoch used yet".
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class EpochClock:
    """Hands out increasing epochs for one machine; ``path=None`` keeps them in memory only."""

    def __init__(self, path: Path | None = None, clock: Callable[[], int] = time.time_ns) -> None:
        self.path = path
        self.clock = clock
        self.last = self._load()

    def _load(self) -> int:
        if self.path is None or not self.path.exists():
            return 0
        try:
            return max(0, int(self.path.read_text(encoding="ascii").strip() or 0))
        except (OSError, ValueError) as exc:
            log.warning(
                "Epoch file %s cannot be read (%s); starting from the clock.", self.path, exc
            )
            return 0

    def next(self) -> int:
        """A new epoch, larger than every one handed out before (here or in earlier runs)."""
        now = self.clock()
        epoch = max(now, self.last + 1)
        if epoch != now:
            log.warning(
                "The wall clock is behind the last session's epoch by %.3f s; using %d.",
                (self.last - now) / 1e9,
                epoch,
            )
        self.last = epoch
        self._save(epoch)
        return epoch

    def _save(self, epoch: int) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(f"{epoch}\n", encoding="ascii")
            os.replace(tmp, self.path)
        except OSError as exc:  # the session still runs; only the next restart is less safe
            log.error("Cannot record the epoch in %s: %s.", self.path, exc)
