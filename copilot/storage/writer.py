"""One writer thread per database: callers hand it work, it commits in batches.

No caller ever waits for a disk: :meth:`Writer.submit`, :meth:`Writer.submit_many` and
:meth:`Writer.call` queue work and return a :class:`~concurrent.futures.Future` at once. The
thread takes everything queued, runs it in one transaction (each item inside its own
savepoint, so one bad item fails alone) and commits once — one fsync for the whole batch, and
the batch grows by itself while the disk is slow (group commit). A future is resolved only
after the commit that made its work durable, so a caller that must not go on before the data is
on disk (the agent's command journal) waits on that future or on :meth:`Writer.flush`.

Errors are never raised on a caller's thread: a failed item sets its future's exception, is
counted in :attr:`Writer.stats`, logged, and handed to the ``on_error`` listener (called on the
writer thread). The writer thread never dies of an item's error.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from copilot.storage.database import open_database
from copilot.storage.errors import StorageError
from copilot.storage.migrations import Migration

log = logging.getLogger(__name__)

T = TypeVar("T")
Connection = sqlite3.Connection  # for ``call`` functions' signatures outside this package
Params = Sequence[object]


@dataclass(frozen=True)
class WriteFailed:
    """An item the writer could not commit (its future carries the same exception)."""

    writer: str
    what: str
    error: str


@dataclass
class WriterStats:
    """Counters of one writer (read from any thread; written by the writer thread)."""

    submitted: int = 0
    committed: int = 0
    batches: int = 0
    errors: int = 0
    largest_batch: int = 0
    last_error: str = ""
    errors_by_kind: dict[str, int] = field(default_factory=dict)


@dataclass
class _Item:
    what: str
    run: Callable[[sqlite3.Connection], Any] | None  # None: a flush marker
    future: Future[Any]


_STOP = object()


class Writer:
    """The only connection that writes to ``path``; one daemon thread named ``db-<name>``.

    The constructor opens the file and applies ``migrations`` on the caller's thread, so a file
    that cannot be used (:class:`StorageError`, e.g. newer than this code) fails at once.
    """

    def __init__(
        self,
        path: Path,
        migrations: Sequence[Migration] = (),
        name: str = "",
        *,
        max_batch: int = 1000,
        on_error: Callable[[WriteFailed], None] | None = None,
    ) -> None:
        self.path = path
        self.name = name or path.stem
        self.stats = WriterStats()
        self.on_error = on_error
        self._max_batch = max_batch
        self._conn = open_database(path, migrations)
        self._queue: queue.SimpleQueue[_Item | object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"db-{self.name}", daemon=True)
        self._thread.start()

    # -- callers' side (any thread) -------------------------------------------------------------

    def submit(self, sql: str, params: Params = ()) -> Future[None]:
        """Queue one statement; the future resolves once it is committed."""
        args = tuple(params)
        return self._put(sql, lambda conn: (conn.execute(sql, args), None)[1])

    def submit_many(self, sql: str, rows: Iterable[Params]) -> Future[None]:
        """Queue one statement for many rows (``executemany``), committed together."""
        batch = [tuple(r) for r in rows]
        return self._put(sql, lambda conn: (conn.executemany(sql, batch), None)[1])

    def call(self, fn: Callable[[sqlite3.Connection], T], what: str = "") -> Future[T]:
        """Queue ``fn(connection)`` (run on the writer thread inside the batch's transaction)."""
        return self._put(what or getattr(fn, "__qualname__", "call"), fn)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is committed; ``False`` on timeout or close."""
        marker: Future[None] = Future()
        with self._lock:
            if self._closed:
                return not self._thread.is_alive()
            self._queue.put(_Item("flush", None, marker))
        try:
            marker.result(timeout)
        except TimeoutError:
            return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Commit what is queued, stop the thread and close the file (safe to call twice)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error(
                "%s: the writer of %s did not stop within %.0f s.", self.name, self.path, timeout
            )
            return
        self._conn.close()

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running."""
        return self._thread.is_alive()

    def _put(self, what: str, run: Callable[[sqlite3.Connection], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if not self._closed:
                self.stats.submitted += 1
                self._queue.put(_Item(what, run, future))
                return future
        self._fail(_Item(what, run, future), StorageError(f"The writer of {self.path} is closed."))
        return future

    # -- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            batch: list[_Item] = []
            if first is _STOP:
                stopping = True
            else:
                assert isinstance(first, _Item)
                batch.append(first)
            while len(batch) < self._max_batch and not stopping:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                else:
                    assert isinstance(more, _Item)
                    batch.append(more)
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        done: list[tuple[_Item, object]] = []
        failed: list[tuple[_Item, BaseException]] = []
        markers = [item for item in batch if item.run is None]
        work = [item for item in batch if item.run is not None]
        if work:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                failed = [(item, exc) for item in work]
                work = []
            for item in work:
                assert item.run is not None
                try:
                    self._conn.execute("SAVEPOINT item")
                    result = item.run(self._conn)
                    self._conn.execute("RELEASE item")
                    done.append((item, result))
                except Exception as exc:  # one bad item fails alone; the batch goes on
                    try:
                        self._conn.execute("ROLLBACK TO item")
                        self._conn.execute("RELEASE item")
                    except sqlite3.Error as inner:
                        log.error("%s: cannot roll back an item: %s", self.name, inner)
                    failed.append((item, exc))
            if work:
                try:
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error as inner:
                        log.error("%s: cannot roll back a batch: %s", self.name, inner)
                    failed.extend((item, exc) for item, _ in done)
                    done = []
                self.stats.batches += 1
                self.stats.largest_batch = max(self.stats.largest_batch, len(work))
        self.stats.committed += len(done)
        for item, result in done:
            item.future.set_result(result)
        for item, error in failed:
            self._fail(item, error)
        for item in markers:
            item.future.set_result(None)

    def _fail(self, item: _Item, exc: BaseException) -> None:
        kind = type(exc).__name__
        text = f"{self.name}: could not write to {self.path} ({item.what[:80]}): {exc}"
        with self._lock:
            self.stats.errors += 1
            self.stats.errors_by_kind[kind] = self.stats.errors_by_kind.get(kind, 0) + 1
            self.stats.last_error = text
            first = self.stats.errors_by_kind[kind] == 1
        if first or self.stats.errors in (10, 100, 1000):
            log.error("%s", text)
        item.future.set_exception(exc)
        if self.on_error is not None:
            try:
                self.on_error(WriteFailed(self.name, item.what, str(exc)))
            except Exception:  # a listener's bug must not end the writer
                log.exception("%s: the write-error listener raised", self.name)
