"""Commands: routed only to online machines, run at most once, never after their time limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.agent import AgentRunner, AgentSession, CommandOutcome
from copilot.bus import Bus, Security
from copilot.protocol import (
    ArgSpec,
    Codec,
    Command,
    CommandSpec,
    Header,
    MachineInfo,
    Range,
    TagSpec,
)
from copilot.settings import StationSettings
from copilot.station import CommandUpdated, LinkState, Station
from copilot.storage import CommandJournal
from tests.helpers import InProcessHub, wait_until


class Spindle:
    """A tiny machine whose actuations are counted."""

    def __init__(self) -> None:
        self.speed = 0.0
        self.actuations = 0
        self.guard_open = False

    def handle(self, cmd: Command) -> CommandOutcome:
        if self.guard_open:
            return CommandOutcome(
                False, "Spindle 1 cannot change speed: guard door open", "interlock"
            )
        self.actuations += 1
        self.speed = float(cmd.args["rpm"])
        return CommandOutcome(True, "speed set", observed={"speed_rpm": self.speed})


class Rig:
    def __init__(self, hub: InProcessHub, data_dir: Path) -> None:
        self.hub = hub
        self.data_dir = data_dir
        self.machine = Spindle()
        self.journal = data_dir / "spindle.sqlite"
        self.agent_bus = Bus(Security.from_data_path(data_dir, "agent", False))
        self.start_agent()
        self.station_bus = Bus(Security.from_data_path(data_dir, "station", False))
        self.station = Station(self.station_bus, hub.address, StationSettings())
        self.events: list[CommandUpdated] = []
        self.station.add_listener(
            lambda e: self.events.append(e) if isinstance(e, CommandUpdated) else None
        )
        self.station.start()
        wait_until(
            lambda: (
                self.station.state == LinkState.LIVE
                and "spindle-1" in self.station.store.machine_ids()
            ),
            10,
            "station sees spindle",
        )

    def start_agent(self) -> None:
        self.session = AgentSession(
            self.agent_bus,
            self.hub.address,
            MachineInfo(id="spindle-1", name="Spindle 1", kind="cnc"),
            [TagSpec(name="speed_rpm", alias=0, unit="rpm")],
            [
                CommandSpec(
                    name="set_speed", args=[ArgSpec(name="rpm", unit="rpm", range=Range(0, 3000))]
                )
            ],
            handler=self.machine.handle,
            journal_path=self.journal,
        )
        self.runner = AgentRunner(
            [self.session],
            lambda now: self.session.publish({"speed_rpm": self.machine.speed}),
            0.1,
        )
        self.runner.start()

    def stop_agent(self) -> None:
        self.runner.request_stop()
        self.runner.join(3)

    def final(self, cmd_id: str, timeout: float = 5.0) -> str:
        terminal = {"REJECTED", "COMPLETED", "FAILED", "EXPIRED", "CANCELLED", "UNKNOWN"}
        wait_until(
            lambda: (
                (s := self.station.store.commands.get(cmd_id)) is not None and s.state in terminal
            ),
            timeout,
            f"command {cmd_id} to finish",
        )
        return self.station.store.commands[cmd_id].state

    def close(self) -> None:
        self.stop_agent()
        self.station.stop()
        self.station_bus.close()
        self.agent_bus.close()


@pytest.fixture
def inproc_hub(data_dir: Path) -> Iterator[InProcessHub]:
    """A hub without the gate: these tests are about routing and the agent's journal (the
    gate's own tests, on the same paths, are test_gate.py and test_gate_faults.py)."""
    hub = InProcessHub(data_dir, gate=False)
    try:
        yield hub
    finally:
        hub.close()


@pytest.fixture
def rig(inproc_hub: InProcessHub, data_dir: Path) -> Iterator[Rig]:
    r = Rig(inproc_hub, data_dir)
    try:
        yield r
    finally:
        r.close()


def test_command_runs_once_and_reports_what_was_observed(rig: Rig) -> None:
    cmd_id = rig.station.send_command("spindle-1", "set_speed", {"rpm": 1200}, origin="touch")
    assert rig.final(cmd_id) == "COMPLETED"
    status = rig.station.store.commands[cmd_id]
    assert status.observed == {"speed_rpm": 1200.0}
    states = [e.status.state for e in rig.events if e.status.cmd_id == cmd_id]
    assert states == ["SENT", "ACCEPTED", "EXECUTING", "COMPLETED"]
    # The same cmd_id again (a retry) is answered from the journal and not executed again.
    rig.station.send_command("spindle-1", "set_speed", {"rpm": 1200}, cmd_id=cmd_id)
    rig.station.query_command(cmd_id)
    # Barrier: a later command on the same path has run, so the retry has been handled too.
    later = rig.station.send_command("spindle-1", "set_speed", {"rpm": 600})
    assert rig.final(later) == "COMPLETED"
    assert rig.machine.actuations == 2  # the first command and the later one, never the retry
    assert rig.station.store.commands[cmd_id].state == "COMPLETED"
    assert rig.station.store.commands[cmd_id].observed == {"speed_rpm": 1200.0}


def own_session(
    hub: InProcessHub, data_dir: Path, machine: Spindle, journal: Path
) -> tuple[Bus, AgentSession]:
    """A spindle agent driven by the test thread itself (no runner owns its socket)."""
    bus = Bus(Security.from_data_path(data_dir, "agent", False))
    session = AgentSession(
        bus,
        hub.address,
        MachineInfo(id="spindle-1", name="Spindle 1", kind="cnc"),
        [TagSpec(name="speed_rpm", alias=0, unit="rpm")],
        [CommandSpec(name="set_speed", args=[ArgSpec(name="rpm", range=Range(0, 3000))])],
        handler=machine.handle,
        journal_path=journal,
    )
    return bus, session


