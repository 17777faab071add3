"""docs/protocol.md's byte examples are what the real codec produces, byte for byte (and the
integrators' guide lists every hub setting with the default the code has)."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import numpy as np

from copilot.protocol import (
    ArgSpec,
    Birth,
    Codec,
    CommandSpec,
    Header,
    Heartbeat,
    HubStatusRequest,
    MachineInfo,
    Range,
    TagSpec,
    machine_topic,
)
from copilot.protocol.columns import pack
from copilot.settings import HubSettings

DOC_DIR = Path(__file__).resolve().parents[2] / "docs"
DOC = (DOC_DIR / "protocol.md").read_text(encoding="utf-8")
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


def _section(start: str, end: str) -> str:
    i = DOC.index(start)
    return DOC[i : DOC.index(end, i)]


def _table_rows(text: str) -> list[tuple[int, bytes]]:
    """``| 0x13 | `cf 18 ...` [/ `...`] | meaning |`` rows: offset and the bytes they quote."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 4 or not cells[1].startswith("0x"):
            continue
        quoted = re.findall(r"`([0-9a-f ]+)`", cells[2])
        assert quoted, line
        rows.append((int(cells[1], 16), bytes.fromhex("".join(quoted))))
    return rows


def test_the_offset_tables_quote_the_bytes_at_those_offsets() -> None:
    birth, data = example_frames()
    header_rows = _table_rows(_section("Decoding the header:", "Frame 2, body"))
    data_rows = _table_rows(_section("Frame 2, body (72 bytes)", "Note the two byte orders"))
    assert len(header_rows) == 15 and len(data_rows) == 13
    for frame, rows in ((birth[1], header_rows), (data[2], data_rows)):
        covered = 0
        for offset, quoted in rows:
            assert frame[offset : offset + len(quoted)] == quoted, hex(offset)
            covered += len(quoted)
        assert covered == len(frame)  # every byte of the frame is explained once


def test_every_inline_byte_example_is_what_the_codec_writes() -> None:
    codec = Codec()
    examples = {
        "81 a1 74 a2 48 42": codec.encode_body(Heartbeat()),
        "82 a1 74 a2 48 42 ab 69 6e 74 65 72 76 61 6c 5f 6d 73 cd 03 e8": codec.encode_body(
            Heartbeat(interval_ms=1000)
        ),
        "81 a1 74 ae 48 55 42 5f 53 54 41 54 55 53 5f 52 45 51": codec.encode_body(
            HubStatusRequest()
        ),
        "6d 2f 70 72 65 73 73 2d 31 2f": machine_topic("press-1"),
    }
    for text, encoded in examples.items():
        assert f"`{text}`" in DOC, text
        assert bytes.fromhex(text) == encoded, text
    birth = example_frames()[0][2]
    for text in ("cd 0b b8", "cd 03 e8"):  # quoted from the BIRTH body
        assert f"`{text}`" in DOC and bytes.fromhex(text) in birth, text
    assert "at\n0x3d `a4 74 61 67 73` key `tags`" in DOC and birth[0x3D:0x42] == b"\xa4tags"
    assert "`eng_range` (key at 0x5f, value at 0x69) is `92 cb 00..00 cb 40 69 00..00`" in DOC
    assert birth[0x5F:0x69] == b"\xa9eng_range"
    assert birth[0x69:0x6C] == bytes.fromhex("92 cb 00") and birth[0x72:0x75] == b"\x00\xcb\x40"


def test_the_integrators_guide_lists_every_hub_setting_with_its_default() -> None:
    guide = (DOC_DIR / "integrators.md").read_text(encoding="utf-8")
    defaults = msgspec.structs.asdict(HubSettings())
    for name, default in defaults.items():
        rows = [line for line in guide.splitlines() if line.startswith(f"| `{name}` | ")]
        assert len(rows) == 1, name
        cell = rows[0].split("|")[2].strip().strip("`").split(" ")[0].replace(",", "")
        if isinstance(default, float):
            assert float(cell) == default, name
        elif default == "":
            assert cell == "(none)", name
        else:
            assert cell == str(default), name


def test_the_limits_quoted_in_the_protocol_are_the_hub_defaults() -> None:
    defaults = msgspec.structs.asdict(HubSettings())
    quoted = re.findall(r"`((?:max|min)_\w+)` \(([\d,.]+)( MiB)?", DOC)
    assert len(quoted) >= 15
    for name, number, mib in quoted:
        value = float(number.replace(",", "")) * (1024 * 1024 if mib else 1)
        assert value == defaults[name], name
