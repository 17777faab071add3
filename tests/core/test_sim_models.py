"""The simulated plant: determinism, physical plausibility, interlocks, faults, schedules."""

from __future__ import annotations

import copy
import statistics
from pathlib import Path

import pytest

from copilot.protocol.messages import Quality, Value
from copilot.sim.faults import (
    FaultRecord,
    FaultSchedule,
    FaultScheduleError,
    FaultSpec,
    default_schedule,
    load_schedule,
)
from copilot.sim.models import (
    STATE_LABELS,
    CncMachine,
    Compressor,
    Conveyor,
    MachineModel,
)
from copilot.sim.plant import Plant

EXAMPLE = Path(__file__).resolve().parents[2] / "copilot" / "sim" / "faults.example.toml"


def run(model: MachineModel, start: float, seconds: int, dt: float = 1.0) -> list[dict[str, Value]]:
    """Step ``model`` from ``start`` for ``seconds`` seconds; return the values of every step."""
    rows = []
    steps = round(seconds / dt)
    for k in range(1, steps + 1):
        values, _ = model.step(start + k * dt, dt)
        rows.append(values)
    return rows


def series(rows: list[dict[str, Value]], name: str) -> list[float]:
    out = []
    for r in rows:
        v = r[name]
        assert isinstance(v, float | int)
        out.append(float(v))
    return out


# --------------------------------------------------------------------------------------------
# Determinism and plausibility.


def test_same_seed_same_values_and_different_seed_different_values() -> None:
    def trace(seed: int) -> list[object]:
        plant = Plant(machines=12, seed=seed)
        plant.set_schedule(default_schedule([m.info.id for m in plant.machines], seed))
        out: list[object] = []
        for k in range(1, 201):
            out.append(plant.step(k * 0.5, 0.5))
        return out

    assert trace(7) == trace(7)
    assert trace(7) != trace(8)


def test_a_reseeded_copy_goes_on_independently_from_the_same_state() -> None:
    base = Compressor(1, seed=(5, 3), total_tags=30, initial_state="running")
    run(base, 0.0, 100)
    same, other, again = (copy.deepcopy(base) for _ in range(3))
    other.reseed((5, 3, 1))
    again.reseed((5, 3, 1))
    plain, fresh, twin = (run(m, 100.0, 120) for m in (same, other, again))
    assert fresh == twin  # a reseed is deterministic
    assert plain == run(base, 100.0, 120)  # a copy alone replays the original's draws
    aux = base.tags[-1].name
    assert aux.startswith("aux_")
    for name in ("discharge_temp_c", "flow_m3_min", aux):
        assert series(plain, name) != series(fresh, name), name  # every stream draws anew
    # ...from the same state: the first reading after the reseed is where the machine was.
    t0, t1 = series(plain, "discharge_temp_c")[0], series(fresh, "discharge_temp_c")[0]
    assert abs(t0 - t1) < 2.0


def test_every_value_within_its_engineering_range_for_ten_minutes() -> None:
    plant = Plant(machines=12, seed=3)
    plant.set_schedule(default_schedule([m.info.id for m in plant.machines], 3))
    for k in range(1, 601):
        for mid, (values, quality) in plant.step(float(k), 1.0).items():
            machine = plant.machine(mid)
            assert set(values) == {t.name for t in machine.tags}
            for name, value in values.items():
                spec = machine.tag(name)
                if value is None:
                    assert quality[name] == Quality.BAD_SENSOR_FAILURE, (mid, name)
                    continue
                assert name not in quality
                if spec.type == "enum":
                    assert isinstance(value, int)
                    assert 0 <= value < len(spec.labels or [])
                elif spec.type == "bool":
                    assert isinstance(value, bool)
                else:
                    assert isinstance(value, float | int)
                    assert not isinstance(value, bool)
                    assert spec.eng_range is not None
                    assert spec.eng_range.lo <= value <= spec.eng_range.hi, (mid, name, value)
    assert len(plant.fault_log) >= 5