def deliver(session: AgentSession, cmd: Command) -> None:
    """Hand ``cmd`` to the agent as the hub's frames would arrive on its socket."""
    session.handle(Codec().frames(Header(src="hub", epoch=1, seq=0, ts=time.time_ns()), cmd))


def test_duplicate_cmd_id_reaching_the_agent_is_not_run_again(
    inproc_hub: InProcessHub, data_dir: Path
) -> None:
    machine = Spindle()
    bus, session = own_session(inproc_hub, data_dir, machine, data_dir / "dup.sqlite")
    cmd = Command(
        cmd_id="dup-1",
        machine="spindle-1",
        name="set_speed",
        args={"rpm": 10},
        not_after=time.time_ns() + 10**10,
    )
    try:
        deliver(session, cmd)  # delivered twice, as a lost ack + retry would
        deliver(session, cmd)
        assert machine.actuations == 1
        assert session.stats.duplicates == 1
    finally:
        session.stop()
        bus.close()


def test_out_of_range_and_interlock_are_refused_with_a_sentence(rig: Rig) -> None:
    bad = rig.station.send_command("spindle-1", "set_speed", {"rpm": 9000})
    assert rig.final(bad) == "REJECTED"
    assert (
        rig.station.store.commands[bad].message == "Spindle 1: rpm 9000 rpm is outside 0–3000 rpm."
    )
    rig.machine.guard_open = True
    blocked = rig.station.send_command("spindle-1", "set_speed", {"rpm": 100})
    assert rig.final(blocked) == "REJECTED"
    status = rig.station.store.commands[blocked]
    assert status.cause == "interlock" and "guard door open" in status.message
    assert rig.machine.actuations == 0


def test_expired_command_is_never_executed(rig: Rig, data_dir: Path) -> None:
    expired = rig.station.send_command("spindle-1", "set_speed", {"rpm": 100}, ttl_s=-1)
    assert rig.final(expired) == "EXPIRED"
    assert rig.machine.actuations == 0
    late = Command(
        cmd_id="late",
        machine="spindle-1",
        name="set_speed",
        args={"rpm": 5},
        not_after=time.time_ns() - 1,
    )
    machine = Spindle()
    journal = data_dir / "late.sqlite"
    bus, session = own_session(rig.hub, data_dir, machine, journal)
    try:
        deliver(session, late)  # reaches the agent itself after its limit
    finally:
        session.stop()
        bus.close()
    assert machine.actuations == 0
    assert CommandJournal(journal).get("late").state == "EXPIRED"  # type: ignore[union-attr]


def test_unknown_machine_and_offline_machine_are_refused_at_once_never_queued(rig: Rig) -> None:
    unknown = rig.station.send_command("spindle-9", "set_speed", {"rpm": 100})
    assert rig.final(unknown) == "REJECTED"
    assert "No machine named 'spindle-9'" in rig.station.store.commands[unknown].message
    rig.stop_agent()
    wait_until(lambda: not rig.station.store.machines()[0].online, 5, "spindle offline")
    offline = rig.station.send_command("spindle-1", "set_speed", {"rpm": 100})
    assert rig.final(offline, timeout=2) == "REJECTED"
    assert "offline since" in rig.station.store.commands[offline].message
    rig.start_agent()
    wait_until(lambda: rig.station.store.machines()[0].online, 10, "spindle back online")
    # Barrier: a command sent now has run, so a queued one would have been delivered first.
    now = rig.station.send_command("spindle-1", "set_speed", {"rpm": 100})
    assert rig.final(now) == "COMPLETED"
    assert rig.machine.actuations == 1  # only the one sent while it was online


def test_journal_reports_unknown_after_a_crash_and_never_reruns(tmp_path: Path) -> None:
    journal = CommandJournal(tmp_path / "j.sqlite")
    journal.begin("c1", "m", "start", {}, time.time_ns() + 10**10)
    journal.close()  # the process "dies" here: ACCEPTED is on disk, the outcome is not
    reopened = CommandJournal(tmp_path / "j.sqlite")
    assert [e.cmd_id for e in reopened.in_flight()] == ["c1"]
    assert not reopened.begin("c1", "m", "start", {}, 0)  # a redelivery cannot start it again


def test_agent_crash_after_accept_reports_unknown_and_never_reruns(plant, stations) -> None:
    import signal

    from copilot.protocol import Quality  # noqa: F401 - documents the quality in play

    plant.hub("--no-gate")
    sim = plant.sim("--machines", "1", "--rate", "5", env={"COPILOT_CHAOS": "after_accept"})
    station = stations()
    wait_until(
        lambda: (
            "cnc-01" in station.store.machine_ids()
            and station.store.reading("cnc-01", "state").value == "running"
        ),
        15,
        "cnc running",
    )
    cmd_id = station.send_command("cnc-01", "stop", origin="keyboard")
    assert sim.wait(10) == 137  # the machine's process died right after journaling ACCEPTED
    plant.sim("--machines", "1", "--rate", "5")  # restarted without the fault hook
    wait_until(
        lambda: station.store.commands[cmd_id].cause == "agent_restart",
        15,
        "restarted agent to report the unknown outcome",
    )
    status = station.store.commands[cmd_id]
    assert status.state == "UNKNOWN"
    assert "unknown" in status.message and "Check the machine" in status.message
    wait_until(lambda: station.store.reading("cnc-01", "state").good, 10, "fresh values")
    assert station.store.reading("cnc-01", "state").value == "running"  # stop was not re-run
    del signal
