"""The station store against a hostile or buggy hub: what cannot be applied is counted, skipped."""

from __future__ import annotations

import numpy as np
import pytest

from copilot.protocol import Birth, CommandStatus, Data, MachineInfo, SnapshotItem, TagSpec
from copilot.protocol.columns import pack, pack_values
from copilot.station import StationStore
from copilot.station.rings import TagRings

T0 = 1_700_000_000_000_000_000  # ns


def birth(aliases: dict[str, int], mid: str = "press-1", types: dict[str, str] | None = None):
    types = types or {}
    return Birth(
        machine=MachineInfo(id=mid, name=mid, kind="press"),
        tags=[TagSpec(name=n, alias=a, type=types.get(n, "float")) for n, a in aliases.items()],  # type: ignore[arg-type]
    )


def data(aliases: list[int], values: list[float], t_s: float) -> Data:
    n = len(aliases)
    return pack(aliases, values, [T0 + int((t_s + i * 1e-3) * 1e9) for i in range(n)])


def test_rebirth_with_changed_aliases_rebuilds_and_keeps_values_right() -> None:
    store = StationStore(ring_samples=64)
    assert store.apply_birth(birth({"temp": 0, "speed": 1}), epoch=1)
    assert store.apply_data("press-1", 1, data([0, 1], [20.0, 100.0], 0))
    # The same names under new aliases, and a new tag in between (today: IndexError forever).
    assert store.apply_birth(birth({"temp": 7, "mode": 3, "speed": 12}), epoch=2)
    assert store.apply_data("press-1", 2, data([7, 12, 3], [21.0, 101.0, 2.0], 1))
    values = store.values("press-1")
    assert values["temp"][0] == 21.0 and values["speed"][0] == 101.0 and values["mode"][0] == 2.0
    # Recent samples of the tags it still has survive the renumbering; the new tag starts empty.
    assert list(store.window("press-1", "temp")[1]) == [20.0, 21.0]
    assert list(store.window("press-1", "speed")[1]) == [100.0, 101.0]
    assert list(store.window("press-1", "mode")[1]) == [2.0]
    assert [r.tag for r in store.readings("press-1")] == ["temp", "mode", "speed"]
    assert store.readings("press-1")[0].spec.alias == 7  # readings show the wire spec
    # An old-session batch with the old aliases is refused and counted, not applied.
    assert not store.apply_data("press-1", 1, data([0], [0.0], 2))
    assert not store.apply_data("press-1", 2, data([0], [0.0], 2))
    assert store.drops.as_dict() == {"no_session": 1, "unknown_alias": 1}
    assert store.values("press-1")["temp"][0] == 21.0


def test_a_tag_whose_type_changed_starts_a_new_ring() -> None:
    store = StationStore(ring_samples=8)
    store.apply_birth(birth({"mode": 0}), epoch=1)
    store.apply_data("press-1", 1, data([0], [3.0], 0))
    store.apply_birth(birth({"mode": 0}, types={"mode": "int"}), epoch=2)
    assert len(store.window("press-1", "mode")[0]) == 0


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ([TagSpec(name="a", alias=0), TagSpec(name="a", alias=1)], "bad_birth"),
        ([TagSpec(name="a", alias=4), TagSpec(name="b", alias=4)], "bad_birth"),
        ([TagSpec(name="a", alias=2**40)], "bad_birth"),
        ([TagSpec(name=f"t{i}", alias=i) for i in range(11)], "too_many_tags"),
    ],
)
def test_a_birth_that_does_not_hold_together_is_refused_and_the_old_state_stays(
    tags: list[TagSpec], reason: str
) -> None:
    store = StationStore(ring_samples=8, max_tags_per_machine=10)
    store.apply_birth(birth({"temp": 0}), epoch=1)
    store.apply_data("press-1", 1, data([0], [5.0], 0))
    bad = Birth(machine=MachineInfo(id="press-1", name="p", kind="press"), tags=tags)
    assert not store.apply_birth(bad, epoch=2)
    assert store.drops.as_dict() == {reason: 1}
    assert store.values("press-1") == {"temp": (5.0, 0, pytest.approx(T0 * 1e-9))}


def test_memory_follows_what_arrives_not_what_a_birth_claims() -> None:
    store = StationStore(ring_samples=4096)
    # A BIRTH declaring 20,000 tags, the last at alias 2^32-1, then data for one tag.
    aliases = {f"t{i}": i for i in range(19_999)} | {"far": 2**32 - 1}
    assert store.apply_birth(birth(aliases), epoch=1)
    view = store._machines["press-1"]
    assert view.table.size == 20_000  # dense numbering: the far alias costs one slot
    assert view.rings.nbytes == 0  # no sample, no ring
    store.apply_data("press-1", 1, data([2**32 - 1, 5], [1.0, 2.0], 0))
    assert store.values("press-1")["far"][0] == 1.0
    assert view.rings.rows == 2 and view.rings.nbytes <= 2 * 2 * 16 * 8
    # One fast tag grows only as far as the data needs (and never past ring_samples).
    for k in range(10):
        store.apply_data("press-1", 1, data([5] * 100, list(range(100)), 1 + k))
    assert view.rings.capacity == 1024
    assert view.rings.nbytes == 2 * 2 * 1024 * 8
    assert len(store.window("press-1", "t5")[0]) == 1001