def test_metadata_is_complete() -> None:
    plant = Plant(machines=12, seed=0)
    kinds = {m.info.kind for m in plant.machines}
    assert kinds == {"cnc", "press", "conveyor", "compressor", "oven", "robot"}
    assert len({m.info.id for m in plant.machines}) == 12
    assert {m.info.line for m in plant.machines} == {"line-1", "line-2"}
    for m in plant.machines:
        names = [t.name for t in m.tags]
        assert [t.alias for t in m.tags] == list(range(len(m.tags)))
        assert len(set(names)) == len(names)
        assert {"state", "power_kw", "energy_kwh"} <= set(names)
        assert m.tag("state").labels == list(STATE_LABELS)
        assert 2 <= sum(t.key for t in m.tags) <= 3
        for t in m.tags:
            if t.type in ("float", "int"):
                assert t.unit, (m.info.id, t.name)
                assert t.eng_range is not None, (m.info.id, t.name)
                assert t.normal is not None, (m.info.id, t.name)
        commands = {c.name: c for c in m.commands}
        assert {"start", "stop", "reset_fault", "set_mode"} <= set(commands)
        assert commands["start"].risk == "confirm"
        assert commands["stop"].risk == "routine"
        assert commands["set_mode"].risk == "sign"
        assert "fault active" in commands["start"].interlocks


def test_energy_and_part_count_are_monotonic() -> None:
    plant = Plant(machines=12, seed=11)
    start = {m.info.id: m.energy for m in plant.machines}
    last: dict[str, tuple[float, int]] = {}
    for k in range(1, 301):
        for mid, (values, _) in plant.step(float(k), 1.0).items():
            energy = values["energy_kwh"]
            parts = values.get("part_count", 0)
            assert isinstance(energy, float)
            assert isinstance(parts, int)
            if mid in last:
                assert energy >= last[mid][0]
                assert parts >= last[mid][1]
            last[mid] = (energy, parts)
    assert all(last[mid][0] > energy for mid, energy in start.items())


def test_tags_per_machine_pads_with_auxiliary_signals() -> None:
    plant = Plant(machines=6, tags_per_machine=50, seed=1)
    for m in plant.machines:
        assert len(m.tags) == 50
        assert [t.alias for t in m.tags] == list(range(50))
        assert len({t.name for t in m.tags}) == 50
        assert any(t.name.startswith("aux_") for t in m.tags)
    values, _ = plant.step(0.1, 0.1)[plant.machines[0].info.id]
    assert len(values) == 50


def test_large_plant_steps() -> None:
    plant = Plant(machines=200, tags_per_machine=50, seed=2)
    for k in range(1, 11):
        out = plant.step(k * 0.1, 0.1)
    assert len(out) == 200
    assert sum(len(values) for values, _ in out.values()) == 200 * 50


# --------------------------------------------------------------------------------------------
# Commands and interlocks.


def test_start_is_blocked_while_the_guard_door_is_open() -> None:
    cnc = CncMachine(3, seed=1, autonomous=False, initial_state="idle")
    run(cnc, 0.0, 5)
    result = cnc.execute("set_mode", {"mode": "setup"})
    assert result.ok
    assert result.observed["guard_door"] is True
    result = cnc.execute("start", {})
    assert not result.ok
    assert result.cause == "interlock"
    assert result.message == "CNC 3 cannot start: guard door open."
    assert cnc.state_label == "setup"
    values, _ = cnc.step(6.0, 1.0)
    assert values["guard_door"] is True
    assert values["state"] == STATE_LABELS.index("setup")


def test_start_spins_up_and_stop_runs_down() -> None:
    cnc = CncMachine(1, seed=4, autonomous=False, initial_state="idle")
    run(cnc, 0.0, 5)
    result = cnc.execute("start", {})
    assert result.ok
    assert result.observed["state"] == "running"
    speeds = series(run(cnc, 5.0, 10, dt=0.1), "spindle_speed_rpm")
    assert speeds[0] < speeds[10] < speeds[-1]
    assert cnc.execute("stop", {}).ok
    assert cnc.state_label == "idle"
    rows = run(cnc, 15.0, 20)
    assert rows[-1]["spindle_speed_rpm"] == 0.0
    assert rows[-1]["motor_current_a"] == 0.0


