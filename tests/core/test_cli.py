"""The command line at the edges: one clear sentence and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import Plant, free_hub_address, wait_until


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
    code, _, err = finish(plant.spawn("hub", "--bind", free_hub_address()))
    assert code == 1
    sentence = one_sentence(err)
    assert "Another hub is already running" in sentence and str(first.pid) in sentence


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


# -- bad command lines: a table ------------------------------------------------------------------
#
# Each row is a command line a person might type, run as a real ``copilot`` process with its
# own data folder and a free port. Each must exit non-zero with exactly one line on stderr that
# starts with "copilot: " and says what is wrong (no usage block, no "try:" line, no traceback),
# before it has started any hub or plant.

COPILOT = Path(sys.executable).with_name("copilot")  # the console script, as a person runs it
EXAMPLE_FAULTS = Path(__file__).resolve().parents[2] / "copilot" / "sim" / "faults.example.toml"

FILES = {
    "bad-kind.toml": '[[fault]]\nmachine = "cnc-01"\nfault = "explosion"\nonset_s = 1\n',
    "bad-onset.toml": '[[fault]]\nmachine = "cnc-01"\nfault = "overheating"\nonset_s = -5\n',
    "broken.toml": "[[fault]\n",
    "mixer.toml": '[[fault]]\nmachine = "mixer-01"\nfault = "jam"\nonset_s = 1\n',
    "misfit.toml": '[[fault]]\nmachine = "cnc-01"\nfault = "jam"\nonset_s = 1\n',
    "typo.toml": '[[fault]]\nmachine = "cnc-01"\nfault = "jam"\nonset_s = 1\nsevertiy = 1\n',
    "scenario.toml": '[[event]]\nat_s = 1\naction = "kill_agent"\nmachine = "oven-09"\n',
    "rate0.toml": "[sim]\nrate_hz = 0\n",
    "badtype.toml": '[sim]\nmachines = "many"\n',
    "badport.toml": '[hub]\nbind = "tcp://127.0.0.1:70000"\n',
    "a-file": "",
}

# (command line, what stderr must say, exit status); {hub} is a free address, {dir} the folder
# holding FILES, {missing} a file that does not exist; "env:NAME=VALUE" items set variables.
BAD_COMMAND_LINES = [
    ("sim --rate 0 --hub {hub}", "--rate: must be more than 0 samples per second, not 0", 2),
    ("sim --rate -1 --hub {hub}", "--rate: must be more than 0 samples per second, not -1", 2),
    ("sim --rate fast --hub {hub}", "--rate: 'fast' is not a number", 2),
    ("sim --rate inf --hub {hub}", "--rate: must be more than 0", 2),
    ("sim --machines -3 --hub {hub}", "--machines: must be 0 or more, not -3", 2),
    ("sim --machines 2.5 --hub {hub}", "--machines: '2.5' is not a whole number", 2),
    ("sim --tags-per-machine -1 --hub {hub}", "--tags-per-machine: must be 0 or more", 2),
    ("sim --bogus", "unrecognized arguments: --bogus", 2),
    ("machines --timeout 0 --hub {hub}", "--timeout: must be more than 0 seconds", 2),
    ("demo --headless --quit-after -1", "--quit-after: must be more than 0 seconds", 2),
    ("keys frobnicate", "invalid choice: 'frobnicate'", 2),
    ("hub --alarms /nonexistent/site.toml", "Alarm config /nonexistent/site.toml cannot be", 1),
    ("demo --headless --alarms /nonexistent/a.toml", "Alarm config /nonexistent/a.toml", 1),
    ("alarms ack --hub {hub}", "Name the alarms to ack", 2),
    ("alarms shelve x/y/hi --hub {hub}", "Say why with --note", 2),
    ("alarms shelve x/y/hi --note n --for soon --hub {hub}", "--for 'soon' is not a duration", 2),
    ("alarms report --since yesterday", "--since 'yesterday' is not a time", 2),
    ("alarms report --stale-h 0", "stale_s must be positive", 2),
    ("alarms list extra --hub {hub}", "copilot alarms list takes no ids", 2),
    ("", "the following arguments are required: COMMAND", 2),
    (
        "hub --bind tcp://127.0.0.1:99999",
        "'tcp://127.0.0.1:99999' (--bind or hub.bind) has a port",
        1,
    ),
    ("hub --bind tcp://127.0.0.1:65535", "port out of range: use 1 to 65534", 1),
    ("hub --bind localhost:7700", "must start with tcp:// or ipc://", 1),
    ("machines --hub tcp://127.0.0.1:99999", "has a port out of range", 1),
    ("machines --hub tcp://127.0.0.1", "needs a host and a port", 1),
    ("sim --hub tcp://127.0.0.1:0", "has a port out of range", 1),
    ("station --headless --hub http://127.0.0.1:7700", "must start with tcp:// or ipc://", 1),
    ("demo --bind tcp://127.0.0.1:123456", "has a port out of range", 1),
    ("demo --headless --bind {hub} --view machine:nope", "the plant has no machine 'nope'", 1),
    ("demo --bind {hub} --view machine:nope", "its machines are cnc-01, press-01", 1),
    ("demo --headless --bind {hub} --view trend:cnc-01/nope", "cnc-01 has no tag 'nope'", 1),
    ("demo --bind {hub} --view sideways", "'sideways' is not a view", 1),
    ("station --hub {hub} --view machine:", "'machine:' is not a view", 1),
    ("demo --offscreen --bind {hub} --screenshot {dir}/x.gif", "name a .png", 1),
    ("station --offscreen --screenshot {missing}/x.png", "does not exist or is not writable", 1),
    ("env:QT_QPA_PLATFORM=xcb env:DISPLAY=:4711 demo --bind {hub}", "no X server answers", 1),
    ("env:QT_QPA_PLATFORM=xcb env:DISPLAY=:4711 station --hub {hub}", "DISPLAY=:4711", 1),
    ("sim --hub {hub} --faults {missing}", "cannot be read", 1),
    ("sim --hub {hub} --faults {dir}/broken.toml", "is not valid TOML", 1),
    ("sim --hub {hub} --faults {dir}/bad-kind.toml", "unknown fault kind 'explosion'", 1),
    ("sim --hub {hub} --faults {dir}/bad-onset.toml", "onset_s must be 0 or more", 1),
    ("sim --hub {hub} --faults {dir}/typo.toml", "severtiy", 1),
    ("sim --hub {hub} --faults {dir}/mixer.toml", "no machine 'mixer-01' in this plant", 1),
    ("sim --hub {hub} --faults {dir}/misfit.toml", "jam does not apply to a cnc machine", 1),
    ("demo --headless --bind {hub} --faults {dir}/bad-kind.toml", "unknown fault kind", 1),
    ("demo --bind {hub} --faults {dir}/broken.toml", "is not valid TOML", 1),
    ("demo --headless --bind {hub} --scenario {dir}/scenario.toml", "no machine 'oven-09'", 1),
    ("demo --headless --bind {hub} --scenario {missing}", "Cannot read scenario", 1),
    ("env:COPILOT_CONFIG={dir}/rate0.toml sim --hub {hub}", "(--rate, sim.rate_hz) must be", 1),
    ("env:COPILOT_CONFIG={dir}/badtype.toml sim --hub {hub}", "badtype.toml: Expected `int`", 1),
    ("env:COPILOT_CONFIG={dir}/badport.toml hub", "'tcp://127.0.0.1:70000'", 1),
    ("env:COPILOT_CONFIG={missing} machines --hub {hub}", "which does not exist", 1),
    ("env:COPILOT_SIM__MACHINES=-2 sim --hub {hub}", "(--machines, sim.machines)", 1),
    ("env:COPILOT_NOPE__X=1 machines --hub {hub}", "no settings section named 'nope'", 1),
    ("env:COPILOT_DATA_DIR={dir}/a-file machines --hub {hub}", "is a file", 1),
    ("env:COPILOT_DATA_DIR={dir}/a-file/sub keys show", "Cannot create the data folder", 1),
]


def run_copilot(command: str, files: Path, data_dir: Path, timeout: float = 30) -> tuple[int, str]:
    words = command.format(
        hub=free_hub_address(), dir=files, missing=files / "missing.toml"
    ).split()
    env = {
        **os.environ,
        "COPILOT_DATA_DIR": str(data_dir),
        "COPILOT_CONFIG": str(files / "none.toml"),
        "COPILOT_HUB": free_hub_address(),  # never the default port, whatever the row says
    }
    while words and words[0].startswith("env:"):
        name, _, value = words.pop(0)[4:].partition("=")
        env[name] = value
    proc = subprocess.run(
        [str(COPILOT), *words],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    assert proc.stdout == b"", proc.stdout
    return proc.returncode, proc.stderr.decode()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-files")
    for name, text in {**FILES, "none.toml": ""}.items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize(("command", "says", "status"), BAD_COMMAND_LINES)
def test_bad_command_line_is_one_line(
    command: str, says: str, status: int, files: Path, tmp_path: Path
) -> None:
    code, err = run_copilot(command, files, tmp_path / "data")
    lines = err.splitlines()
    assert len(lines) == 1, err  # exactly one line: no usage block, no "try:", no traceback
    assert lines[0].startswith("copilot: "), err
    assert says in lines[0], err
    assert code == status, err


def test_every_flag_has_help() -> None:
    from copilot.cli import build_parser

    parser = build_parser()
    missing: list[str] = []
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in [("copilot", parser), *commands.items()]:
        for action in sub._actions:
            if not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_port_in_use_stops_the_demo_after_one_sentence(plant: Plant) -> None:
    host, port = plant.address.removeprefix("tcp://").rsplit(":", 1)
    with socket.socket() as blocker:
        blocker.bind((host, int(port)))
        blocker.listen()
        code, out, err = finish(plant.spawn("demo", "--headless", "--bind", plant.address))
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        f"copilot: Cannot start the demo's hub on {plant.address}: port {port} is already in "
        "use (another demo or hub?); stop it or choose another address with --bind."
    ]


def test_a_hub_that_cannot_start_is_the_demos_last_word(plant: Plant) -> None:
    first = plant.hub()  # holds the data folder's hub lock
    code, out, err = finish(plant.spawn("demo", "--headless", "--bind", free_hub_address()))
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # the hub's own sentence, nothing after it
    assert "Another hub is already running" in lines[0] and str(first.pid) in lines[0]


def test_example_faults_fit_a_small_plant(plant: Plant) -> None:
    plant.hub()
    sim = plant.sim("--machines", "3", "--faults", str(EXAMPLE_FAULTS))
    wait_until(lambda: len(plant.machines().machines) == 3, 15, "three machines")
    sim.send_signal(signal.SIGTERM)
    code, _, err = finish(sim)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, err
    assert (
        "skipped 5 entries for machines this 3-machine plant does not have: 1 (cnc-02), "
        "3 (compressor-01), 5 (oven-01), 7 (robot-01), 8 (press-02)." in warnings[0]
    )
    assert "Traceback" not in err


def test_headless_demo_says_the_window_flags_are_ignored(plant: Plant) -> None:
    demo = plant.spawn(
        "demo", "--headless", "--bind", plant.address, "--view", "machine:oven-01", "--kiosk"
    )
    plant.wait_hub()
    demo.send_signal(signal.SIGTERM)
    code, _, err = finish(demo)
    assert code == 0, err
    assert err.splitlines()[0] == (
        "copilot: note: --view and --kiosk are ignored with --headless (there is no window)."
    )


def test_machines_prints_column_headers(plant: Plant) -> None:
    plant.hub()
    sim = plant.sim("--machines", "2")
    wait_until(lambda: len(plant.machines().machines) == 2, 15, "two machines")
    code, out, _ = finish(plant.spawn("machines", "--hub", plant.address))
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "STATE", "KIND", "LINE", "NAME"]
    assert [row.split()[0] for row in rows] == ["cnc-01", "press-01"]
    sim.send_signal(signal.SIGKILL)


def test_missing_xcb_library_is_named_with_its_package() -> None:
    from copilot.display import XCB_LIBRARIES, uses_xcb, xcb_problem

    x11 = {"DISPLAY": ":4711"}  # no X server there
    fake = {"libc.so.6": "libc6", "libnot-here.so.9": "libnot-here9"}
    assert xcb_problem(x11, libraries=fake) == (
        "The station window cannot open: Qt's X11 (xcb) plugin needs libnot-here.so.9, missing "
        "here; install with 'sudo apt-get install libnot-here9' (or 'make system-packages'), "
        "or run with --offscreen or --headless."
    )
    assert xcb_problem(x11, offscreen=True, libraries=fake) is None
    assert xcb_problem({"QT_QPA_PLATFORM": "offscreen"}, libraries=fake) is None
    assert xcb_problem(x11, libraries={"libc.so.6": "libc6"}) == (
        "The station window cannot open: no X server answers at DISPLAY=:4711 (is it running, "
        "and may this user use it?); run with --offscreen or --headless without one."
    )
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"}, offscreen=False)
    assert not uses_xcb({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, offscreen=False)
    assert not uses_xcb({}, offscreen=False)
    # The Makefile installs exactly the packages that hold these libraries.
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    block = makefile.split("QT_PACKAGES :=", 1)[1].split("\n# ", 1)[0]
    assert set(block.replace("\\", " ").split()) == set(XCB_LIBRARIES.values())


def test_station_view_of_a_machine_the_hub_does_not_know(plant: Plant) -> None:
    plant.hub()
    sim = plant.sim("--machines", "2")
    wait_until(lambda: len(plant.machines().machines) == 2, 15, "two machines")
    station = plant.spawn("station", "--hub", plant.address, "--view", "machine:nope")
    code, out, err = finish(station)
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        f"copilot: --view 'machine:nope': the plant has no machine 'nope'; the hub at "
        f"{plant.address} knows cnc-01, press-01."
    ]
    sim.send_signal(signal.SIGKILL)
