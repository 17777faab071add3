"""Samples an agent holds until the hub takes them: chunked under a size limit, bounded.

Publishing appends column chunks; :meth:`Backlog.take` cuts the oldest samples into one DATA
body that fits a message size limit (the hub refuses larger ones), and :meth:`Backlog.consume`
forgets them once the socket accepted that message — so a long outage is flushed as many
messages, each under the limit, in time order. :meth:`Backlog.bound` keeps the backlog under
a sample and a byte bound by dropping its oldest samples while keeping, for every tag, its
latest value among those dropped when the tag has no newer one; it returns how many went, for
the caller to count and report.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from copilot.protocol import Data
from copilot.protocol.columns import pack

SAMPLE_BYTES = 4 + 8 + 8 + 1  # alias, value, timestamp, quality: the packed columns
TEXT_OVERHEAD = 10  # msgpack map key and string header of one text value
MESSAGE_OVERHEAD = 1024  # header, topic, body map keys, with room to spare

Aliases = npt.NDArray[np.uint32]
Floats = npt.NDArray[np.float64]
Times = npt.NDArray[np.int64]
Qualities = npt.NDArray[np.uint8]


class Backlog:
    """Samples waiting to be sent, as column chunks (one chunk per publish call)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything."""
        self.aliases: list[Aliases] = []
        self.values: list[Floats] = []
        self.ts: list[Times] = []
        self.quality: list[Qualities | None] = []
        self.text: list[dict[int, str]] = []
        self.count = 0
        self.nbytes = 0

    def add(
        self,
        aliases: Aliases,
        values: Floats,
        ts: Times,
        quality: Qualities | None,
        text: dict[int, str],
    ) -> None:
        """Append one chunk of equal-length columns (``text`` keyed by index in the chunk)."""
        n = int(aliases.shape[0])
        self.aliases.append(aliases)
        self.values.append(values)
        self.ts.append(ts)
        self.quality.append(quality)
        self.text.append(text)
        self.count += n
        self.nbytes += n * SAMPLE_BYTES + sum(len(v) + TEXT_OVERHEAD for v in text.values())

    def _merged(self) -> tuple[Aliases, Floats, Times, Qualities | None, dict[int, str]]:
        """All chunks as one (and keep it that way, so repeated cuts do not copy again)."""
        if len(self.aliases) == 1:
            return self.aliases[0], self.values[0], self.ts[0], self.quality[0], self.text[0]
        aliases = np.concatenate(self.aliases) if self.aliases else np.empty(0, np.uint32)
        values = np.concatenate(self.values) if self.values else np.empty(0, np.float64)
        ts = np.concatenate(self.ts) if self.ts else np.empty(0, np.int64)
        quality = None
        if any(q is not None for q in self.quality):
            quality = np.concatenate(
                [
                    q if q is not None else np.zeros(a.shape[0], np.uint8)
                    for q, a in zip(self.quality, self.aliases, strict=True)
                ]
            )
        text: dict[int, str] = {}
        offset = 0
        for chunk, a in zip(self.text, self.aliases, strict=True):
            text.update({offset + i: v for i, v in chunk.items()})
            offset += int(a.shape[0])
        count, nbytes = self.count, self.nbytes
        self.aliases, self.values, self.ts = [aliases], [values], [ts]
        self.quality, self.text = [quality], [text]
        self.count, self.nbytes = count, nbytes
        return aliases, values, ts, quality, text

    def _keep(self, index: npt.NDArray[np.intp]) -> None:
        """Keep only the merged samples at ``index`` (sorted), in that order."""
        aliases, values, ts, quality, text = self._merged()
        position = {int(i): k for k, i in enumerate(index.tolist())} if text else {}
        kept_text = {position[i]: v for i, v in text.items() if i in position}
        self.aliases = [aliases[index]]
        self.values = [values[index]]
        self.ts = [ts[index]]
        self.quality = [quality[index] if quality is not None else None]
        self.text = [kept_text]
        self.count = int(index.shape[0])
        self.nbytes = self.count * SAMPLE_BYTES + sum(
            len(v) + TEXT_OVERHEAD for v in kept_text.values()
        )

    def data(self) -> Data:
        """All pending samples as one DATA body (whatever its size)."""
        aliases, values, ts, quality, text = self._merged()
        return pack(aliases, values, ts, quality, text)

    def take(self, max_bytes: int) -> tuple[Data | None, int]:
        """The oldest samples that fit one message of ``max_bytes``: ``(body, n)``.

        ``(None, 1)`` means the oldest sample alone does not fit (a huge text value): the caller
        drops it with :meth:`consume` and counts it. ``(None, 0)``: nothing is waiting.
        """
        if not self.count:
            return None, 0
        aliases, values, ts, quality, text = self._merged()
        budget = max(0, max_bytes - MESSAGE_OVERHEAD)
        if not text:
            n = min(self.count, budget // SAMPLE_BYTES)
        else:
            sizes = np.full(self.count, SAMPLE_BYTES, dtype=np.int64)
            for i, v in text.items():
                sizes[i] += len(v.encode()) + TEXT_OVERHEAD
            n = int(np.searchsorted(np.cumsum(sizes), budget, side="right"))
        if n == 0:
            return None, 1
        chunk_text = {i: v for i, v in text.items() if i < n} if text else {}
        body = pack(
            aliases[:n],
            values[:n],
            ts[:n],
            quality[:n] if quality is not None else None,
            chunk_text,
        )
        return body, int(n)

    def consume(self, n: int) -> None:
        """Forget the ``n`` oldest samples (they were sent, or dropped and counted)."""
        if n >= self.count:
            self.clear()
            return
        self._keep(np.arange(n, self.count))

    def bound(self, max_samples: int, max_bytes: int) -> int:
        """Drop the oldest samples to get under both bounds (to 90 % of them); return how many.

        For each tag whose every held sample would go, its newest one stays, so the hub still
        learns the last value of a tag that changes rarely.
        """
        if self.count <= max_samples and self.nbytes <= max_bytes:
            return 0
        aliases, _values, _ts, _quality, _text = self._merged()
        per_sample = max(1.0, self.nbytes / max(1, self.count))
        keep = min(int(max_samples * 0.9), int(max_bytes * 0.9 / per_sample), self.count)
        cut = self.count - max(0, keep)
        old, new = aliases[:cut], aliases[cut:]
        last = cut - 1 - np.unique(old[::-1], return_index=True)[1]
        last = np.sort(last[~np.isin(old[last], new)])
        index = np.concatenate([last, np.arange(cut, self.count)]).astype(np.intp)
        before = self.count
        self._keep(index)
        return before - self.count

    def conflate(self) -> int:
        """Keep only the newest sample of each tag; return how many were dropped."""
        aliases, _values, _ts, _quality, _text = self._merged()
        last = np.unique(aliases[::-1], return_index=True)[1]
        keep = np.sort(aliases.shape[0] - 1 - last).astype(np.intp)
        before = self.count
        self._keep(keep)
        return before - self.count


_Pending = Backlog  # the name older code and tests use
