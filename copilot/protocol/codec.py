"""Encode and decode COP/1 frames; count and drop whatever is malformed.

:class:`Codec` turns ``(Header, body)`` into frames and back. Decoding validates every field
against the Structs in :mod:`copilot.protocol.messages`; anything malformed is counted by
reason in :class:`DropCounters` and returns ``None`` — it never raises out of a receive loop.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from copilot.protocol.messages import (
    PROTOCOL_VERSION,
    SIGNATURE,
    Body,
    Header,
)

MAX_BODY_BYTES = 4 * 1024 * 1024

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")

TOPIC_MACHINE = b"m/"
TOPIC_COMMAND = b"c/"
TOPIC_HUB = b"h/"
TOPIC_ALARM = b"a/"
TOPIC_GATE = b"g/"


def valid_id(machine_id: str) -> bool:
    """Whether ``machine_id`` is topic-safe: lower-case letters, digits, ``-`` and ``_``."""
    return bool(_ID_RE.match(machine_id))


def machine_topic(machine_id: str) -> bytes:
    """PUB topic of a machine's BIRTH/DATA/DEATH: ``m/<id>/`` (trailing ``/`` on purpose)."""
    return b"m/" + machine_id.encode() + b"/"


def command_topic(machine_id: str) -> bytes:
    """PUB topic of command status updates for a machine: ``c/<id>/``."""
    return b"c/" + machine_id.encode() + b"/"


def approval_topic(machine_id: str) -> bytes:
    """PUB topic of two-person approvals for a machine: ``g/approval/<id>/``."""
    return b"g/approval/" + machine_id.encode() + b"/"


def authority_topic(scope: str) -> bytes:
    """PUB topic of control authority changes: ``g/authority/<scope>/``."""
    return b"g/authority/" + scope.encode() + b"/"


def alarm_topic(machine_id: str) -> bytes:
    """PUB topic of alarm updates for a machine: ``a/<id>/``."""
    return b"a/" + machine_id.encode() + b"/"


@dataclass
class DropCounters:
    """Malformed messages seen, by reason. Thread-safe to read while a loop writes."""

    by_reason: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, reason: str) -> None:
        """Record one dropped message."""
        with self._lock:
            self.by_reason[reason] += 1

    @property
    def total(self) -> int:
        """All dropped messages."""
        with self._lock:
            return sum(self.by_reason.values())

    def as_dict(self) -> dict[str, int]:
        """A copy for status output."""
        with self._lock:
            return dict(self.by_reason)


class Codec:
    """Encoder/decoder pair for one thread (msgspec encoders are not shared across threads)."""

    def __init__(self, drops: DropCounters | None = None) -> None:
        self._enc = msgspec.msgpack.Encoder()
        self._header_dec = msgspec.msgpack.Decoder(Header)
        self._body_dec: msgspec.msgpack.Decoder[Body] = msgspec.msgpack.Decoder(Body)
        self.drops = drops if drops is not None else DropCounters()

    # -- encoding -----------------------------------------------------------------------------

    def encode_header(self, header: Header) -> bytes:
        """MessagePack bytes of a header."""
        return self._enc.encode(header)

    def encode_body(self, body: Body) -> bytes:
        """MessagePack bytes of a body."""
        return self._enc.encode(body)

    def frames(self, header: Header, body: Body) -> list[bytes]:
        """``[COP1, header, body]``; callers prepend a topic or routing id."""
        return [SIGNATURE, self._enc.encode(header), self._enc.encode(body)]

    # -- decoding -----------------------------------------------------------------------------

    def decode(self, frames: Sequence[bytes | memoryview]) -> tuple[Header, Body] | None:
        """Validate ``[COP1, header, body]``; return ``None`` (and count why) if malformed.

        Any part may be a ``memoryview`` (a received frame decoded without copying it).
        """
        parsed = self.decode_header(frames)
        if parsed is None:
            return None
        body = self.decode_body(frames[2])
        if body is None:
            return None
        return parsed, body

    def decode_header(self, frames: Sequence[bytes | memoryview]) -> Header | None:
        """Check the frame layout and decode the header only (cheap routing decisions)."""
        if len(frames) != 3:
            self.drops.count("frame_count")
            return None
        if frames[0] != SIGNATURE:
            self.drops.count("signature")
            return None
        if len(frames[2]) > MAX_BODY_BYTES:
            self.drops.count("too_large")
            return None
        try:
            header = self._header_dec.decode(frames[1])
        except (msgspec.DecodeError, ValueError, TypeError):
            self.drops.count("header")
            return None
        if header.v != PROTOCOL_VERSION:
            self.drops.count("version")
            return None
        if header.epoch < 0 or header.seq < 0 or header.epoch >= 2**64 or header.seq >= 2**64:
            self.drops.count("header")
            return None
        return header

    def decode_body(self, raw: bytes | memoryview) -> Body | None:
        """Decode and validate a body; count and return ``None`` when malformed."""
        try:
            body = self._body_dec.decode(raw)
        except (msgspec.DecodeError, ValueError, TypeError, RecursionError):
            self.drops.count("body")
            return None
        return body