def test_set_speed_out_of_range_is_rejected() -> None:
    cnc = CncMachine(1, seed=4, autonomous=False, initial_state="running")
    before = cnc.speed_sp
    result = cnc.execute("set_speed", {"speed_rpm": 25000})
    assert not result.ok
    assert result.cause == "out_of_range"
    assert "1000–10000 rpm" in result.message
    assert cnc.speed_sp == before
    bad = cnc.execute("set_speed", {"speed_rpm": "fast"})
    assert not bad.ok
    assert bad.cause == "bad_args"
    assert cnc.execute("set_speed", {}).cause == "bad_args"
    assert cnc.execute("set_speed", {"speed_rpm": 2000, "x": 1}).cause == "bad_args"
    assert cnc.execute("warp", {}).cause == "unknown_command"
    ok = cnc.execute("set_speed", {"speed_rpm": 2000})
    assert ok.ok
    assert ok.observed["speed_setpoint_rpm"] == 2000.0


def test_unknown_machine_and_mode_rules() -> None:
    plant = Plant(machines=6, seed=0, autonomous=False)
    assert plant.execute("cnc-99", "start", {}).cause == "unknown_machine"
    conveyor = plant.machine("conveyor-01")
    conveyor.execute("start", {})
    refused = plant.execute("conveyor-01", "set_mode", {"mode": "maintenance"})
    assert not refused.ok
    assert refused.cause == "bad_state"
    assert plant.execute("conveyor-01", "set_mode", {"mode": "repair"}).cause == "bad_args"


# --------------------------------------------------------------------------------------------
# Faults.


def test_bearing_wear_raises_vibration() -> None:
    cnc = CncMachine(2, seed=5, autonomous=False, initial_state="running")
    before = series(run(cnc, 0.0, 300), "vibration_mm_s")
    cnc.inject_fault("bearing_wear", severity=0.8, onset_s=300.0, duration_s=600.0)
    after = series(run(cnc, 300.0, 600), "vibration_mm_s")
    assert statistics.mean(after[-120:]) > statistics.mean(before) + 2.0
    assert statistics.mean(after[:60]) < statistics.mean(after[-60:])  # gradual


def test_leak_makes_compressor_pressure_decay() -> None:
    comp = Compressor(1, seed=6, autonomous=False, initial_state="running")
    before = run(comp, 0.0, 300)
    comp.inject_fault("leak", severity=0.8, onset_s=300.0, duration_s=0.0)
    after = run(comp, 300.0, 600)
    p_before = statistics.mean(series(before, "discharge_pressure_bar"))
    p_after = statistics.mean(series(after[-120:], "discharge_pressure_bar"))
    assert p_after < p_before - 0.8
    assert series(after, "load_pct")[-1] > series(before, "load_pct")[-1] + 15.0
    assert statistics.mean(series(after[-120:], "flow_m3_min")) > statistics.mean(
        series(before, "flow_m3_min")
    )


def test_jam_trips_the_conveyor_and_reset_needs_the_jam_cleared() -> None:
    conv = Conveyor(1, seed=8, autonomous=False, initial_state="running")
    run(conv, 0.0, 30)
    conv.inject_fault("jam", severity=1.0, onset_s=30.0, duration_s=60.0)
    rows = run(conv, 30.0, 10, dt=0.1)
    assert max(series(rows, "motor_current_a")) > 13.0  # current spike at the stall
    assert rows[-1]["belt_speed_m_min"] == 0.0
    assert rows[-1]["jam_detected"] is True
    assert conv.state_label == "fault"
    assert conv.trip_reason == "belt jam"

    refused = conv.execute("reset_fault", {})
    assert not refused.ok
    assert refused.cause == "interlock"
    assert "jammed" in refused.message
    start = conv.execute("start", {})
    assert not start.ok
    assert start.cause == "interlock"
    assert "fault active" in start.message

    rows = run(conv, 40.0, 60)  # the jam is cleared at t=90
    assert rows[-1]["jam_detected"] is False
    assert conv.state_label == "fault"
    reset = conv.execute("reset_fault", {})
    assert reset.ok
    assert conv.state_label == "idle"
    assert conv.execute("start", {}).ok
    speeds = series(run(conv, 100.0, 10), "belt_speed_m_min")
    assert speeds[-1] > 0.8 * conv.speed_sp


