"""First claims over real processes: kept in ``hub.db``, through a kill -9 of the hub."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

from copilot.bus import KeyStore, Security
from copilot.hub.claims import ClaimBook
from copilot.protocol import Birth, MachineInfo, TagSpec
from copilot.storage import open_database
from tests.helpers import Plant, RawPeer, allow_key, drops, hub_status, wait_counted, wait_until


def _birth(mid: str) -> Birth:
    return Birth(
        machine=MachineInfo(id=mid, name=mid.title(), kind="x"),
        tags=[TagSpec(name="temp", alias=0)],
        heartbeat_ms=1000,
    )


def _claims_on_disk(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    conn = open_database(path)
    try:
        return {str(m): str(k) for m, k in conn.execute("SELECT machine, key FROM claims")}
    finally:
        conn.close()


def test_a_first_claim_on_disk_survives_a_hub_killed_at_once(
    plant: Plant, data_dir: Path, tmp_path: Path
) -> None:
    Security.from_data_path(data_dir, "hub", False)  # this host's keys, the local ones admitted
    other = KeyStore(tmp_path / "other")  # a second unbound agent key, from another host
    other.init()
    shutil.copy(data_dir / "keys" / "hub.key", other.dir / "hub.key")
    allow_key(plant, other.dir / "agent.key", "other", "agent")
    hub = plant.hub()
    owner = RawPeer(plant.security("agent"), plant.address)
    try:
        owner.send(_birth("m1"), src="m1", epoch=time.time_ns(), seq=0)
        wait_until(lambda: "m1" in {m.id for m in plant.machines().machines}, 10, "m1 online")
        owner_key = next(p["key"] for p in hub_status(plant)["peers"] if "m1" in p["machines"])
        wait_until(lambda: _claims_on_disk(data_dir / "hub.db").get("m1") == owner_key, 10)
    finally:
        owner.close()
    hub.send_signal(signal.SIGKILL)  # no shutdown: only what was committed counts
    hub.wait(10)
    plant.hub()
    intruder = RawPeer(Security(insecure=False, keys=other, identity="agent"), plant.address)
    try:
        intruder.send(_birth("m1"), src="m1", epoch=time.time_ns(), seq=0)
        seen = wait_counted(plant, "foreign_machine", peer="agent:other")
        assert drops(seen, "foreign_machine", peer="agent:other") >= 1
        assert "m1" not in {m.id for m in plant.machines().machines}
        intruder.send(_birth("m2"), src="m2", epoch=time.time_ns(), seq=0)  # a free id it may
        wait_until(lambda: "m2" in {m.id for m in plant.machines().machines}, 10, "m2 online")
    finally:
        intruder.close()
    assert _claims_on_disk(data_dir / "hub.db") == {"m1": owner_key, "m2": "agent:other"}


def test_a_hub_database_from_a_newer_release_stops_the_hub_with_one_sentence(
    plant: Plant, data_dir: Path
) -> None:
    Security.from_data_path(data_dir, "hub", False)
    ClaimBook(data_dir / "hub.db").close()
    conn = open_database(data_dir / "hub.db")
    conn.execute("UPDATE schema_version SET version = 99")
    conn.close()
    proc = plant.spawn("hub", "--bind", plant.address)
    _out, err = proc.communicate(timeout=30)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1, err
    assert len(lines) == 1 and "newer version" in lines[0] and "hub.db" in lines[0], lines
