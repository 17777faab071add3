"""A history answer is cut into parts that each fit under the hub's reply limit."""

from __future__ import annotations

import msgspec
import pytest

from copilot.hub.history import split_reply
from copilot.protocol import HistoryReply, Series

T0 = 1_700_000_000_000_000_000
LIMIT = 3 * 1024 * 1024


def _encoded(reply: object) -> int:
    return len(msgspec.msgpack.encode(reply))


@pytest.mark.parametrize(
    ("tags", "points", "name_len"),
    [(10_000, 5, 1024), (1, 400_000, 4), (2_000, 200, 64)],
    ids=["many long names", "one long series", "many mid series"],
)
def test_every_part_fits_and_nothing_is_lost(tags: int, points: int, name_len: int) -> None:
    reply = HistoryReply(
        machine="m",
        series=[
            Series(tag=f"{i:0{name_len}d}", t=list(range(T0, T0 + points)), v=[0.5] * points)
            for i in range(tags)
        ],
        request_id=7,
    )
    parts = split_reply(reply, LIMIT)
    assert max(_encoded(p) for p in parts) <= LIMIT
    assert [p.part for p in parts] == list(range(len(parts)))  # type: ignore[union-attr]
    assert [p.last for p in parts] == [False] * (len(parts) - 1) + [True]  # type: ignore[union-attr]
    joined: dict[str, list[int]] = {}
    for p in parts:
        assert isinstance(p, HistoryReply) and p.request_id == 7
        for s in p.series:
            joined.setdefault(s.tag, []).extend(s.t)
    assert len(joined) == tags
    assert all(t == list(range(T0, T0 + points)) for t in joined.values())
