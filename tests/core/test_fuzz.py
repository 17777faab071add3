"""Malformed and random input: never a crash, every message counted."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import msgspec
import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from copilot.bus import Bus, KeyStore, Security
from copilot.protocol import (
    SIGNATURE,
    TOPIC_HUB,
    Birth,
    Body,
    Codec,
    Command,
    CommandStatus,
    Data,
    Death,
    Header,
    Heartbeat,
    MachineInfo,
    MachinesReply,
    MachinesRequest,
    SnapshotEnd,
    SnapshotRequest,
    TagSpec,
    machine_topic,
)
from copilot.protocol.columns import pack
from copilot.settings import StationSettings
from copilot.station import LinkState, Station
from copilot.station.client import request_once
from tests.helpers import (
    CountingAgent,
    InProcessHub,
    Plant,
    RawPeer,
    StationHandle,
    allow_key,
    free_hub_address,
    wait_until,
)

BODY_TYPES = {
    "BIRTH",
    "DATA",
    "DEATH",
    "HB",
    "REBIRTH",
    "CMD",
    "CMD_STATUS",
    "CMD_QUERY",
    "SNAP_REQ",
    "SNAP_ITEM",
    "SNAP_END",
    "HIST_REQ",
    "HIST",
    "MACHINES_REQ",
    "MACHINES",
    "ERROR",
}
HEADER = msgspec.msgpack.encode(Header(src="fuzz", epoch=1, seq=1, ts=1))
binary = st.binary(max_size=64)
junk_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=8)
    | binary,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
malformed = st.one_of(
    # wrong number of frames
    st.lists(binary, min_size=1, max_size=2),
    st.lists(binary, min_size=4, max_size=6),
    # wrong protocol signature
    st.tuples(binary.filter(lambda b: b != SIGNATURE), binary, binary).map(list),
    # garbage header
    st.tuples(st.just(SIGNATURE), binary.filter(lambda b: not b.startswith(b"\x87")), binary).map(
        list
    ),
    # valid header, garbage body bytes
    st.tuples(st.just(SIGNATURE), st.just(HEADER), binary.filter(lambda b: b[:1] != b"\x80")).map(
        list
    ),
    # valid header, a map with an unknown message type
    st.tuples(
        st.just(SIGNATURE),
        st.just(HEADER),
        st.dictionaries(st.text(max_size=6), junk_values, max_size=4)
        .map(lambda d: {**d, "t": "X" + str(d.get("t"))})
        .map(msgspec.msgpack.encode),
    ).map(list),
    # valid header, a known type with fields of the wrong shape
    st.tuples(
        st.just(SIGNATURE),
        st.just(HEADER),
        st.sampled_from(["DATA", "BIRTH", "CMD", "HIST_REQ"]).map(
            lambda t: msgspec.msgpack.encode(
                {"t": t, "aliases": "nope", "machine": 5, "cmd_id": [], "tags": 3}
            )
        ),
    ).map(list),
)


def test_ten_thousand_malformed_messages_to_the_hub_are_counted_and_harmless(data_dir) -> None:
    hub = InProcessHub(data_dir)
    agent = CountingAgent(data_dir, hub.address)
    bus = Bus(Security.from_data_path(data_dir, "agent", False))
    fuzzer = bus.dealer(hub.router_ep if hasattr(hub, "router_ep") else hub.hub.router_ep)
    sent = 0
    try:
        wait_until(lambda: "mixer-1" in hub.hub.machines, 10, "agent online")

        @settings(
            max_examples=10_000,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(malformed)
        def blast(frames: list[bytes]) -> None:
            nonlocal sent
            assert fuzzer.send(frames)
            sent += 1

        blast()
        assert sent >= 10_000
        wait_until(
            lambda: hub.hub.codec.drops.total == sent,
            30,
            f"hub to count {sent} drops (counted {hub.hub.codec.drops.as_dict()})",
        )
        assert hub.hub.error is None
        reply = request_once(
            Security.from_data_path(data_dir, "cli", False), hub.address, MachinesRequest(), 3
        )
        assert isinstance(reply, MachinesReply) and reply.machines[0].state == "online"
        before = agent.count
        wait_until(
            lambda: int(hub.hub.machines["mixer-1"].table.value[0]) > before,
            5,
            "the hub to keep taking good data",
        )
    finally:
        bus.close()
        agent.close()
        hub.close()


def test_ten_thousand_malformed_updates_to_a_station_are_counted_and_harmless(data_dir) -> None:
    address = free_hub_address()
    fake = Bus(Security(insecure=True))
    router_ep, pub_ep = (
        address,
        address.rsplit(":", 1)[0] + ":" + str(int(address.rsplit(":", 1)[1]) + 1),
    )
    fake_router = fake.router(router_ep)
    fake_pub = fake.pub(pub_ep)
    codec = Codec()
    hub_epoch = time.time_ns()
    hub_seq = 0

    def publish(topic: bytes, body: Body) -> None:
        """A well-formed update from the fake hub, next in its sequence."""
        nonlocal hub_seq
        hub_seq += 1
        header = Header(
            src="hub", epoch=hub_epoch, seq=0, ts=time.time_ns(), hub_epoch=hub_epoch,
            hub_seq=hub_seq,
        )  # fmt: skip
        fake_pub.send([topic, *codec.frames(header, body)])

    bus = Bus(Security(insecure=True))
    station = Station(bus, address, StationSettings())
    station.start()
    try:
        asked: list[list[bytes]] = []
        wait_until(lambda: (f := fake_router.recv()) is not None and asked.append(f) is None, 10)
        rng = __import__("random").Random(7)
        sent = 0
        # a subscriber joins late: send until it sees something, then the real flood
        for _ in range(100):  # the subscription takes a moment: probe one message at a time
            fake_pub.send([b"h/", b"probe"])
            try:
                wait_until(lambda: station._codec.drops.total > 0, 0.2, "probe")
                break
            except AssertionError:
                continue

        def answer_snapshots() -> bool:
            """Answer every snapshot request so far with an empty snapshot; whether it is live."""
            while (more := fake_router.recv()) is not None:
                asked.append(more)
            while asked:
                identity, *request = asked.pop(0)
                decoded = codec.decode(request)
                assert decoded is not None and isinstance(decoded[1], SnapshotRequest)
                end = SnapshotEnd(hub_epoch=hub_epoch, hub_seq=0, request_id=decoded[1].request_id)
                header = Header(
                    src="hub", epoch=hub_epoch, seq=0, ts=time.time_ns(), hub_epoch=hub_epoch
                )
                assert fake_router.send([identity, *codec.frames(header, end)]), "not routed"
            return station.state == LinkState.LIVE

        wait_until(answer_snapshots, 15, "the station live on the fake hub")
        base = station._codec.drops.total
        for i in range(10_000):
            kind = i % 4
            if kind == 0:
                frames = [b"m/x/", rng.randbytes(rng.randrange(0, 40))]
            elif kind == 1:
                frames = [b"m/x/", SIGNATURE, rng.randbytes(20), rng.randbytes(20)]
            elif kind == 2:
                frames = [b"m/x/", b"COPX", HEADER, b"\x80"]
            else:
                frames = [b"m/x/", SIGNATURE, HEADER, rng.randbytes(30).replace(b"\x80", b"\x00")]
            fake_pub.send(frames)
            sent += 1
            if sent % 500 == 0:  # PUB drops silently at its high-water mark: go in steps
                wait_until(lambda n=sent: station._codec.drops.total - base == n, 10, "a step")
                publish(TOPIC_HUB, Heartbeat())  # the hub's heartbeat keeps the link live
        assert station._codec.drops.total - base == sent
        assert station.error is None and station._thread is not None
        assert station._thread.is_alive()
        # Still live and still applying: the next well-formed update shows, with no gap.
        birth = Birth(
            machine=MachineInfo(id="after-1", name="After", kind="x"),
            tags=[TagSpec(name="t", alias=0)],
        )
        publish(machine_topic("after-1"), birth)
        wait_until(lambda: "after-1" in station.store.machine_ids(), 10, "a BIRTH after the flood")
        assert station.state == LinkState.LIVE
        assert station.stats.gaps == 0 and station.stats.resyncs == 0
        assert station.hub_seq == hub_seq
    finally:
        station.stop()
        bus.close()
        fake.close()


# -- past the decoder: well-formed, hostile messages from an admitted key ----------------------

VICTIM = "mixer-1"
FORGED = -1234.5  # never a value the real agent sends (its counter and temperature are positive)


def hostile(victim_epoch: int) -> st.SearchStrategy[tuple[Header, Body]]:
    """Well-formed messages an attacker with an agent key would send about another's machine."""
    epochs = st.sampled_from([victim_epoch, victim_epoch + 1, victim_epoch - 1, 2**64 - 1, 1])
    seqs = st.one_of(st.integers(0, 10), st.just(2**64 - 1), st.integers(0, 2**63))
    stamps = st.sampled_from([0, 1, 2**63 - 1]) | st.just(None)
    tags = st.lists(
        st.builds(
            TagSpec,
            name=st.sampled_from(["count", "temp", "fake"]),
            alias=st.integers(0, 10_000),
        ),
        min_size=1,
        max_size=3,
        unique_by=(lambda t: t.name, lambda t: t.alias),
    )

    def data(n: int, ts: int | None) -> Data:
        when = time.time_ns() if ts is None else ts
        return pack(
            np.arange(n) % 2, np.full(n, FORGED), np.full(n, when, dtype=np.int64), None, {}
        )

    bodies = st.one_of(
        st.just(Heartbeat()),
        st.builds(
            Birth,
            machine=st.just(MachineInfo(id=VICTIM, name="Mixer-1", kind="mixer")),
            tags=tags,
            heartbeat_ms=st.sampled_from([0, 1, 1000, 10**12]),
        ),
        st.builds(data, st.integers(1, 50), stamps),
        st.just(Death(reason="shutdown")),
        st.builds(
            CommandStatus,
            cmd_id=st.text("abc", min_size=1, max_size=4),
            machine=st.just(VICTIM),
            state=st.sampled_from(["COMPLETED", "FAILED", "EXECUTING"]),
            message=st.just("forged"),
        ),
    )
    headers = st.builds(
        lambda epoch, seq: Header(src=VICTIM, epoch=epoch, seq=seq, ts=time.time_ns()),
        epochs,
        seqs,
    )
    return st.tuples(headers, bodies)