def test_overheating_trips_and_maintenance_keeps_the_latch() -> None:
    cnc = CncMachine(1, seed=9, autonomous=False, initial_state="running")
    cnc.inject_fault("overheating", severity=1.0, onset_s=0.0, duration_s=0.0)
    rows = run(cnc, 0.0, 900)
    temps = series(rows, "spindle_temp_c")
    assert max(temps) > 80.0
    assert cnc.state_label == "fault"
    assert cnc.trip_reason == "spindle over-temperature"
    assert cnc.execute("set_mode", {"mode": "maintenance"}).ok  # repairs the cooling
    assert not cnc.active_faults
    back = cnc.execute("set_mode", {"mode": "idle"})
    assert back.ok
    assert cnc.state_label == "fault"
    assert cnc.execute("reset_fault", {}).ok
    assert cnc.state_label == "idle"


def test_dropout_reports_none_with_bad_quality() -> None:
    cnc = CncMachine(1, seed=3, autonomous=False, initial_state="running")
    run(cnc, 0.0, 10)
    cnc.inject_fault("dropout", onset_s=10.0, duration_s=20.0, tag="spindle_temp_c")
    values, quality = cnc.step(11.0, 1.0)
    assert values["spindle_temp_c"] is None
    assert quality == {"spindle_temp_c": Quality.BAD_SENSOR_FAILURE}
    run(cnc, 11.0, 20)
    values, quality = cnc.step(32.0, 1.0)
    assert isinstance(values["spindle_temp_c"], float)
    assert quality == {}


def test_stuck_sensor_freezes_and_drift_walks_away() -> None:
    conv = Conveyor(1, seed=2, autonomous=False, initial_state="running")
    run(conv, 0.0, 5)
    conv.inject_fault("stuck_sensor", onset_s=5.0, tag="motor_current_a")
    stuck = series(run(conv, 5.0, 30), "motor_current_a")
    assert len(set(stuck)) == 1

    cnc = CncMachine(1, seed=2, autonomous=False, initial_state="running")
    cnc.inject_fault("sensor_drift", severity=0.5, onset_s=0.0, duration_s=300.0)
    rows = run(cnc, 0.0, 299)
    offset = abs(series(rows, "spindle_temp_c")[-1] - cnc.temp)
    assert 40.0 < offset < 80.0  # ~0.5 x 120 °C span, noise aside


def test_plant_logs_faults_and_calls_back() -> None:
    seen: list[FaultRecord] = []
    schedule = FaultSchedule(
        faults=[FaultSpec(machine="press-01", fault="leak", onset_s=2.0, duration_s=5.0)]
    )
    plant = Plant(machines=6, seed=0, schedule=schedule, on_fault=seen.append)
    plant.step(1.0, 1.0)
    assert plant.fault_log == []
    plant.step(2.0, 1.0)
    assert [r.fault for r in seen] == ["leak"]
    assert plant.fault_log == seen
    record = plant.inject("conveyor-01", "dropout", duration_s=3.0)
    assert record.onset_s == 2.0
    assert record.tag == "motor_temp_c"
    for k in range(3, 10):
        plant.step(float(k), 1.0)
    assert seen[0].cleared_s == 7.0
    assert seen[1].cleared_s == 5.0
    with pytest.raises(ValueError, match="does not apply"):
        plant.inject("cnc-01", "jam")


# --------------------------------------------------------------------------------------------
# Schedules.


def test_schedule_loads_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "faults.toml"
    path.write_text(
        '[[fault]]\nmachine = "cnc-02"\nfault = "bearing_wear"\nonset_s = 60\n'
        "duration_s = 600\nseverity = 0.8\n\n"
        '[[fault]]\nmachine = "cnc-01"\nfault = "dropout"\nonset_s = 5\ntag = "spindle_temp_c"\n'
    )
    schedule = load_schedule(path)
    assert schedule.faults[0] == FaultSpec("cnc-02", "bearing_wear", 60.0, 600.0, 0.8)
    assert schedule.faults[1].severity == 0.7
    assert schedule.faults[1].duration_s == 0.0
    Plant(machines=12, schedule=schedule)  # validates against the plant


