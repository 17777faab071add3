"""The wire format: round trips, validation, and topic prefixes that never collide."""

from __future__ import annotations

import time

import msgspec
import pytest

from copilot.bus import Bus, Poller, Security
from copilot.protocol import (
    ArgSpec,
    Birth,
    Codec,
    Command,
    CommandSpec,
    CommandStatus,
    Header,
    Limits,
    MachineInfo,
    Quality,
    Range,
    TagSpec,
    machine_topic,
    quality_label,
    severity_of,
)
from copilot.protocol.columns import ColumnError, pack_values, unpack


def header(seq: int = 0) -> Header:
    return Header(src="press-01", epoch=7, seq=seq, ts=time.time_ns())


BIRTH = Birth(
    machine=MachineInfo(id="press-01", name="Press 1", kind="injection_press", line="line-1"),
    tags=[
        TagSpec(
            name="barrel_temp",
            alias=0,
            unit="°C",
            eng_range=Range(0, 400),
            normal=Range(200, 240),
            limits=Limits(hi=250, hihi=260),
            deadband=1.0,
            key=True,
        ),
        TagSpec(name="state", alias=1, type="enum", labels=["running", "idle"]),
    ],
    commands=[
        CommandSpec(
            name="set_setpoint", args=[ArgSpec(name="value", unit="°C", range=Range(180, 260))]
        )
    ],
)


@pytest.mark.parametrize(
    "body",
    [
        BIRTH,
        pack_values([0, 1, 0, 2], [221.5, 0, None, "job 7"], [1, 2, 3, 4], [0, 0, 0x84, 0]),
        Command(cmd_id="abc", machine="press-01", name="start", not_after=10, origin="voice"),
        CommandStatus(
            cmd_id="abc",
            machine="press-01",
            state="REJECTED",
            cause="interlock",
            message="Press 1 cannot start: guard door open",
        ),
    ],
)
def test_every_body_survives_a_round_trip(body: object) -> None:
    codec = Codec()
    frames = codec.frames(header(), body)  # type: ignore[arg-type]
    decoded = codec.decode(frames)
    assert decoded is not None
    assert decoded[1] == body
    assert codec.drops.total == 0


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([b"COP1", b"x"], "frame_count"),
        ([b"COP2", msgspec.msgpack.encode(header()), b"\x80"], "signature"),
        ([b"COP1", b"\xc1", b"\x80"], "header"),
        ([b"COP1", msgspec.msgpack.encode({"src": 1}), b"\x80"], "header"),
        (
            [b"COP1", msgspec.msgpack.encode(header()), msgspec.msgpack.encode({"t": "NOPE"})],
            "body",
        ),
        (
            [
                b"COP1",
                msgspec.msgpack.encode(header()),
                msgspec.msgpack.encode({"t": "DATA", "aliases": "x", "values": [], "ts": []}),
            ],
            "body",
        ),
        (
            [b"COP1", msgspec.msgpack.encode({**msgspec.to_builtins(header()), "v": 9}), b"\x80"],
            "version",
        ),
    ],
)
def test_malformed_messages_are_counted_by_reason_and_never_raise(
    frames: list[bytes], reason: str
) -> None:
    codec = Codec()
    assert codec.decode(frames) is None
    assert codec.drops.as_dict() == {reason: 1}


def test_quality_codes_carry_severity_and_reason() -> None:
    assert severity_of(Quality.BAD_STALE).name == "BAD"
    assert quality_label(Quality.BAD_STALE) == "Bad (stale)"
    assert quality_label(Quality.UNCERTAIN_COMM_LOST) == "Uncertain (comm_lost)"
    assert quality_label(Quality.GOOD) == "Good"


def test_topic_of_press1_never_matches_press10(data_dir: object) -> None:
    bus = Bus(Security(insecure=True))
    try:
        pub = bus.pub("inproc://topics")
        sub = bus.sub("inproc://topics")
        sub.subscribe(machine_topic("press1"))
        poller = Poller([sub])
        deadline = time.monotonic() + 5
        got: list[bytes] = []
        while time.monotonic() < deadline and not got:
            pub.send([machine_topic("press10"), b"ten"])
            pub.send([machine_topic("press1"), b"one"])
            if poller.poll(0.05):
                while (msg := sub.recv()) is not None:
                    got.append(msg[1])
        assert got and set(got) == {b"one"}
    finally:
        bus.close()


def test_data_columns_round_trip_and_ragged_columns_are_refused() -> None:
    body = pack_values([3, 1], [2.5, "text"], [10, 20], [0, 0x41])
    aliases, values, ts, quality = unpack(body)
    assert aliases.tolist() == [3, 1] and values[0] == 2.5 and ts.tolist() == [10, 20]
    assert quality is not None and quality.tolist() == [0, 0x41]
    assert body.text == {1: "text"}
    ragged = msgspec.structs.replace(body, values=body.values[:8])
    with pytest.raises(ColumnError):
        unpack(ragged)
