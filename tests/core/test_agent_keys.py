"""Keys bound to machines, the allow-list that cannot be read, and a refused agent that dials
again by itself so a key allowed later connects within 5 s."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from copilot.agent import AgentRunner, AgentSession
from copilot.bus import AllowList, Bus, KeyFileError, KeyStore, Security
from copilot.protocol import MachineInfo, TagSpec
from tests.helpers import InProcessHub, Plant, free_hub_address, wait_until


def _allow(tmp_path: Path) -> AllowList:
    store = KeyStore(tmp_path)
    store.init()
    remote = KeyStore(tmp_path / "remote")
    remote.init()
    store.allow(remote.dir / "agent.key", "press-line", "agent", "press-*,cnc-01")
    other = KeyStore(tmp_path / "other")
    other.init()
    store.allow(other.dir / "agent.key", "oven-line", "agent", ["oven-0[12]"])
    store.allow(other.dir / "station.key", "panel", "station")
    return store.load_allowlist()


def test_may_speak_for_follows_bindings_and_leaves_unbound_ids_to_first_claim(
    tmp_path: Path,
) -> None:
    allow = _allow(tmp_path)
    assert allow.may_speak_for("agent:press-line", "press-7") is True
    assert allow.may_speak_for("agent:press-line", "cnc-01") is True
    assert allow.may_speak_for("agent:press-line", "cnc-02") is False  # outside its binding
    assert allow.may_speak_for("agent:oven-line", "oven-02") is True
    assert allow.may_speak_for("agent:oven-line", "oven-03") is False
    assert allow.may_speak_for("agent:agent", "press-7") is False  # bound to another key
    assert allow.may_speak_for("agent:agent", "robot-1") is None  # unbound: first claim
    assert allow.may_speak_for("station:panel", "robot-1") is False  # not an agent key
    assert allow.may_speak_for("agent:nobody", "robot-1") is False  # not admitted
    assert [k.machines for k in allow.keys if k.name == "press-line"] == [["press-*", "cnc-01"]]


def test_bindings_are_checked_when_a_key_is_allowed(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.init()
    with pytest.raises(KeyFileError, match="is not a machine id or pattern"):
        store.allow(store.dir / "agent.key", "x", "agent", "Press 1")
    with pytest.raises(KeyFileError, match="Only agent keys speak for machines"):
        store.allow(store.dir / "station.key", "y", "station", "press-1")


@pytest.mark.parametrize(
    ("content", "words"),
    [(b'{"keys": 3}', "is corrupt"), (b"{not json", "is corrupt"), (None, "cannot be read")],
)
def test_an_unusable_allow_list_is_one_sentence_and_stops_a_server(
    tmp_path: Path, content: bytes | None, words: str
) -> None:
    store = KeyStore(tmp_path)
    store.init()
    if content is None:
        store.allowed_path.unlink()
        store.allowed_path.mkdir()  # reading it fails with an OS error
    else:
        store.allowed_path.write_bytes(content)
    with pytest.raises(KeyFileError) as raised:
        store.load_allowlist()
    sentence = str(raised.value)
    assert str(store.allowed_path) in sentence and words in sentence
    assert "copilot keys allow" in sentence and sentence.count(". ") == 0
    bus = Bus(Security.from_data_path(tmp_path, "hub", False))
    try:
        with pytest.raises(KeyFileError):  # never a hub that refuses everyone as "unknown key"
            bus.router(free_hub_address())
    finally:
        bus.close()


def test_a_list_that_breaks_while_running_keeps_the_previous_one_and_says_why(
    data_dir: Path,
) -> None:
    hub = InProcessHub(data_dir)
    try:
        gate = hub.bus.gatekeeper
        assert gate is not None and gate.error is None
        admitted = len(gate.allowlist().keys)
        store = KeyStore(data_dir)
        store.allowed_path.write_bytes(b"[")
        time.sleep(0.01)  # a new modification time
        store.allowed_path.write_bytes(b"[]")
        assert len(gate.allowlist().keys) == admitted
        assert gate.error is not None and "is corrupt" in str(gate.error)
    finally:
        hub.close()


def test_keys_cli_binds_machines_and_lists_them_under_headers(plant: Plant, tmp_path: Path) -> None:
    remote = KeyStore(tmp_path / "remote")
    remote.init()

    def run(*args: str) -> tuple[int, str, str]:
        proc = plant.spawn("keys", *args)
        out, err = proc.communicate(timeout=20)
        return proc.returncode, out.decode(), err.decode()

    code, out, _ = run(
        "allow",
        str(remote.dir / "agent.key"),
        "--name",
        "press-line-2",
        "--machines",
        "press-*,oven-01",
    )
    assert code == 0 and "Allowed press-line-2 (agent) for machines press-*, oven-01" in out
    code, out, _ = run("list")
    lines = out.splitlines()
    assert lines[0].split() == ["STATUS", "NAME", "ROLE", "MACHINES", "PUBLIC", "KEY"]
    row = next(line for line in lines if "press-line-2" in line).split()
    assert row[:4] == ["allowed", "press-line-2", "agent", "press-*,oven-01"]
    assert any(line.split()[:4] == ["allowed", "cli", "station", "-"] for line in lines)
    code, _, err = run(
        "allow",
        str(remote.dir / "station.key"),
        "--name",
        "p",
        "--role",
        "station",
        "--machines",
        "press-1",
    )
    assert code == 1 and err.startswith("copilot: Only agent keys speak for machines")
    assert "Traceback" not in err


def test_an_agent_refused_at_first_connects_within_5_s_once_its_key_is_allowed(
    data_dir: Path, tmp_path: Path
) -> None:
    hub = InProcessHub(data_dir)
    remote = KeyStore(tmp_path / "remote")
    remote.init()
    shutil.copy(data_dir / "keys" / "hub.key", remote.dir / "hub.key")
    bus = Bus(Security(insecure=False, keys=remote, identity="agent"))
    session = AgentSession(
        bus,
        hub.address,
        MachineInfo(id="late-1", name="Late", kind="x"),
        [TagSpec(name="t", alias=0)],
    )
    runner = AgentRunner([session])
    runner.start()
    try:
        wait_until(lambda: session.stats.redials >= 2, 10, "refused, and dialling again")
        assert "late-1" not in hub.hub.machines
        KeyStore(data_dir).allow(remote.dir / "agent.key", "late-agent", "agent", "late-*")
        allowed = time.monotonic()
        wait_until(lambda: "late-1" in hub.hub.machines, 5, "the agent to connect and be born")
        assert time.monotonic() - allowed < 5
    finally:
        runner.request_stop()
        runner.join(5)
        bus.close()
        hub.close()
