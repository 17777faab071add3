"""Voice through the real gate: a hub process, a press agent, a station, the real Speaker.

The recogniser here is a scripted :class:`~copilot.voice.types.Listener` (each utterance is
answered with the next scripted :class:`Heard`); the same flow over the real pocketsphinx
engine on synthesized WAVs is in ``tests/core/test_voice_engine_flow.py``. The clock of the
dialogue is injected, so the 6-second confirmation timeout is tested without waiting for it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from copilot.gate.audit import AuditRow, audit_path, query
from copilot.protocol import Signature
from copilot.speech import Speaker
from copilot.speech.backends import WavFileSink
from copilot.station import Station
from copilot.station.voice import PCM, VoiceFlow
from copilot.voice.dialogue import CONFIRM_S, Proposal
from copilot.voice.types import Context, Heard, Intent
from tests.helpers import GatedAgent, Plant, add_person, login, settled, wait_until

POLICY = """
version = 1
[[allow]]
commands = ["*"]
roles = ["Operator", "Supervisor"]
[voice]
commands = ["stop", "set_speed", "reset"]
"""


@dataclass
class ScriptedListener:
    """Answers each utterance with the next scripted Heard; records what it was asked."""

    script: list[Heard] = field(default_factory=list)
    contexts: list[Context] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)
    heard_pcm: list[PCM] = field(default_factory=list)

    def hear(self, pcm: PCM, context: Context) -> Heard:
        self.contexts.append(context)
        self.threads.append(threading.current_thread().name)
        self.heard_pcm.append(pcm)
        return self.script.pop(0)


class ToneSource:
    """A microphone that hears half a second of tone each time the button is held."""

    name = "tone"

    def __init__(self) -> None:
        self.tone = (np.sin(np.arange(8000) * 0.3) * 8000 + 1).astype(np.int16)

    def start(self) -> None:
        pass

    def stop(self) -> PCM:
        return self.tone.copy()

    def level(self) -> float:
        return -12.0


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def said(intent: Intent | None, transcript: str, confidence: float = 0.93) -> Heard:
    return Heard(intent, transcript, "pocketsphinx", confidence, "g-3f2a9c1e")


SET_SPEED = said(
    Intent("command", "press-1", "set_speed", {"speed": 80}), "press one set speed to eighty"
)
STOP = said(Intent("command", "press-1", "stop"), "press one stop")
RESET = said(Intent("command", "press-1", "reset"), "press one reset")
CONFIRM = said(Intent("confirm"), "confirm")
CANCEL = said(Intent("cancel"), "cancel")


@pytest.fixture
def gated(plant: Plant, tmp_path: Path) -> Plant:
    add_person(plant.data_dir, "ana", "Operator", "1111")
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    plant.hub("--policy", str(policy))
    return plant


@pytest.fixture
def agent(gated: Plant) -> Iterator[GatedAgent]:
    a = GatedAgent(gated)
    yield a
    a.close()


@dataclass
class Rig:
    station: Station
    flow: VoiceFlow
    listener: ScriptedListener
    clock: Clock
    sink: WavFileSink
    speaker: Speaker
    handed: list[Proposal]

    def utter(self, heard: Heard) -> None:
        """Hold the button, speak, let go; wait until the dialogue has the answer."""
        self.listener.script.append(heard)
        before = len(self.listener.contexts)
        self.flow.press()
        self.flow.release()
        wait_until(
            lambda: (
                len(self.listener.contexts) > before and self.flow.view().phase != "recognizing"
            ),
            10,
            f"the flow heard {heard.transcript!r}",
        )

    def spoken(self) -> list[str]:
        self.speaker.wait_idle(10)
        return [r.text for r in self.sink.rendered]


@pytest.fixture
def rig(agent: GatedAgent, stations: Callable[..., Station], tmp_path: Path) -> Iterator[Rig]:
    station = stations()
    wait_until(lambda: station.store.reading("press-1", "speed") is not None, 15, "press-1 known")
    login(station, "ana", "1111")
    sink = WavFileSink(tmp_path / "spoken")
    speaker = Speaker([lambda: sink], name="voice-test-speaker")
    speaker.start()
    listener = ScriptedListener()
    clock = Clock()
    handed: list[Proposal] = []
    flow = VoiceFlow(
        station,
        lambda: listener,
        ToneSource(),
        speaker,
        clock=clock,
        hand_to_touch=handed.append,
    )
    flow.start()
    assert flow.wait_ready(10) and flow.unavailable is None
    yield Rig(station, flow, listener, clock, sink, speaker, handed)
    flow.stop()
    speaker.stop()


def audit(plant: Plant) -> list[AuditRow]:
    return query(audit_path(plant.data_dir))


def test_a_confirmed_voice_command_reaches_the_machine_with_origin_voice_and_is_audited(
    rig: Rig, agent: GatedAgent, gated: Plant
) -> None:
    rig.utter(SET_SPEED)
    view = rig.flow.view()
    assert view.phase == "confirming"
    assert view.proposal is not None and view.proposal.readback.screen.startswith(
        "Press 1: Set speed"
    )
    # Nothing is dispatched without the confirmation: the station sent nothing at all.
    assert view.proposal.cmd_id not in rig.station.store.commands
    assert rig.spoken() == ["Press one: set speed to 80 R P M. Say yes confirm."]  # heard it out
    rig.clock.t += CONFIRM_S - 1  # confirmed within the 6 s
    rig.utter(CONFIRM)
    assert rig.flow.view().phase == "dispatched"
    cmd_id = view.proposal.cmd_id
    assert settled(rig.station, cmd_id).state == "COMPLETED"
    assert agent.actuations == [("set_speed", {"speed": 80})]
    assert agent.origins == ["voice"]
    wait_until(lambda: any(r.kind == "dispatched" for r in audit(gated)), 5, "the dispatch audited")
    (row,) = [r for r in audit(gated) if r.kind == "dispatched"]
    detail = row.details()
    assert (row.cmd_id, row.user, detail["origin"], detail["confirmed"]) == (
        cmd_id,
        "ana",
        "voice",
        True,
    )
    assert detail["voice"] == {
        "transcript": "press one set speed to eighty",  # the command's words, not "confirm"
        "engine": "pocketsphinx",
        "confidence": 0.93,
        "grammar_version": "g-3f2a9c1e",
    }
    # The read-back was said first, the result only after the machine reported its new state.
    wait_until(lambda: len(rig.spoken()) >= 2, 10, "the result spoken")
    texts = rig.spoken()
    assert texts[0] == "Press one: set speed to 80 R P M. Say yes confirm."
    assert texts[-1] == "Press one: set speed done. Speed 80 R P M, state idle."
    # The listener ran on the flow's worker, never on the GUI or the station's I/O thread.
    assert set(rig.listener.threads) == {"voice"}
    assert [c.confirm_only for c in rig.listener.contexts] == [False, True]


def test_the_confirmation_timeout_cancels_and_nothing_is_sent(rig: Rig, agent: GatedAgent) -> None:
    rig.utter(STOP)
    proposal = rig.flow.view().proposal
    assert proposal is not None
    rig.clock.t += CONFIRM_S - 0.1
    rig.flow.tick()
    assert rig.flow.view().phase == "confirming"
    assert rig.flow.view().seconds_left == pytest.approx(0.1)
    rig.clock.t += 0.1
    rig.flow.tick()
    assert rig.flow.view().phase == "timed_out"
    rig.flow.touch_confirm()  # too late: the proposal is gone
    assert proposal.cmd_id not in rig.station.store.commands
    assert rig.station.store.commands == {}
    assert rig.spoken()[-1] == "No confirmation: cancelled."
    assert agent.actuations == []


def test_cancel_always_works_while_listening_and_while_confirming(
    rig: Rig, agent: GatedAgent
) -> None:
    rig.utter(CANCEL)  # said while listening in the open context
    assert rig.flow.view().phase == "cancelled"
    rig.utter(STOP)
    assert rig.flow.view().phase == "confirming"
    rig.utter(CANCEL)  # said in the confirm-only context
    assert rig.flow.view().phase == "cancelled"
    rig.utter(STOP)
    rig.flow.press()  # held, then the Cancel button
    rig.flow.cancel()
    assert rig.flow.view().phase == "cancelled"
    rig.flow.release()
    rig.flow.touch_confirm()
    assert rig.station.store.commands == {}
    assert agent.actuations == []


def test_a_spoken_tier_3_command_goes_to_touch_signing_never_by_voice(
    rig: Rig, agent: GatedAgent, gated: Plant
) -> None:
    grant = rig.station.grant("press-1", "reset")
    assert grant is not None and grant.tier == 3 and not grant.voice
    rig.utter(RESET)
    assert rig.flow.view().phase == "handed_to_touch"
    (proposal,) = rig.handed
    assert (proposal.machine, proposal.command, proposal.tier) == ("press-1", "reset", 3)
    assert rig.spoken() == ["This command needs your signature: sign it on the touch panel."]
    rig.utter(CONFIRM)  # a spoken confirm has nothing to confirm
    rig.flow.touch_confirm()
    assert rig.station.store.commands == {}  # voice sent nothing
    # The touch sheet signs it (what ui.gate does with the hand-over): origin touch.
    cmd_id = rig.station.request_command(
        "press-1", "reset", origin="touch", confirmed=True, sign=Signature("1111", "jammed")
    )
    assert settled(rig.station, cmd_id).state == "COMPLETED"
    wait_until(lambda: any(r.kind == "dispatched" for r in audit(gated)), 5, "the dispatch audited")
    origins = [r.details().get("origin") for r in audit(gated) if r.cmd_id]
    assert "touch" in origins and "voice" not in origins
    assert agent.origins == ["touch"]


def test_status_questions_are_answered_aloud_from_the_store(rig: Rig) -> None:
    wait_until(
        lambda: (r := rig.station.store.reading("press-1", "state")) is not None and r.good,
        10,
        "live state",
    )
    rig.utter(said(Intent("status", "press-1"), "status of press one"))
    assert rig.flow.view().phase == "answering"
    assert rig.spoken()[-1] == "Press one idle, no alarms."
    rig.utter(said(Intent("attention"), "what needs attention"))
    assert rig.spoken()[-1] == "Nothing needs attention."


def test_the_microphone_is_ignored_while_the_station_speaks(rig: Rig) -> None:
    class Busy:
        speaking: str | None = None

        def say(self, text: str, priority: str = "medium", key: str = "") -> bool:
            return True

        def cancel(self, key: str) -> int:
            return 0

    busy = Busy()
    rig.flow.speaker = busy
    rig.listener.script.append(said(None, "", 0.0))
    rig.flow.press()
    assert rig.flow.level == -12.0  # the meter moves while nobody speaks
    rig.clock.t += 0.25
    busy.speaking = "Press two: oil temperature high"  # an alarm announcement starts
    rig.flow.tick()
    assert rig.flow.level == -120.0
    rig.clock.t += 0.25
    busy.speaking = None
    rig.flow.release()
    wait_until(lambda: rig.listener.heard_pcm, 10, "the utterance heard")
    pcm = rig.listener.heard_pcm[0]
    assert pcm.size == 8000
    silenced = np.flatnonzero(pcm == 0)  # 0.25 s ± 0.15 s: samples 1600 … 6399
    assert (silenced.min(), silenced.max(), silenced.size) == (1600, 6399, 4800)
    assert rig.flow.stats.muted_s == pytest.approx(0.3)


def test_voice_facts_are_optional_on_the_wire_and_an_older_peer_ignores_them() -> None:
    import msgspec

    from copilot.protocol import CommandRequest, VoiceFacts

    class OlderRequest(msgspec.Struct, tag="CMD_REQ", tag_field="t", omit_defaults=True):
        token: str
        cmd_id: str
        machine: str
        name: str
        not_after: int
        origin: str = "api"
        confirmed: bool = False
        request_id: int = 0

    facts = VoiceFacts("press one stop", "pocketsphinx", 0.9, "g1")
    new = CommandRequest("t", "c1", "press-1", "stop", 1, origin="voice", voice=facts)
    older = msgspec.msgpack.decode(msgspec.msgpack.encode(new), type=OlderRequest)
    assert (older.cmd_id, older.origin) == ("c1", "voice")  # an older hub still reads it
    plain = msgspec.msgpack.encode(OlderRequest("t", "c2", "press-1", "stop", 1))
    assert msgspec.msgpack.decode(plain, type=CommandRequest).voice is None
    assert b"voice" not in msgspec.msgpack.encode(CommandRequest("t", "c3", "m", "n", 1))


def test_the_hub_bounds_what_a_peer_says_it_heard() -> None:
    from copilot.hub.gate import _voice_facts
    from copilot.protocol import VoiceFacts

    kept = _voice_facts(VoiceFacts("x" * 5000, "e" * 100, float("nan"), "g" * 100))
    assert len(kept["transcript"]) == 1024  # type: ignore[arg-type]
    assert len(kept["engine"]) == len(kept["grammar_version"]) == 64  # type: ignore[arg-type]
    assert kept["confidence"] is None
    assert _voice_facts(VoiceFacts("a", "b", 0.87654, "c"))["confidence"] == 0.8765


def test_acknowledge_alarm_by_voice_after_the_confirmation(rig: Rig, agent: GatedAgent) -> None:
    agent.set(speed=float("nan"))  # the speed sensor fails: the hub raises its dropout alarm
    wait_until(
        lambda: any(a.state == "unack" for a in rig.station.alarms.all().values()),
        20,
        "the dropout alarm",
    )
    rig.utter(said(Intent("ack_alarm", "press-1"), "acknowledge alarm on press one"))
    assert rig.flow.view().phase == "confirming"
    unacked = [a for a in rig.station.alarms.all().values() if a.state == "unack"]
    (readback,) = rig.spoken()
    assert re.fullmatch(r"Press one: acknowledge \d+ alarms?\. Say yes confirm\.", readback)
    assert unacked and all(a.acked_by == "" for a in unacked)  # nothing acknowledged yet
    rig.utter(CONFIRM)
    wait_until(
        lambda: all(a.state != "unack" for a in rig.station.alarms.all().values()),
        10,
        "the alarm acknowledged",
    )
    wait_until(lambda: rig.spoken()[-1].startswith("Acknowledged "), 10, "the answer said")
    assert all(a.acked_by for a in rig.station.alarms.all().values())  # the hub recorded who


def test_a_korean_station_reads_back_in_korean(rig: Rig, agent: GatedAgent) -> None:
    listener = ScriptedListener([said(Intent("command", "press-1", "stop"), "프레스 일 정지")])
    flow = VoiceFlow(rig.station, lambda: listener, ToneSource(), rig.speaker, locale="ko")
    flow.start()
    try:
        flow.press()
        flow.release()
        wait_until(lambda: flow.view().phase == "confirming", 10, "the read-back")
        assert listener.contexts[0].locale == "ko"
        (name, *_) = listener.contexts[0].machines[0].spoken  # the grammar's: "프레스 하나"
        assert name.startswith("프레스 ")
        assert rig.spoken() == [f"{name}: 정지. 확인이라고 말하세요."]
        flow.cancel()
        assert rig.spoken()[-1] == "취소했습니다."
        assert rig.station.store.commands == {}
    finally:
        flow.stop()


def test_a_listener_that_fails_leaves_the_dialogue_and_says_why(rig: Rig) -> None:
    from copilot.voice.types import VoiceSetupError

    class Broken:
        def hear(self, pcm: PCM, context: Context) -> Heard:
            raise VoiceSetupError("the word 'frobnicate' is not in the pocketsphinx dictionary")

    rig.flow.use_listener(Broken())
    rig.flow.press()
    rig.flow.release()
    wait_until(lambda: rig.flow.view().phase != "recognizing", 10, "the dialogue moved on")
    assert rig.flow.view().phase == "not_understood"
    assert rig.flow.unavailable is not None and "'frobnicate'" in rig.flow.unavailable


def test_the_grammar_holds_only_what_the_person_may_command(rig: Rig) -> None:
    (press,) = rig.flow.context().machines
    assert press.spoken == ("press one",)
    assert {c.name for c in press.commands} == {
        "stop",
        "set_speed",
        "start",
        "reset",
        "purge",
        "slow",
    }
    rig.station.logout()
    assert rig.flow.context().allowed is None  # nobody: every command heard, then "log in first"
