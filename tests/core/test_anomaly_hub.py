"""The anomaly detectors in a real hub: a step raises an anomaly alarm; baselines survive."""

from __future__ import annotations

import signal

from copilot.hub.anomaly import anomaly_path
from copilot.protocol import AnomalyStatusReply, AnomalyStatusRequest
from copilot.station import Station
from tests.helpers import DrivenAgent, Plant, hub_limits, run_cli, wait_until

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
