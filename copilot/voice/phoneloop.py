"""The free phone loop in a helper process, so it decodes beside the grammar search.

Rejection needs two decodes of the same utterance (docs/voice.md, "Rejection"): the grammar
search and a free phone loop. The pocketsphinx bindings hold the interpreter while they
decode, so a second thread runs them one after the other; a second *process* runs them at the
same time on the other core, and end of speech → read-back is the longer of the two instead
of their sum. :class:`PhoneLoopProcess` starts one (``spawn``: safe beside Qt's threads),
sends it each utterance's PCM, and gets back the phone loop's :class:`~copilot.voice.sphinx.
Decoded` and the CPU it took. It ends when told to, or when the pipe to its parent closes.
If the process cannot be started (e.g. inside a daemonic process) or dies, the engine decodes
the phone loop itself, as before.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import time
import weakref
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from copilot.voice.sphinx import Decoded, SphinxSettings

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0  # loading the acoustic model on a loaded machine
RESULT_TIMEOUT_S = 30.0


def _serve(conn: Connection, settings: SphinxSettings) -> None:
    """The helper's loop: PCM bytes in, (Decoded, CPU ms) out; ``None`` or EOF ends it."""
    import shutil
    import tempfile

    from copilot.voice.sphinx import phone_decoder, run_decoder

    folder = tempfile.mkdtemp(prefix="copilot-sphinx-phones-")
    try:
        decoder = phone_decoder(settings, folder)
        conn.send("ready")
        while True:
            try:
                raw = conn.recv_bytes()
            except (EOFError, OSError):
                return
            if not raw:
                return
            cpu0 = time.process_time()
            out = run_decoder(decoder, raw)
            conn.send((out, (time.process_time() - cpu0) * 1000.0))
    finally:
        conn.close()
        shutil.rmtree(folder, True)


def _stop(conn: Connection, proc: Any) -> None:
    with contextlib.suppress(OSError, ValueError):
        conn.send_bytes(b"")
    conn.close()
    proc.join(5.0)
    if proc.is_alive():
        proc.terminate()
        proc.join(5.0)
    proc.close()


class PhoneLoopProcess:
    """One helper process with a phone-loop decoder; used from one thread at a time."""

    def __init__(self, conn: Connection, proc: Any) -> None:
        self._conn = conn
        self._finalizer = weakref.finalize(self, _stop, conn, proc)

    @classmethod
    def start(cls, settings: SphinxSettings) -> PhoneLoopProcess | None:
        """A ready helper, or ``None`` (logged) when one cannot be started here."""
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        try:
            proc = ctx.Process(
                target=_serve, args=(theirs, settings), name="copilot-phone-loop", daemon=True
            )
            proc.start()
        except (AssertionError, OSError, RuntimeError) as exc:  # a daemonic parent: assert
            log.info("voice: no phone-loop helper process (%s); decoding in series", exc)
            ours.close()
            theirs.close()
            return None
        theirs.close()
        helper = cls(ours, proc)
        try:
            ready = ours.poll(START_TIMEOUT_S) and ours.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            log.warning("voice: the phone-loop helper did not start; decoding in series")
            helper.close()
            return None
        return helper

    def submit(self, raw: bytes) -> bool:
        """Start decoding ``raw`` (16 kHz int16 bytes); False if the helper is gone."""
        try:
            self._conn.send_bytes(raw)
        except (OSError, ValueError):
            return False
        return True

    def result(self) -> tuple[Decoded, float] | None:
        """The phone loop of the last :meth:`submit` and its CPU ms, or ``None`` if gone."""
        try:
            if not self._conn.poll(RESULT_TIMEOUT_S):
                return None
            out: tuple[Decoded, float] = self._conn.recv()
        except (EOFError, OSError):
            return None
        return out

    def close(self) -> None:
        """Stop the helper process and wait for it."""
        self._finalizer()
