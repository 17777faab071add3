"""The demo's alarms reach the journal and the KPI report, as a supervisor would check them.

``copilot demo --offscreen --quit-after 45 --faults FILE``, then ``copilot alarms report
--json`` on the same data folder: the report counts the alarms the run raised.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from copilot.alarms import journal_path, open_journal, read_occurrences
from tests.helpers import Plant

FAULTS = """
[[fault]]
machine = "conveyor-01"
fault = "jam"
onset_s = 3
severity = 1.0

[[fault]]
machine = "conveyor-02"
fault = "jam"
onset_s = 5
severity = 1.0
"""


def test_demo_alarms_are_in_the_report(plant: Plant, tmp_path: Path) -> None:
    faults = tmp_path / "faults.toml"
    faults.write_text(FAULTS)
    env = {k: v for k, v in plant.env.items() if k != "QT_QPA_PLATFORM"}
    demo = subprocess.run(
        [
            *(sys.executable, "-m", "copilot", "demo", "--bind", plant.address, "--offscreen"),
            *("--quit-after", "45", "--faults", str(faults)),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    report = subprocess.run(
        [sys.executable, "-m", "copilot", "alarms", "report", "--json"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    kpis = json.loads(report.stdout)
    actors = {a["alarm"] for a in kpis["bad_actors"]}
    # Each jam: the photo-eyes' jam alarm, then the trip it causes.
    for conveyor in ("conveyor-01", "conveyor-02"):
        assert f"{conveyor}/jam_detected/on" in actors
        assert f"{conveyor}/state/on" in actors
    conn = open_journal(journal_path(plant.data_dir))
    try:
        raised = [o for o in read_occurrences(conn) if not o.suppressed]
    finally:
        conn.close()
    assert kpis["total_alarms"] == len(raised) >= 4
    # Each cascade's first alarm (the motor current rises before the photo-eyes see the jam)
    # is marked first out, and only it.
    for conveyor in ("conveyor-01", "conveyor-02"):
        mine = sorted((o for o in raised if o.machine == conveyor), key=lambda o: o.raised_at)
        assert [o.first_out for o in mine] == [True] + [False] * (len(mine) - 1)
