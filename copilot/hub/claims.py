"""Which key spoke first for a machine id: bindings from the allow-list, first claims on file.

A key bound to machine ids in the allow-list (``copilot keys allow --machines``) speaks for
those and nothing else. A key without a binding may claim an id no other key holds; the first
claim is kept in ``claims.json`` under the hub's data folder, written by a small thread of its
own (never on the hub's I/O thread), so a restarted hub still knows who holds what.

TODO(storage): move the file into the hub's SQLite database (table ``claims``) through the
storage writer thread once it lands on main.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import msgspec

log = logging.getLogger(__name__)


class Bindings(Protocol):
    """Who may speak for which machine, as the allow-list says."""

    def may_speak_for(self, user: str, machine_id: str) -> bool | None:
        """True: bound to it; False: not allowed (bound elsewhere); None: the key has no binding."""


class AllowListBindings:
    """:class:`Bindings` over the allow-list's ``machines`` patterns (``role:name`` users).

    ``source`` returns the current allow-list (re-read when its file changes); a key whose
    entry has no ``machines`` has no binding. An id bound to some key is refused to every
    unbound key too.
    """

    def __init__(self, source: Callable[[], Any]) -> None:
        self._source = source

    def may_speak_for(self, user: str, machine_id: str) -> bool | None:
        """See :class:`Bindings`."""
        allow = self._source()
        native = getattr(allow, "may_speak_for", None)
        if native is not None:
            found = native(user, machine_id)
            if found is not None:
                return bool(found)
        mine: list[str] | None = None
        bound_elsewhere = False
        for key in getattr(allow, "keys", ()):
            patterns = list(getattr(key, "machines", None) or ())
            if f"{key.role}:{key.name}" == user:
                mine = patterns or None
            elif any(fnmatch.fnmatchcase(machine_id, p) for p in patterns):
                bound_elsewhere = True
        if mine is not None:
            return any(fnmatch.fnmatchcase(machine_id, p) for p in mine)
        return False if bound_elsewhere else None


class ClaimBook:
    """First claims of machine ids by unbound keys, persisted off the caller's thread."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.claims: dict[str, str] = {}
        self._dirty = threading.Event()
        self._stop = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.write_errors = 0
        if path is not None and path.exists():
            try:
                self.claims = msgspec.json.decode(path.read_bytes(), type=dict[str, str])
            except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.error("hub: claims file %s cannot be read (%s); starting empty.", path, exc)

    def holder(self, machine_id: str) -> str | None:
        """The key that claimed ``machine_id``, if any."""
        return self.claims.get(machine_id)

    def record(self, machine_id: str, user: str) -> None:
        """Remember a first claim now; the file is written soon, on the book's own thread."""
        with self._lock:
            self.claims[machine_id] = user
        if self.path is None:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hub-claims", daemon=True)
            self._thread.start()
        self._dirty.set()

    def _run(self) -> None:
        while True:
            self._dirty.wait()
            self._dirty.clear()
            self._write()
            if self._stop:
                return

    def _write(self) -> None:
        assert self.path is not None
        with self._lock:
            data = msgspec.json.encode(self.claims)
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.path)
        except OSError as exc:
            self.write_errors += 1
            log.error("hub: cannot write claims file %s: %s", self.path, exc)

    def close(self, timeout: float = 2.0) -> None:
        """Write what is pending and stop the thread."""
        if self._thread is not None:
            self._stop = True
            self._dirty.set()
            self._thread.join(timeout)
            self._thread = None
