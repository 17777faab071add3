"""The alarm engine, driven without sockets: every ISA-18.2 transition, delays, modes, first-out.

Each case is a script of steps against one small machine (a temperature with HI/HIHI limits
and a deadband, a low-side pressure, a guard door, the state enum) and the expected ISA state
of one alarm after every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from copilot.alarms.engine import AlarmEngine
from copilot.protocol import AlarmSpec, Birth, Limits, MachineInfo, TagSpec

S = 1_000_000_000
T0 = 1_800_000_000 * S  # a fixed wall-clock origin (ns)

TEMP = "m1/temp_c/hi"
HIHI = "m1/temp_c/hihi"
LOW = "m1/pressure_bar/lo"
DOOR = "m1/door/on"
TRIP = "m1/state/on"
LATCH = "m1/flow/hi"
DELAYED = "m1/level/hi"
COMM = "m1/-/comm"

STATE = {"running": 0, "idle": 1, "setup": 2, "fault": 3, "maintenance": 4}


def birth() -> Birth:
    return Birth(
        machine=MachineInfo(id="m1", name="Mixer 1", kind="mixer", line="line-1", area="Area A"),
        tags=[
            TagSpec(
                name="state",
                alias=0,
                type="enum",
                labels=list(STATE),
                alarm=AlarmSpec(on=[3], priority="high"),
            ),
            TagSpec(
                name="temp_c",
                alias=1,
                unit="°C",
                description="Bowl temperature",
                limits=Limits(hi=80.0, hihi=90.0),
                deadband=2.0,
            ),
            TagSpec(name="pressure_bar", alias=2, unit="bar", limits=Limits(lo=5.0), deadband=0.5),
            TagSpec(
                name="door",
                alias=3,
                type="bool",
                alarm=AlarmSpec(on=[1], priority="low", running_only=True),
            ),
            TagSpec(name="flow", alias=4, limits=Limits(hi=10.0), alarm=AlarmSpec(latched=True)),
            TagSpec(
                name="level",
                alias=5,
                limits=Limits(hi=50.0),
                alarm=AlarmSpec(on_delay_ms=3000, off_delay_ms=2000),
            ),
        ],
    )


ALIAS = {"state": 0, "temp": 1, "pressure": 2, "door": 3, "flow": 4, "level": 5}


@dataclass
class Rig:
    engine: AlarmEngine
    t: int = T0

    def feed(self, tag: str, value: float, dt: float = 1.0) -> None:
        self.t += int(dt * S)
        self.engine.on_samples(
            "m1",
            np.array([ALIAS[tag]], dtype=np.int64),
            np.array([self.t / S]),
            np.array([value]),
            None,
        )

    def act(self, action: str, aid: str, **kw: object) -> dict[str, str]:
        self.t += S
        result = self.engine.act(action, [aid], "ana", self.t, **kw)  # type: ignore[arg-type]
        return result.refused

    def tick(self, dt: float) -> None:
        self.t += int(dt * S)
        self.engine.tick(self.t)

    def state(self, aid: str) -> str:
        rec = self.engine.records[aid]
        flags = [rec.state]
        if rec.latched:
            flags.append("latched")
        if rec.shelf is not None:
            flags.append("shelved")
        if rec.suppressed:
            flags.append("suppressed")
        if rec.removed is not None:
            flags.append("removed")
        return "+".join(flags)


@pytest.fixture
def rig() -> Rig:
    engine = AlarmEngine(settle_s=10.0, max_shelve_s=3600.0)
    engine.on_birth(birth(), T0)
    r = Rig(engine)
    r.feed("state", STATE["running"])
    for tag, v in (("temp", 70), ("pressure", 6), ("door", 0), ("flow", 5), ("level", 40)):
        r.feed(tag, v, dt=0.0)
    return r


# (step, args) → expected state of the watched alarm after the step
CASES: dict[str, tuple[str, list[tuple[str, tuple[object, ...], str]]]] = {
    "raise, ack, clear": (
        TEMP,
        [
            ("feed", ("temp", 81), "unack"),
            ("act", ("ack",), "ack"),
            ("feed", ("temp", 70), "normal"),
        ],
    ),
    "clear first, then ack": (
        TEMP,
        [
            ("feed", ("temp", 81), "unack"),
            ("feed", ("temp", 70), "rtn_unack"),
            ("act", ("ack",), "normal"),
        ],
    ),
    "returned unacknowledged, then recurs": (
        TEMP,
        [
            ("feed", ("temp", 81), "unack"),
            ("feed", ("temp", 70), "rtn_unack"),
            ("feed", ("temp", 82), "unack"),
        ],
    ),
    "deadband holds the alarm inside the band": (
        TEMP,
        [
            ("feed", ("temp", 80), "unack"),
            ("act", ("ack",), "ack"),
            ("feed", ("temp", 78.5), "ack"),
            ("feed", ("temp", 77.9), "normal"),
        ],
    ),
    "timed shelf expires → unacknowledged": (
        TEMP,
        [
            ("feed", ("temp", 81), "unack"),
            (
                "act",
                ("shelve", {"note": "sensor being replaced", "duration_s": 60}),
                "unack+shelved",
            ),
            ("act", ("ack",), "ack+shelved"),
            ("tick", (57,), "ack+shelved"),  # 58 s into a 60 s shelf
            ("tick", (3,), "unack"),
        ],
    ),
    "manual unshelve → acknowledged": (
        TEMP,
        [
            ("feed", ("temp", 81), "unack"),
            ("act", ("shelve", {"note": "known", "duration_s": 60}), "unack+shelved"),
            ("act", ("unshelve",), "ack"),
        ],
    ),
    "shelf expiry after the condition cleared → normal": (
        TEMP,
        [
            ("feed", ("temp", 81), "unack"),
            ("act", ("shelve", {"note": "known", "duration_s": 30}), "unack+shelved"),
            ("feed", ("temp", 70), "rtn_unack+shelved"),
            ("tick", (31,), "normal"),
        ],
    ),
    "one-shot shelf ends when the alarm clears": (
        TEMP,
        [
            ("feed", ("temp", 81), "unack"),
            ("act", ("shelve", {"note": "cleaning", "oneshot": True}), "unack+shelved"),
            ("feed", ("temp", 70), "rtn_unack"),
            ("feed", ("temp", 82), "unack"),
        ],
    ),
    "latched alarm needs a reset": (
        LATCH,
        [
            ("feed", ("flow", 11), "unack"),
            ("feed", ("flow", 5), "unack+latched"),
            ("act", ("ack",), "ack+latched"),
            ("feed", ("flow", 4), "ack+latched"),
            ("act", ("reset",), "normal"),
        ],
    ),
    "latched alarm cannot be reset while active": (
        LATCH,
        [
            ("feed", ("flow", 11), "unack"),
            ("act", ("reset",), "unack"),  # refused: the condition is still there
            ("feed", ("flow", 5), "unack+latched"),
            ("act", ("reset",), "normal"),  # a reset acknowledges as well
        ],
    ),
    "idle suppresses a low limit (it only means something while running)": (
        LOW,
        [
            ("feed", ("state", STATE["idle"]), "normal+suppressed"),
            ("feed", ("pressure", 1), "unack+suppressed"),
            ("feed", ("state", STATE["running"]), "normal"),  # held for the settling time
            ("tick", (5,), "normal"),
            ("tick", (6,), "unack"),  # still low after settling: a real alarm
        ],
    ),
    "a start-up that recovers within the settling time raises nothing": (
        LOW,
        [
            ("feed", ("state", STATE["idle"]), "normal+suppressed"),
            ("feed", ("pressure", 1), "unack+suppressed"),
            ("feed", ("state", STATE["running"]), "normal"),
            ("feed", ("pressure", 6), "normal"),
            ("tick", (20,), "normal"),
        ],
    ),
    "a high limit is not suppressed when idle": (
        TEMP,
        [
            ("feed", ("state", STATE["idle"]), "normal"),
            ("feed", ("temp", 81), "unack"),
        ],
    ),
    "setup silences (shown, not announced)": (
        DOOR,
        [
            ("feed", ("state", STATE["setup"]), "normal"),
            ("feed", ("door", 1), "unack"),
        ],
    ),
    "door open while running is the alarm; open while idle is work": (
        DOOR,
        [
            ("feed", ("door", 1), "unack"),
            ("act", ("ack",), "ack"),
            ("feed", ("door", 0), "normal"),
            ("feed", ("state", STATE["idle"]), "normal+suppressed"),
            ("feed", ("door", 1), "unack+suppressed"),
        ],
    ),
    "discrete trip alarm from the state enum": (
        TRIP,
        [
            ("feed", ("state", STATE["fault"]), "unack"),
            ("act", ("ack",), "ack"),
            ("feed", ("state", STATE["idle"]), "normal"),
        ],
    ),
    "on-delay: a short excursion raises nothing": (
        DELAYED,
        [
            ("feed", ("level", 55), "normal"),
            ("feed", ("level", 45, 2.0), "normal"),
            ("tick", (5,), "normal"),
        ],
    ),
    "on-delay then off-delay": (
        DELAYED,
        [
            ("feed", ("level", 55), "normal"),
            ("tick", (3,), "unack"),
            ("act", ("ack",), "ack"),
            ("feed", ("level", 45), "ack"),  # off-delay of 2 s running
            ("feed", ("level", 45, 2.0), "normal"),
        ],
    ),
    "out of service and back (the live condition decides)": (
        TEMP,
        [
            ("act", ("remove", {"note": "transmitter removed for calibration"}), "normal+removed"),
            ("feed", ("temp", 81), "unack+removed"),
            ("act", ("restore",), "unack"),
        ],
    ),
}


def _run(rig: Rig, aid: str, steps: list[tuple[str, tuple[object, ...], str]]) -> list[str]:
    seen = []
    for step, args, _ in steps:
        if step == "feed":
            rig.feed(*args)  # type: ignore[arg-type]
        elif step == "tick":
            rig.tick(*args)  # type: ignore[arg-type]
        else:
            kw = args[1] if len(args) > 1 else {}
            rig.act(args[0], aid, **kw)  # type: ignore[arg-type]
        seen.append(rig.state(aid))
    return seen


@pytest.mark.parametrize("name", list(CASES))
def test_transition(rig: Rig, name: str) -> None:
    aid, steps = CASES[name]
    assert _run(rig, aid, steps) == [want for _, _, want in steps]


def test_dithering_signal_raises_one_alarm_not_dozens(rig: Rig) -> None:
    # 200 samples jittering ±1 °C around the 80 °C limit (deadband 2 °C), in one batch.
    rng = np.random.default_rng(1)
    n = 200
    values = 80.0 + rng.uniform(-1.0, 1.0, n)
    values[0] = 80.5  # starts over the limit
    times = (rig.t + np.arange(1, n + 1) * S // 10) / S
    changes = rig.engine.on_samples(
        "m1", np.full(n, ALIAS["temp"], dtype=np.int64), times, values, None
    )
    raised = [c for c in changes if c.event == "raised" and c.record.id == TEMP]
    assert len(raised) == 1
    assert rig.state(TEMP) == "unack"


def test_same_batch_dithering_without_deadband_would_chatter() -> None:
    # The control: the same signal against a limit with no deadband raises many times, so the
    # test above proves the deadband, not an engine that never raises twice.
    b = birth()
    b.tags[1].deadband = 0.0
    engine = AlarmEngine()
    engine.on_birth(b, T0)
    rng = np.random.default_rng(1)
    n = 200
    values = 80.0 + rng.uniform(-1.0, 1.0, n)
    times = (T0 + np.arange(1, n + 1) * S // 10) / S
    changes = engine.on_samples("m1", np.full(n, 1, dtype=np.int64), times, values, None)
    assert sum(c.event == "raised" and c.record.id == TEMP for c in changes) > 20


def test_refusals_say_why(rig: Rig) -> None:
    assert "nothing to acknowledge" in rig.act("ack", TEMP)[TEMP]
    assert "reason is required" in rig.act("shelve", TEMP, duration_s=60)[TEMP]
    assert "duration" in rig.act("shelve", TEMP, note="x")[TEMP]
    assert "not latched" in rig.act("reset", TEMP)[TEMP]
    assert "no alarm" in rig.engine.act("ack", ["nope/x/hi"], "ana", rig.t).refused["nope/x/hi"]
    assert "who" in rig.engine.act("ack", [TEMP], " ", rig.t).refused[TEMP]


def test_shelf_is_capped_at_the_maximum(rig: Rig) -> None:
    rig.feed("temp", 81)
    rig.act("shelve", TEMP, note="long job", duration_s=10 * 3600)
    shelf = rig.engine.records[TEMP].shelf
    assert shelf is not None
    assert shelf.until - shelf.at == 3600 * S


def test_first_out_marks_the_first_alarm_of_a_cascade(rig: Rig) -> None:
    rig.feed("temp", 91)  # HI and HIHI in the same sample: the first raised is first out
    rig.feed("flow", 12)
    rig.feed("state", STATE["fault"])
    firsts = [aid for aid, rec in rig.engine.records.items() if rec.first_out]
    assert firsts == [HIHI] or firsts == [TEMP]
    assert not rig.engine.records[LATCH].first_out
    assert not rig.engine.records[TRIP].first_out


def test_claim_and_note(rig: Rig) -> None:
    assert "nothing to claim" in rig.act("claim", TEMP)[TEMP]
    rig.feed("temp", 81)
    assert rig.act("claim", TEMP) == {}
    claim = rig.engine.records[TEMP].claim
    assert claim is not None and claim.by == "ana"
    assert rig.act("note", TEMP, note="checking the cooling water") == {}
    rig.act("ack", TEMP)
    rig.feed("temp", 70)
    assert rig.engine.records[TEMP].claim is None  # the claim ends with the occurrence


def test_communication_loss(rig: Rig) -> None:
    rig.engine.on_link("m1", True, rig.t + S)
    assert rig.state(COMM) == "unack"
    rig.engine.on_link("m1", False, rig.t + 2 * S)
    assert rig.state(COMM) == "rtn_unack"


def test_bad_quality_samples_decide_nothing(rig: Rig) -> None:
    rig.t += S
    rig.engine.on_samples(
        "m1",
        np.array([ALIAS["temp"]], dtype=np.int64),
        np.array([rig.t / S]),
        np.array([200.0]),
        np.array([0x84], dtype=np.uint8),
    )
    assert rig.state(TEMP) == "normal"


def test_anomaly_alarm_from_another_subsystem(rig: Rig) -> None:
    changes = rig.engine.external(
        "m1", "drift", True, rig.t, priority="low", message="Mixer 1: temperature drifting"
    )
    assert [c.event for c in changes] == ["raised"]
    assert rig.state("m1/-/anomaly:drift") == "unack"


def test_restore_brings_back_acknowledged_and_shelved(rig: Rig) -> None:
    rig.feed("temp", 81)
    rig.act("ack", TEMP)
    rig.feed("flow", 11)
    rig.act("shelve", LATCH, note="known", duration_s=600)
    saved = rig.engine.statuses()
    engine = AlarmEngine()
    engine.restore_state(saved, 100)
    engine.on_birth(birth(), rig.t)
    assert engine.records[TEMP].state == "ack"
    shelf = engine.records[LATCH].shelf
    assert shelf is not None and shelf.until == rig.engine.records[LATCH].shelf.until  # type: ignore[union-attr]
    engine.tick(shelf.until + 1)
    assert engine.records[LATCH].shelf is None
    assert engine.records[LATCH].state == "unack"