def test_batches_that_cannot_be_applied_are_counted_by_reason() -> None:
    store = StationStore(ring_samples=8)
    store.apply_birth(birth({"temp": 0, "note": 1}, types={"note": "str"}), epoch=1)
    ragged = Data(aliases=b"\x00\x00\x00\x00", values=b"", ts=b"")
    assert not store.apply_data("press-1", 1, ragged)
    assert not store.apply_data("press-1", 1, data([0, 9], [1.0, 2.0], 0))
    bad_text = pack_values([1], ["hello"], [T0])
    bad_text.text = {-1: "x", 5: "y"}
    assert not store.apply_data("press-1", 1, bad_text)
    assert not store.apply_data("mill-9", 1, data([0], [1.0], 0))
    # (a text entry for a sample the batch does not have is a column error too)
    assert store.drops.as_dict() == {"bad_columns": 2, "unknown_alias": 1, "no_session": 1}
    assert store.values("press-1")["temp"][1] != 0  # still no value: nothing half-applied
    assert store.apply_data("press-1", 1, pack_values([1, 0], ["ok", 3.0], [T0, T0]))
    assert store.values("press-1")["note"][0] == "ok"


def test_a_snapshot_item_that_cannot_be_applied_is_skipped_and_counted() -> None:
    store = StationStore(ring_samples=8)
    good = SnapshotItem(
        birth=birth({"temp": 0}, mid="press-1"),
        epoch=1,
        online=True,
        since=T0,
        values=data([0], [7.0], 0),
    )
    bad_values = SnapshotItem(
        birth=birth({"temp": 0}, mid="press-2"),
        epoch=1,
        online=True,
        since=T0,
        values=data([3], [1.0], 0),
    )
    bad_birth = SnapshotItem(
        birth=Birth(
            machine=MachineInfo(id="press-3", name="p", kind="press"),
            tags=[TagSpec(name="x", alias=1), TagSpec(name="y", alias=1)],
        ),
        epoch=1,
        online=True,
        since=T0,
        values=data([], [], 0),
    )
    store.apply_snapshot([bad_values, good, bad_birth])
    assert store.machine_ids() == ["press-1"]
    assert store.values("press-1")["temp"][0] == 7.0
    assert store.drops.as_dict() == {"snapshot_bad_values": 1, "snapshot_bad_birth": 1}


def test_rings_wrap_and_keep_time_order() -> None:
    rings = TagRings(3, capacity=4, first=2)
    rings.append(np.array([2, 2, 2]), np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0]))
    assert rings.capacity == 4 and rings.rows == 1
    rings.append(
        np.array([2, 0, 2, 2]), np.array([4.0, 4.5, 5.0, 6.0]), np.array([40, 1, 50, 60.0])
    )
    t, v = rings.window(2)
    assert list(t) == [3.0, 4.0, 5.0, 6.0] and list(v) == [30.0, 40.0, 50.0, 60.0]
    assert list(rings.window(2, since=4.5)[0]) == [5.0, 6.0]
    assert list(rings.window(0)[1]) == [1.0]
    assert rings.window(1)[0].size == 0
    assert list(rings.total) == [1, 0, 6]
    assert rings.append_all(7.0) == 2  # gap markers only for tags that have samples
    assert np.isnan(rings.window(0)[1][-1]) and rings.total[1] == 0


def test_an_unexpected_error_in_one_snapshot_item_skips_only_that_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = StationStore(ring_samples=8)
    real = StationStore._apply_values

    def flaky(view, values) -> None:  # type: ignore[no-untyped-def]
        if view.birth.machine.id == "press-2":
            raise ZeroDivisionError("a bug nobody expected")
        real(view, values)

    monkeypatch.setattr(StationStore, "_apply_values", staticmethod(flaky))
    items = [
        SnapshotItem(
            birth=birth({"temp": 0}, mid=mid),
            epoch=1,
            online=True,
            since=T0,
            values=data([0], [1.0], 0),
        )
        for mid in ("press-1", "press-2", "press-3")
    ]
    store.apply_snapshot(items)
    store.apply_snapshot(items)
    assert store.machine_ids() == ["press-1", "press-3"]
    assert store.drops.as_dict() == {"snapshot_apply_error": 2}


def test_command_statuses_are_bounded_and_finished_ones_go_first() -> None:
    store = StationStore(max_commands=10)
    store.apply_command_status(CommandStatus(cmd_id="open", machine="m", state="EXECUTING"))
    for i in range(30):
        store.apply_command_status(CommandStatus(cmd_id=f"c{i}", machine="m", state="COMPLETED"))
    assert len(store.commands) <= 10
    assert "open" in store.commands and "c29" in store.commands and "c0" not in store.commands
