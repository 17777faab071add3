"""docs/protocol.md's worked byte examples are what the real codec produces, byte for byte."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from copilot.protocol import (
    ArgSpec,
    Birth,
    Codec,
    CommandSpec,
    Header,
    MachineInfo,
    Range,
    TagSpec,
)
from copilot.protocol.columns import pack

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
EPOCH = 1_795_000_000_000_000_000


def hexdump(data: bytes) -> str:
    """The dump format the document uses: offset, 16 bytes, ASCII."""
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{off:04x}  {hexes:<47}  |{text}|")
    return "\n".join(lines)


def example_frames() -> tuple[list[bytes], list[bytes]]:
    codec = Codec()
    birth = Birth(
        machine=MachineInfo(id="press-1", name="Press 1", kind="press", line="L1"),
        tags=[
            TagSpec(
                name="temp", alias=0, unit="degC", eng_range=Range(0.0, 200.0), max_age_ms=3000
            ),
            TagSpec(name="running", alias=1, type="bool"),
        ],
        commands=[
            CommandSpec(
                name="set_speed", args=[ArgSpec(name="rpm", type="int", range=Range(0.0, 1500.0))]
            )
        ],
        heartbeat_ms=1000,
    )
    at = EPOCH + 500_000_000
    data = pack([0, 1], [71.5, 1.0], [at, at])
    return (
        codec.frames(Header(src="press-1", epoch=EPOCH, seq=0, ts=EPOCH), birth),
        codec.frames(Header(src="press-1", epoch=EPOCH, seq=1, ts=EPOCH + 600_000_000), data),
    )


def test_the_birth_and_data_dumps_in_the_document_come_from_the_codec() -> None:
    birth, data = example_frames()
    for frames in (birth, data):
        assert len(frames) == 3
        for frame in frames:
            assert hexdump(frame) in DOC, hexdump(frame)
    assert f"Frame 1, header ({len(birth[1])} bytes)" in DOC
    assert f"Frame 2, body ({len(birth[2])} bytes)" in DOC
    assert f"Frame 2, body ({len(data[2])} bytes)" in DOC


def test_the_optional_quality_and_text_fields_are_encoded_as_documented() -> None:
    body = Codec().frames(
        Header(src="x", epoch=1, seq=1, ts=1),
        pack([0, 2], [np.nan, np.nan], [1, 1], quality=[0x84, 0], text={1: "job 7"}),
    )[2]
    assert body[0] == 0x86  # six entries
    assert bytes.fromhex("a7 71 75 61 6c 69 74 79 c4 02 84 00") in body
    assert bytes.fromhex("a4 74 65 78 74 81 01 a5 6a 6f 62 20 37") in body
    assert bytes.fromhex("00 00 00 00 00 00 f8 7f") in body
