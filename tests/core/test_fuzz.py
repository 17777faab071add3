"""Malformed and random input: never a crash, every message counted."""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from copilot.bus import Bus, Security
from copilot.protocol import SIGNATURE, Header, MachinesReply, MachinesRequest
from copilot.settings import StationSettings
from copilot.station import LinkState, Station
from copilot.station.client import request_once
from tests.helpers import CountingAgent, InProcessHub, free_hub_address, wait_until

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
    bus = Bus(Security(insecure=True))
    station = Station(bus, address, StationSettings())
    station.start()
    try:
        wait_until(lambda: fake_router.recv() is not None, 10, "station asks for a snapshot")
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
        assert station._codec.drops.total - base == sent
        assert station.error is None and station._thread is not None
        assert station._thread.is_alive()
        assert station.state != LinkState.LIVE  # it never pretends to have a live picture
    finally:
        station.stop()
        bus.close()
        fake.close()
