"""The command gate under faults, on real processes: replays, lost answers, crashes, clocks.

Each test says what the machine actually did (an actuation count kept by the agent or the
simulator's own state), not only what the hub answered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from copilot.protocol import (
    Command,
    CommandRequest,
    CommandStatus,
    Header,
    Login,
    Session,
)
from copilot.station import Station
from tests.helpers import (
    ROOT,
    GatedAgent,
    Plant,
    RawPeer,
    add_person,
    login,
    other_station_security,
    settled,
    wait_until,
)


@pytest.fixture
def hub(plant: Plant) -> Plant:
    add_person(plant.data_dir, "ana", "Operator", "1111")
    plant.hub()
    return plant


@pytest.fixture
def agent(hub: Plant) -> Iterator[GatedAgent]:
    a = GatedAgent(hub)
    yield a
    a.close()


def live(station: Station, machine: str = "press-1") -> Station:
    wait_until(lambda: machine in station.store.machine_ids(), 15, f"{machine} known")
    wait_until(lambda: station.store.reading(machine, "state").good, 15, "live values")
    return station


def online(station: Station, machine: str) -> bool:
    return any(m.info.id == machine and m.online for m in station.store.machines())


def raw_session(peer: RawPeer) -> Session:
    peer.send(Login(user="ana", secret="1111", request_id=1), src="station:raw", epoch=1, seq=1)
    wait_until(lambda: peer.bodies(Session), 10, "a session for the raw peer")
    return peer.bodies(Session)[0]


def test_replayed_request_bytes_never_actuate_twice(
    hub: Plant, agent: GatedAgent, stations: Callable[..., Station]
) -> None:
    live(stations())
    peer = RawPeer(hub.security("station"), hub.address)
    try:
        session = raw_session(peer)
        request = CommandRequest(
            token=session.token,
            cmd_id="replayed-1",
            machine="press-1",
            name="stop",
            not_after=time.time_ns() + 10**10,
            origin="touch",
        )
        header = Header(src="station:raw", epoch=1, seq=2, ts=time.time_ns())
        frames = peer.codec.frames(header, request)  # the exact bytes, sent three times
        for _ in range(3):
            peer.send_frames(frames)
        wait_until(
            lambda: any(s.state == "COMPLETED" for s in peer.bodies(CommandStatus)), 10, "done"
        )
        peer.send_frames(frames)  # and once more after it completed
        wait_until(lambda: len(peer.bodies(CommandStatus)) >= 5, 10, "every send answered")
        assert agent.count("stop") == 1
        assert {s.state for s in peer.bodies(CommandStatus)} <= {
            "SENT",
            "ACCEPTED",
            "EXECUTING",
            "COMPLETED",
        }
    finally:
        peer.close()


def test_a_lost_answer_is_asked_for_and_the_command_runs_once(
    hub: Plant, agent: GatedAgent, stations: Callable[..., Station]
) -> None:
    live(stations())
    env = {"COPILOT_PIN": "1111"}
    cli = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "copilot",
            "command",
            "send",
            "--hub",
            hub.address,
            "--user",
            "ana",
            "--machine",
            "press-1",
            "--command",
            "slow",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, **env},
    )
    assert cli.stdout is not None
    first = cli.stdout.readline().decode()  # "<cmd_id>: sent (tier 1)"
    cmd_id = first.split(":")[0]
    assert first.endswith("sent (tier 1)\n"), first
    # The hub has it once the client says where it stands (a kill right after "sent" could
    # lose the request in the client's own socket: then nothing was sent at all).
    second = cli.stdout.readline().decode()
    assert second.startswith(f"{cmd_id}: "), second
    cli.send_signal(signal.SIGKILL)  # the answer (COMPLETED) never reaches this client
    cli.communicate(timeout=5)
    assert cli.returncode == -signal.SIGKILL
    # A reconnected client asks where the command stands; it never sends it again.
    wait_until(lambda: agent.count("slow") == 1, 10, "the machine ran it")
    done = subprocess.run(
        [sys.executable, "-m", "copilot", "command", "status", cmd_id, "--hub", hub.address],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0 and "COMPLETED" in done.stdout, done.stdout + done.stderr
    assert agent.count("slow") == 1


def test_a_station_that_lost_the_link_asks_for_its_commands_on_return(
    hub: Plant, agent: GatedAgent, stations: Callable[..., Station]
) -> None:
    st = live(stations())
    login(st, "ana", "1111")
    cmd_id = st.request_command("press-1", "slow")
    wait_until(lambda: st.store.commands[cmd_id].state == "EXECUTING", 10, "executing")
    resyncs = st.stats.resyncs
    hub_proc = hub.procs[0]
    hub_proc.send_signal(signal.SIGSTOP)  # the hub falls silent: the station goes LOST
    try:
        wait_until(lambda: st.state.name == "LOST", 10, "station LOST")
    finally:
        hub_proc.send_signal(signal.SIGCONT)
    status = settled(st, cmd_id, 20)
    assert st.stats.resyncs > resyncs
    assert status.state == "COMPLETED"
    assert agent.count("slow") == 1


def test_agent_killed_after_journaling_is_unknown_and_never_rerun(
    plant: Plant, stations: Callable[..., Station]
) -> None:
    add_person(plant.data_dir, "ana", "Operator", "1111")
    plant.hub()
    sim = plant.sim("--machines", "1", "--rate", "5", env={"COPILOT_CHAOS": "after_accept"})
    st = stations()
    wait_until(
        lambda: (
            "cnc-01" in st.store.machine_ids()
            and st.store.reading("cnc-01", "state").value == "running"
        ),
        15,
        "cnc running",
    )
    login(st, "ana", "1111")
    cmd_id = st.request_command("cnc-01", "stop")
    assert sim.wait(10) == 137  # died right after journaling ACCEPTED
    plant.sim("--machines", "1", "--rate", "5")
    wait_until(
        lambda: st.store.commands[cmd_id].cause == "agent_restart", 20, "UNKNOWN from the agent"
    )
    assert st.store.commands[cmd_id].state == "UNKNOWN"
    wait_until(lambda: st.store.reading("cnc-01", "state").good, 10, "fresh values")
    assert st.store.reading("cnc-01", "state").value == "running"  # the stop never ran


def test_a_command_to_an_offline_machine_is_refused_and_never_runs_later(
    hub: Plant, stations: Callable[..., Station]
) -> None:
    first = GatedAgent(hub)
    st = live(stations())
    login(st, "ana", "1111")
    first.close()
    wait_until(lambda: not online(st, "press-1"), 10, "press-1 offline")
    refused = st.request_command("press-1", "set_speed", {"speed": 10}, confirmed=True)
    status = settled(st, refused, 5)
    assert (status.state, status.cause) == ("REJECTED", "offline")
    back = GatedAgent(hub)
    try:
        wait_until(lambda: online(st, "press-1"), 15, "press-1 back")
        after = st.request_command("press-1", "stop")
        assert settled(st, after).state == "COMPLETED"
        assert back.actuations == [("stop", {})]  # the refused set_speed never arrived
    finally:
        back.close()


def test_a_command_that_expires_in_transit_is_refused_by_the_machine(
    hub: Plant, stations: Callable[..., Station]
) -> None:
    ahead = GatedAgent(hub, clock=lambda: time.time_ns() + 60 * 10**9)  # its clock is 60 s on
    try:
        st = live(stations())
        login(st, "ana", "1111")
        status = settled(st, st.request_command("press-1", "stop"))
        assert (status.state, status.cause) == ("EXPIRED", "expired")
        assert "time limit" in status.message
        assert ahead.actuations == []
    finally:
        ahead.close()


def test_a_client_that_names_its_own_operator_gains_nothing(
    hub: Plant, agent: GatedAgent, stations: Callable[..., Station], tmp_path: Path
) -> None:
    live(stations())
    peer = RawPeer(hub.security("station"), hub.address)
    try:
        forged = Command(
            cmd_id="forged-1",
            machine="press-1",
            name="stop",
            not_after=time.time_ns() + 10**10,
            operator="plant-manager",
            approver="plant-manager",
        )
        peer.send(forged, src="station:raw", epoch=1, seq=1)
        wait_until(lambda: peer.bodies(CommandStatus), 10, "an answer")
        (answer,) = peer.bodies(CommandStatus)
        assert (answer.state, answer.cause) == ("REJECTED", "not_authenticated")
        # A request with a made-up token is refused the same way.
        peer.send(
            CommandRequest(
                token="plant-manager",
                cmd_id="forged-2",
                machine="press-1",
                name="stop",
                not_after=time.time_ns() + 10**10,
            ),
            src="station:raw",
            epoch=1,
            seq=2,
        )
        wait_until(lambda: len(peer.bodies(CommandStatus)) == 2, 10, "a second answer")
        assert peer.bodies(CommandStatus)[1].cause == "not_authenticated"
        # A real token, stolen by another station's key, is refused too.
        token = raw_session(peer).token
        thief = RawPeer(other_station_security(hub, tmp_path, "thief"), hub.address)
        try:
            thief.send(
                CommandRequest(
                    token=token,
                    cmd_id="stolen-1",
                    machine="press-1",
                    name="stop",
                    not_after=time.time_ns() + 10**10,
                ),
                src="station:thief",
                epoch=1,
                seq=1,
            )
            wait_until(lambda: thief.bodies(CommandStatus), 10, "the thief's answer")
            assert thief.bodies(CommandStatus)[0].cause == "not_authenticated"
        finally:
            thief.close()
        assert agent.actuations == []
    finally:
        peer.close()
