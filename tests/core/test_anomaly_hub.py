"""The anomaly detectors in a real hub: a step raises an anomaly alarm; baselines survive."""

from __future__ import annotations

import signal
from pathlib import Path

from copilot.hub.anomaly import anomaly_path
from copilot.protocol import AnomalyAlert, AnomalyStatusReply, AnomalyStatusRequest
from copilot.station import GateAnswered, Station
from tests.helpers import DrivenAgent, Plant, hub_limits, login, run_cli, wait_until

FAST = hub_limits(anomaly_warmup_s=20, anomaly_every_s=0.2, alarm_settle_s=0)


def anomaly_alarms(station: Station) -> list[str]:
    return [
        aid
        for aid, s in station.alarms.all().items()
        if "/anomaly:" in aid and s.active and aid.startswith("mixer-1/")
    ]


def test_a_step_in_a_learned_signal_raises_an_explained_anomaly_alarm(
    plant: Plant, stations: object
) -> None:
    plant.hub(env=FAST)
    agent = DrivenAgent(plant, tags=2, noise=0.5)
    try:
        st = stations()  # type: ignore[operator]
        wait_until(lambda: "mixer-1" in st.store.machine_ids(), 15, "mixer-1 known")
        wait_until(
            lambda: (
                (r := plant.ask(AnomalyStatusRequest(machine="mixer-1"), AnomalyStatusReply))
                and r.machines
                and not r.machines[0].learning
            ),
            60,
            "the detectors to learn normal",
        )
        assert anomaly_alarms(st) == []  # normal operation raised nothing while learning
        agent.set(temp_0=60.0)  # a 10 °C step (20 σ), still far below HI 80
        wait_until(lambda: anomaly_alarms(st), 30, "an anomaly alarm")
        (aid,) = anomaly_alarms(st)
        alarm = st.alarms.get(aid)
        assert alarm is not None and "temp_0" in aid and alarm.priority == "low"
        assert alarm.message.endswith(".") and "Mixer 1" in alarm.message
        shown = run_cli(plant, "anomaly", "status", "--machine", "mixer-1", "--hub", plant.address)
        assert shown.returncode == 0 and shown.stdout.startswith("mixer-1: mode "), shown.stderr
        detector = aid.split("/anomaly:")[1].split(":")[0]  # level, envelope, drift…
        assert f"alerts: {detector}:temp_0 1" in shown.stdout and "temp_0" in shown.stdout
    finally:
        agent.close()
    # What was learned is saved when the hub stops, and read back when it starts.
    hub = plant.procs[0]
    hub.send_signal(signal.SIGTERM)
    assert hub.wait(15) == 0
    assert anomaly_path(plant.data_dir).exists()
    plant.hub(env=FAST)
    agent = DrivenAgent(plant, tags=2, noise=0.5)
    try:
        wait_until(
            lambda: (
                (r := plant.ask(AnomalyStatusRequest(machine="mixer-1"), AnomalyStatusReply))
                and r.machines
            ),
            30,
            "the restarted hub's detectors",
        )
        reply = plant.ask(AnomalyStatusRequest(machine="mixer-1"), AnomalyStatusReply)
        assert reply.machines[0].learned_modes, "baselines restored, not learned anew"
    finally:
        agent.close()


def test_an_alert_is_told_with_its_facts_and_a_verdict_is_stored_for_the_report(
    plant: Plant, stations: object, tmp_path: Path
) -> None:
    """A sensor dropout (no learning needed): its facts in ANOMALY_STATUS; a verdict is kept."""
    from copilot.gate.people import KdfParams, PeopleStore, ensure_demo, people_path
    from copilot.hub.anomaly import MIGRATIONS
    from copilot.storage import open_database

    with PeopleStore(people_path(plant.data_dir), kdf=KdfParams(n=1024)) as people:
        ensure_demo(people)
    faults = tmp_path / "faults.toml"
    faults.write_text(
        '[[fault]]\nmachine = "cnc-01"\nfault = "dropout"\ntag = "spindle_temp_c"\nonset_s = 3\n'
    )
    plant.hub(env=hub_limits(scrypt_n=1024, alarm_settle_s=0))
    plant.sim("--machines", "6", "--rate", "5", "--seed", "4", "--faults", str(faults))
    st = stations()  # type: ignore[operator]
    alarm = "cnc-01/spindle_temp_c/anomaly:dropout:spindle_temp_c"
    heard: list[object] = []
    st.add_listener(heard.append)

    def told() -> list[AnomalyAlert]:
        reply = plant.ask(AnomalyStatusRequest(machine="cnc-01"), AnomalyStatusReply)
        return [a for a in reply.alerts if a.alarm == alarm]

    wait_until(told, 30, "the dropout alert in ANOMALY_STATUS")
    (alert,) = told()
    assert (alert.machine, alert.detector, alert.tag, alert.active) == (
        "cnc-01", "dropout", "spindle_temp_c", True,
    )  # fmt: skip
    assert alert.confidence == 0.99 and alert.since <= alert.at and alert.mode
    assert alert.message.startswith("CNC 1 spindle bearing temperature has given no good reading")
    login(st, "demo-operator", "1111")
    request = st.anomaly_feedback(alarm, "false_alarm", "the sensor was unplugged for a test")
    wait_until(
        lambda: any(isinstance(e, GateAnswered) and e.request_id == request for e in heard),
        10,
        "the hub's answer",
    )
    (answer,) = [e for e in heard if isinstance(e, GateAnswered) and e.request_id == request]
    assert answer.ok and answer.message == (
        "Thank you: dropout:spindle_temp_c on cnc-01 marked false alarm."
    )
    # Answered once committed: the row is there now, and the next status tells the verdict.
    conn = open_database(anomaly_path(plant.data_dir), MIGRATIONS)
    try:
        rows = conn.execute("SELECT machine, tag, detector, verdict, who, note FROM feedback")
        assert rows.fetchall() == [
            ("cnc-01", "spindle_temp_c", "dropout", "false_alarm", "Demo Operator",
             "the sensor was unplugged for a test"),
        ]  # fmt: skip
    finally:
        conn.close()
    assert told()[0].verdict == "false_alarm"
