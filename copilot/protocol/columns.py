"""Pack and unpack the columns of a DATA batch (numpy arrays ↔ little-endian bytes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from copilot.protocol.messages import Data, Value

ALIAS = np.dtype("<u4")
VALUE = np.dtype("<f8")
TIME = np.dtype("<i8")
QUALITY = np.dtype("u1")


class ColumnError(ValueError):
    """The columns of a DATA batch do not line up."""


def pack(
    aliases: npt.ArrayLike,
    values: npt.ArrayLike,
    ts: npt.ArrayLike,
    quality: npt.ArrayLike | None = None,
    text: Mapping[int, str] | None = None,
) -> Data:
    """Build a DATA body from arrays (or sequences) of equal length."""
    q = b""
    if quality is not None:
        qa = np.asarray(quality, dtype=QUALITY)
        if qa.any():
            q = qa.tobytes()
    return Data(
        aliases=np.asarray(aliases, dtype=ALIAS).tobytes(),
        values=np.asarray(values, dtype=VALUE).tobytes(),
        ts=np.asarray(ts, dtype=TIME).tobytes(),
        quality=q,
        text=dict(text) if text else {},
    )


def pack_values(
    aliases: Sequence[int],
    values: Sequence[Value],
    ts: Sequence[int],
    quality: Sequence[int] | None = None,
) -> Data:
    """Build a DATA body from Python values of any tag type (text goes to ``text``)."""
    numbers = np.empty(len(values), dtype=VALUE)
    text: dict[int, str] = {}
    for i, value in enumerate(values):
        if value is None:
            numbers[i] = np.nan
        elif isinstance(value, str):
            numbers[i] = np.nan
            text[i] = value
        else:
            numbers[i] = float(value)
    return pack(aliases, numbers, ts, quality, text)


def seconds(ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Nanosecond timestamps as float64 seconds (what trends and rings use)."""
    return ts_ns.astype(np.float64) * np.float64(1e-9)


def unpack(
    data: Data,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.uint8] | None,
]:
    """Views of a DATA body's columns (aliases, values, ts in ns, quality or None)."""
    n = len(data.aliases) // 4
    if (
        len(data.aliases) % 4
        or len(data.values) != 8 * n
        or len(data.ts) != 8 * n
        or (data.quality and len(data.quality) != n)
    ):
        raise ColumnError("DATA columns have different lengths")
    aliases = np.frombuffer(data.aliases, dtype=ALIAS).astype(np.int64)
    values = np.frombuffer(data.values, dtype=VALUE)
    ts = np.frombuffer(data.ts, dtype=TIME).astype(np.int64)
    quality = np.frombuffer(data.quality, dtype=QUALITY) if data.quality else None
    if data.text and any(not 0 <= i < n for i in data.text):
        raise ColumnError("DATA text refers to a sample that is not there")
    return aliases, values, ts, quality