def test_well_formed_hostile_messages_from_an_admitted_key_change_nothing(
    plant: Plant, data_dir: Path, tmp_path: Path
) -> None:
    Security.from_data_path(data_dir, "hub", False)
    intruder_keys = KeyStore(tmp_path / "intruder")
    intruder_keys.init()
    shutil.copy(data_dir / "keys" / "hub.key", intruder_keys.dir / "hub.key")
    allow_key(plant, intruder_keys.dir / "agent.key", "intruder", "agent")
    plant.hub()
    agent = CountingAgent(data_dir, plant.address)  # claims mixer-1 first
    handle = StationHandle(plant.security("station"), plant.address, StationSettings())
    intruder = RawPeer(
        Security(insecure=False, keys=intruder_keys, identity="agent"), plant.address
    )
    try:
        station = handle.wait_live()
        wait_until(lambda: station.store.sample_count(VICTIM, "count") > 5, 15, "mixer streaming")
        [machine] = station.store.machines()
        codec = Codec()
        sent = 0

        @settings(
            max_examples=400,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(hostile(machine.epoch))
        def blast(message: tuple[Header, Body]) -> None:
            nonlocal sent
            intruder.send_frames(codec.frames(*message))
            intruder.drain()
            sent += 1

        blast()
        assert sent >= 400
        start = station.store.sample_count(VICTIM, "count")
        wait_until(  # barrier: the forgeries went in before these
            lambda: station.store.sample_count(VICTIM, "count") >= start + 20,
            15,
            "the real agent's samples after the forgeries",
        )
        [after] = [m for m in station.store.machines() if m.info.id == VICTIM]
        assert after.epoch == machine.epoch and after.online
        assert [t.name for t in after.tags] == ["count", "temp"]
        for tag in ("count", "temp"):
            _t, v = station.store.window(VICTIM, tag)
            assert FORGED not in v, f"a forged {tag} value reached the station"
        assert not any(s.message == "forged" for s in station.store.commands.values())
        assert intruder.bodies(Command) == []
        assert [m.state for m in plant.machines().machines if m.id == VICTIM] == ["online"]
    finally:
        intruder.close()
        handle.close()
        agent.close()
