"""The command line at the edges: one clear sentence and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.helpers import Plant, wait_until


def finish(proc: subprocess.Popen[bytes], timeout: float = 15) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(), err.decode()


def one_sentence(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("copilot: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    return lines[0]


def test_port_in_use_is_one_sentence(plant: Plant) -> None:
    _host, port = plant.address.rsplit(":", 1)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(port)))
        blocker.listen()
        code, _, err = finish(plant.spawn("hub", "--bind", plant.address))
    assert code == 1
    assert "already in use" in one_sentence(err)


def test_second_hub_on_the_same_data_folder_is_refused(plant: Plant) -> None:
    first = plant.hub()
    other = Plant(plant.data_dir, plant.address.rsplit(":", 1)[0] + ":1")
    from tests.helpers import free_hub_address

    code, _, err = finish(plant.spawn("hub", "--bind", free_hub_address()))
    assert code == 1
    sentence = one_sentence(err)
    assert "Another hub is already running" in sentence and str(first.pid) in sentence
    del other


def test_missing_or_corrupt_key_file_is_one_sentence(plant: Plant) -> None:
    plant.hub()
    (plant.data_dir / "keys" / "agent.key_secret").unlink()
    code, _, err = finish(plant.sim("--machines", "1"))
    assert code == 1
    assert "agent.key_secret is missing" in one_sentence(err)
    (plant.data_dir / "keys" / "station.key_secret").write_text("not a key\n")
    code, _, err = finish(plant.spawn("station", "--headless", "--hub", plant.address))
    assert code == 1
    assert "does not hold a valid CurveZMQ key pair" in one_sentence(err)


def test_machines_without_a_hub_says_so_and_exits_2(plant: Plant) -> None:
    started = time.monotonic()
    code, out, err = finish(
        plant.spawn("machines", "--json", "--hub", plant.address, "--timeout", "1")
    )
    assert code == 2 and out == ""
    assert f"No hub answered at {plant.address} within 1 s." in one_sentence(err)
    assert time.monotonic() - started < 10


def test_machines_json_lists_every_machine_with_its_state(plant: Plant) -> None:
    plant.hub()
    sim = plant.sim("--machines", "6", "--rate", "5")
    wait_until(lambda: len(plant.machines().machines) == 6, 15, "six machines")
    code, out, _ = finish(plant.spawn("machines", "--json", "--hub", plant.address))
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 6
    assert set(rows[0]) == {"id", "name", "kind", "line", "area", "state"}
    assert {r["kind"] for r in rows} == {"cnc", "press", "conveyor", "compressor", "oven", "robot"}
    assert all(r["state"] in {"running", "idle", "setup", "fault", "maintenance"} for r in rows)
    sim.send_signal(signal.SIGKILL)
    wait_until(
        lambda: all(m.state == "offline" for m in plant.machines().machines), 6, "machines offline"
    )
    code, out, _ = finish(plant.spawn("machines", "--json", "--hub", plant.address))
    assert {r["state"] for r in json.loads(out)} == {"offline"}


def test_keys_allow_list_and_revoke(plant: Plant, tmp_path: Path) -> None:
    from copilot.bus import KeyStore

    remote = KeyStore(tmp_path / "remote")
    remote.init()
    code, out, _ = finish(
        plant.spawn(
            "keys",
            "allow",
            str(remote.dir / "agent.key"),
            "--name",
            "press-line-2",
            "--role",
            "agent",
        )
    )
    assert code == 0 and "Allowed press-line-2 (agent)" in out
    code, out, _ = finish(plant.spawn("keys", "list"))
    assert "allowed  press-line-2" in out
    code, out, _ = finish(plant.spawn("keys", "revoke", "press-line-2"))
    assert code == 0
    code, out, _ = finish(plant.spawn("keys", "list"))
    assert "revoked  press-line-2" in out
    code, _, err = finish(plant.spawn("keys", "revoke", "nobody"))
    assert code == 1 and "No admitted key is named 'nobody'" in one_sentence(err)
    code, out, _ = finish(plant.spawn("keys", "export"))
    assert code == 0 and "public-key" in out


def test_demo_scenario_kills_an_agent_and_the_hub_sees_it(plant: Plant, tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text('[[event]]\nat_s = 1\naction = "kill_agent"\nmachine = "oven-01"\n')
    demo = plant.spawn("demo", "--headless", "--bind", plant.address, "--scenario", str(scenario))
    plant.wait_hub()
    wait_until(
        lambda: {m.id: m.state for m in plant.machines().machines}.get("oven-01") == "offline",
        15,
        "oven-01 offline after its agent was killed",
    )
    assert sum(m.state != "offline" for m in plant.machines().machines) == 11
    demo.send_signal(signal.SIGTERM)
    assert demo.wait(5) == 0


def test_bad_scenario_is_one_sentence(plant: Plant, tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text('[[event]]\nat_s = 1\naction = "explode"\n')
    code, _, err = finish(plant.spawn("demo", "--headless", "--scenario", str(scenario)))
    assert code == 1
    assert "explode" in one_sentence(err)
