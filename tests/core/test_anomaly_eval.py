"""``copilot anomaly eval``: runs, keeps tuning and scored seeds apart, emits its JSON keys."""

from __future__ import annotations

import json

import pytest

from copilot.anomaly.eval import SCORED_SEEDS, TUNING_SEEDS, scenarios_for
from copilot.cli import main

KEYS = {
    "detection_rate",
    "detection_rate_by_fault",
    "false_alerts_per_machine_hour",
    "projection_coverage",
    "median_delay_s_gradual",
    "median_delay_s_abrupt",
}


def test_seeds_are_fixed_and_disjoint() -> None:
    assert TUNING_SEEDS and SCORED_SEEDS
    assert not set(TUNING_SEEDS) & set(SCORED_SEEDS)


def test_full_scenarios_cover_every_applicable_fault_at_several_severities() -> None:
    sc = scenarios_for("cnc", 101, "full")
    kinds = {s.kind for s in sc}
    assert kinds == {"bearing_wear", "overheating", "sensor_drift", "stuck_sensor", "dropout"}
    assert len({s.severity for s in sc if s.kind == "bearing_wear"}) >= 3
    assert {s.mode for s in sc if s.kind == "dropout"} == {"running", "idle", "setup"}


def test_eval_json_has_its_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["anomaly", "eval", "--json", "--size", "tiny", "--seeds", "101", "--workers", "1"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= KEYS
    cov = data["projection_coverage"]
    assert cov is None or 0.0 <= cov <= 1.0
    # cnc overheating drives the spindle temperature past its limits: projections are asked.
    assert data["projection_coverage_reason"] and data["projection_checks"] > 0
    assert data["seeds"] == [101] and data["held_out"] is True
    assert data["events"] > 0
    assert 0.0 <= data["detection_rate"] <= 1.0
    assert data["false_alerts_per_machine_hour"] >= 0.0


def test_eval_refuses_bad_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["anomaly", "eval", "--seeds", "x,y"]) == 1
    assert "--seeds" in capsys.readouterr().err
