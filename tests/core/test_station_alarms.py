"""The station's copy of the hub's alarms: newest wins, snapshots replace, normal ones expire."""

from __future__ import annotations

from copilot.protocol import AlarmStatus
from copilot.station import StationAlarms

S = 1_000_000_000
T0 = 1_800_000_000 * S


def status(
    aid: str = "m1/t/hi", state: str = "unack", updated: int = T0, **kw: object
) -> AlarmStatus:
    machine = aid.split("/")[0]
    return AlarmStatus(
        id=aid,
        machine=machine,
        tag="t",
        condition="hi",
        priority="medium",
        state=state,  # type: ignore[arg-type]
        active=state in ("unack", "ack"),
        message="M1: t high",
        raised_at=T0,
        updated=updated,
        **kw,  # type: ignore[arg-type]
    )


def test_an_older_update_never_replaces_a_newer_one() -> None:
    alarms = StationAlarms()
    assert alarms.apply(status(state="ack", updated=T0 + 2))
    v = alarms.version
    # The snapshot and the update stream can both carry it; the older one changes nothing.
    assert not alarms.apply(status(state="unack", updated=T0 + 1))
    assert not alarms.apply(status(state="ack", updated=T0 + 2))  # the same again
    assert alarms.get("m1/t/hi").state == "ack"  # type: ignore[union-attr]
    assert alarms.version == v  # a view redraws only when something moved


def test_a_snapshot_replaces_its_prefix_only() -> None:
    alarms = StationAlarms()
    alarms.apply(status("m1/t/hi"))
    alarms.apply(status("m2/t/hi"))
    alarms.apply_snapshot([status("m1/u/hi")], prefix="m1")
    assert sorted(alarms.all()) == ["m1/u/hi", "m2/t/hi"]  # m1/t/hi is gone, m2 untouched


def test_alarms_back_to_normal_are_forgotten_after_the_flood_window() -> None:
    alarms = StationAlarms(keep_normal_s=600)
    alarms.apply(status("m1/a/hi", state="normal", updated=T0))
    alarms.apply(status("m1/b/hi", state="unack", updated=T0))
    alarms.apply(status("m1/c/hi", state="normal", updated=T0 + 500 * S))
    alarms.prune(T0 + 601 * S)
    assert sorted(alarms.all()) == ["m1/b/hi", "m1/c/hi"]  # active stays; recent normal stays
