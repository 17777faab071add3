"""Agent sessions: epochs only move forward across clock steps and restarts; the hub's epoch
is learned from a REBIRTH too, so a restarted hub gets exactly one BIRTH."""

from __future__ import annotations

from pathlib import Path

from copilot.agent import AgentSession, EpochClock
from copilot.bus import Bus, Security
from copilot.protocol import Codec, Header, Heartbeat, MachineInfo, RebirthRequest, TagSpec
from tests.helpers import InProcessHub, free_hub_address, wait_until

HOUR = 3600 * 10**9
T0 = 1_795_000_000_000_000_000


def test_epochs_move_forward_when_the_wall_clock_steps_back(tmp_path: Path) -> None:
    now = [T0]
    path = tmp_path / "agents" / "m.epoch"
    clock = EpochClock(path, lambda: now[0])
    first = clock.next()
    assert first == T0
    now[0] -= HOUR  # NTP steps the clock back an hour
    second = clock.next()
    assert second == first + 1
    restarted = EpochClock(path, lambda: now[0])  # the agent restarts, clock still behind
    assert restarted.next() == first + 2
    now[0] = T0 + HOUR
    assert restarted.next() == T0 + HOUR  # the clock is ahead again: epochs follow it


def test_a_corrupt_epoch_file_does_not_stop_the_agent(tmp_path: Path) -> None:
    path = tmp_path / "m.epoch"
    path.write_text("not a number")
    assert EpochClock(path, lambda: T0).next() == T0
    assert path.read_text().strip() == str(T0)


def test_a_session_persists_its_epoch_next_to_its_journal(tmp_path: Path) -> None:
    now = [T0]
    journal = tmp_path / "agents" / "m-1.sqlite"
    bus = Bus(Security(insecure=True))
    try:
        epochs = []
        for _ in range(2):
            session = AgentSession(
                bus,
                free_hub_address(),
                MachineInfo(id="m-1", name="M", kind="x"),
                [TagSpec(name="t", alias=0)],
                journal_path=journal,
                clock=lambda: now[0],
            )
            session.birth()  # no hub: the BIRTH waits, the epoch is chosen and kept
            epochs.append(session.epoch)
            session.stop()
            now[0] -= HOUR
        assert epochs[1] > epochs[0] == T0
        assert (tmp_path / "agents" / "m-1.epoch").exists()
    finally:
        bus.close()


def _hub_message(hub_epoch: int, body: RebirthRequest | Heartbeat) -> list[bytes]:
    header = Header(src="hub", epoch=hub_epoch, seq=0, ts=T0, hub_epoch=hub_epoch)
    return Codec().frames(header, body)


def test_hub_epoch_is_learned_from_a_rebirth_request_so_the_next_hb_is_no_restart(
    data_dir: Path,
) -> None:
    hub = InProcessHub(data_dir, insecure=True)
    bus = Bus(Security(insecure=True))
    try:
        session = AgentSession(
            bus,
            hub.address,
            MachineInfo(id="m-2", name="M", kind="x"),
            [TagSpec(name="t", alias=0)],
        )
        session.birth()  # not connected yet: it waits, and goes out once the link is up
        wait_until(lambda: (session.maintain(), session.stats.births)[1] == 1, 10, "born")
        restarted = T0 + 5 * HOUR  # a hub that restarted asks first, before any HB
        session.handle(_hub_message(restarted, RebirthRequest(reason="unknown session")))
        assert session.stats.births == 2 and session.hub_epoch == restarted
        epoch = session.epoch
        session.handle(_hub_message(restarted, Heartbeat()))  # its first HB: same hub
        assert session.stats.births == 2 and session.epoch == epoch
        session.handle(_hub_message(restarted + 1, Heartbeat()))  # a really new hub
        assert session.stats.births == 3 and session.epoch > epoch
        session.stop()
    finally:
        bus.close()
        hub.close()