def test_example_schedule_is_valid_for_the_default_plant() -> None:
    schedule = load_schedule(EXAMPLE)
    kinds = {f.fault for f in schedule.faults}
    assert kinds == {
        "bearing_wear",
        "overheating",
        "jam",
        "sensor_drift",
        "stuck_sensor",
        "dropout",
        "leak",
    }
    Plant(machines=12, schedule=schedule)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('fault = "bearing_waer"\nonset_s = 1', "entry 2 .*unknown fault kind 'bearing_waer'"),
        ('fault = "jam"\nonset_s = -5', "entry 2 .*onset_s must be 0 or more"),
        ('fault = "jam"\nonset_s = 1\nseverity = 1.5', "entry 2 .*severity must lie between"),
        ('fault = "jam"\nonset_s = 1\nduration_s = -1', "entry 2 .*duration_s"),
        ('fault = "jam"\nonset_s = "soon"', "entry 2 .*onset_s"),
        ('fault = "jam"\nonset_s = 1\nsevertiy = 1', "entry 2 .*severtiy"),
        ('fault = "jam"\nonset_s = 1\ntag = "motor_temp_c"', "entry 2 .*only used by sensor"),
    ],
)
def test_schedule_validation_names_file_and_entry(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[fault]]\nmachine = "conveyor-01"\nfault = "jam"\nonset_s = 1\n\n'
        f'[[fault]]\nmachine = "conveyor-01"\n{entry}\n'
    )
    with pytest.raises(FaultScheduleError, match=message) as info:
        load_schedule(path)
    assert str(path) in str(info.value)


def test_schedule_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FaultScheduleError, match="cannot be read"):
        load_schedule(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[fault]\n")
    with pytest.raises(FaultScheduleError, match="not valid TOML"):
        load_schedule(broken)


def test_plant_rejects_unknown_machines_and_inapplicable_faults() -> None:
    def plant_with(spec: FaultSpec) -> Plant:
        return Plant(machines=12, schedule=FaultSchedule(faults=[spec], source="s.toml"))

    with pytest.raises(FaultScheduleError, match=r"s\.toml, entry 1 .*no machine 'cnc-09'"):
        plant_with(FaultSpec(machine="cnc-09", fault="bearing_wear", onset_s=1.0))
    with pytest.raises(FaultScheduleError, match="jam does not apply to a cnc machine"):
        plant_with(FaultSpec(machine="cnc-01", fault="jam", onset_s=1.0))
    with pytest.raises(FaultScheduleError, match="has no tag 'nope'"):
        plant_with(FaultSpec(machine="cnc-01", fault="dropout", onset_s=1.0, tag="nope"))


def test_default_schedule_is_deterministic_and_valid() -> None:
    ids = [m.info.id for m in Plant(machines=12).machines]
    a = default_schedule(ids, seed=4)
    assert a == default_schedule(ids, seed=4)
    assert a != default_schedule(ids, seed=5)
    assert {f.fault for f in a.faults} >= {"bearing_wear", "jam", "leak", "overheating"}
    assert all(f.onset_s < 600 for f in a.faults)
    Plant(machines=12, schedule=a)


def test_a_plant_stepped_in_slices_gives_every_machine_the_same_values() -> None:
    """The simulator spreads machines' phases over a period: a machine stepped with its slice
    reads exactly as when the whole plant is stepped at once."""
    whole, sliced = Plant(machines=7, seed=5), Plant(machines=7, seed=5)
    ids = [m.info.id for m in whole.machines]
    for k in range(1, 40):
        t = k * 0.5
        expected = whole.step(t, 0.5)
        got = {**sliced.step(t, 0.5, ids[0::2]), **sliced.step(t, 0.5, ids[1::2])}
        assert got == expected
