"""Push-to-talk in the real window against a real hub and simulated plant (real processes).

The hub runs the gate with the example site policy (voice may propose ``start``, ``stop`` and
``set_*``; ``reset_fault`` is signed). The window is offscreen, so there is no microphone: the
first test speaks a WAV synthesized by espeak-ng into the window's own flow and the real
pocketsphinx listener; the others use a scripted listener that answers each utterance with the
next scripted :class:`Heard` (more of the real engine: ``tests/core/test_voice_engine_flow.py``).
Each test holds the Talk button or the key, and asserts on what the bar shows and on what the
station sent.
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from copilot.gate.people import KdfParams, PeopleStore, ensure_demo, people_path
from copilot.station.voice import PCM
from copilot.voice.audio import WavSource
from copilot.voice.synth import synthesize
from copilot.voice.types import Context, Heard, Intent
from tests.helpers import Plant, hub_limits, login
from tests.ui.conftest import save_screenshot
from tests.ui.test_gate_flow import POLICY
from ui.app import MainWindow
from ui.gate import QtSignSheet

PRESS = "press-01"
# docs/screenshots/voice.sh runs these tests at both panel sizes and keeps their screenshots.
SIZE = tuple(int(v) for v in os.environ.get("VOICE_SHOT_SIZE", "1280x800").split("x"))


@dataclass
class ScriptedListener:
    script: list[Heard] = field(default_factory=list)
    contexts: list[Context] = field(default_factory=list)

    def hear(self, pcm: PCM, context: Context) -> Heard:
        self.contexts.append(context)
        return self.script.pop(0)


class LoudSource:
    """A headset at −30 dBFS that hears a short tone."""

    name = "loud"

    def start(self) -> None:
        pass

    def stop(self) -> PCM:
        return np.full(1600, 1000, dtype=np.int16)

    def level(self) -> float:
        return -30.0


def said(intent: Intent | None, words: str) -> Heard:
    return Heard(intent, words, "pocketsphinx", 0.91, "g-7c41d0")


SETPOINT = said(
    Intent("command", PRESS, "set_setpoint", {"setpoint_c": 230.0}),
    "press one set target to two hundred thirty degrees",
)
CANCEL = said(Intent("cancel"), "cancel")


@pytest.fixture
def voice_plant(plant: Plant) -> Plant:
    with PeopleStore(people_path(plant.data_dir), kdf=KdfParams(n=1024)) as people:
        ensure_demo(people)
    plant.hub(env=hub_limits(scrypt_n=1024, policy_file=POLICY, alarm_settle_s=0))
    plant.sim("--machines", "6", "--rate", "5", "--seed", "4")
    return plant


def spoken_wav(folder: Path, text: str) -> WavSource:
    """``text`` synthesized by espeak-ng into a 16 kHz WAV, as the microphone."""
    path = folder / f"{len(list(folder.glob('*.wav'))):03d}.wav"
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(16000)
        f.writeframes(synthesize(text).tobytes())
    return WavSource(path)


def _window(make_ctx, qtbot, real_engine: bool = False) -> tuple[MainWindow, ScriptedListener]:  # type: ignore[no-untyped-def]
    ctx = make_ctx(wait_machines=6)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.resize(*SIZE)
    w.show()
    qtbot.waitExposed(w)
    assert w.voice is not None
    listener = ScriptedListener()
    if not real_engine:  # else the window's own: make_listener("auto", "en"), built when used
        w.voice.flow.use_listener(listener)
    login(ctx.station, "demo-operator", "1111")
    qtbot.waitUntil(lambda: w.gate.session is not None, timeout=10000)
    w.show_view(f"machine:{PRESS}")
    return w, listener


def _talk(qtbot, w: MainWindow, listener: ScriptedListener, heard: Heard) -> None:  # type: ignore[no-untyped-def]
    """Hold the Talk button, let go; wait until the bar shows the answer."""
    assert w.voice is not None
    listener.script.append(heard)
    before = len(listener.contexts)
    button = w.voice.talk.button
    qtbot.mousePress(button, Qt.MouseButton.LeftButton)
    assert w.voice.flow.view().phase == "listening"
    qtbot.mouseRelease(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: len(listener.contexts) > before and w.voice.flow.view().phase != "recognizing",  # type: ignore[union-attr]
        timeout=10000,
    )
    w.voice.refresh()


def test_a_spoken_setpoint_is_read_back_and_waits_for_confirmation_then_runs(
    voice_plant: Plant, make_ctx, qtbot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The real engine: pocketsphinx hears a synthesized WAV through the window's flow."""
    pytest.importorskip("pocketsphinx")
    w, _listener = _window(make_ctx, qtbot, real_engine=True)
    voice = w.voice
    assert voice is not None
    # On the machine's view its commands need no machine name.
    voice.flow.source = spoken_wav(tmp_path, "set target to two hundred thirty degrees")
    qtbot.mousePress(voice.talk.button, Qt.MouseButton.LeftButton)
    qtbot.mouseRelease(voice.talk.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: voice.flow.view().phase not in ("recognizing", "listening"), timeout=30000
    )
    voice.refresh()
    bar = voice.bar
    assert bar.isVisible()
    assert bar.state.text().startswith("Say “yes confirm” · ")
    assert bar.readback.text().startswith("Press 1: Set barrel temperature\n")
    assert bar.readback.text().endswith("→ 230.0 °C")
    assert bar.heard.text() == "Heard: “set target to two hundred thirty degrees”"
    for button in (bar.confirm_button, bar.cancel_button):
        assert button.isVisible() and button.height() >= 48 and button.width() >= 48
    proposal = voice.flow.view().proposal
    assert proposal is not None
    assert proposal.cmd_id not in w.ctx.store.commands  # nothing sent before the confirmation
    save_screenshot(w, "voice_confirming")

    qtbot.mouseClick(bar.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            (s := w.ctx.store.commands.get(proposal.cmd_id)) is not None and s.state == "COMPLETED"
        ),
        timeout=10000,
    )
    voice.refresh()
    assert bar.state.text() == "✓ Sent"
    assert not bar.confirm_button.isVisible()


def test_the_key_holds_to_talk_and_cancel_works_spoken_and_by_escape(
    voice_plant: Plant, make_ctx, qtbot
) -> None:  # type: ignore[no-untyped-def]
    w, listener = _window(make_ctx, qtbot)
    voice = w.voice
    assert voice is not None
    listener.script.append(CANCEL)
    voice.flow.source = LoudSource()
    assert voice.talk.meter.fraction == 0.0
    qtbot.keyPress(w, Qt.Key.Key_F8)
    voice.refresh()
    assert voice.bar.state.text() == "● Listening…"
    assert voice.bar.cancel_button.isVisible()
    assert voice.talk.meter.fraction == pytest.approx(0.5)  # −30 dBFS on a −60…0 meter
    qtbot.keyRelease(w, Qt.Key.Key_F8)
    qtbot.waitUntil(lambda: voice.flow.view().phase == "cancelled", timeout=10000)

    _talk(qtbot, w, listener, SETPOINT)
    assert voice.flow.view().phase == "confirming"
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    assert voice.flow.view().phase == "cancelled"
    voice.refresh()
    assert voice.bar.state.text() == "✕ Cancelled"
    assert w.ctx.store.commands == {}


def test_a_spoken_signed_command_opens_the_touch_signing_sheet(
    voice_plant: Plant, make_ctx, qtbot
) -> None:  # type: ignore[no-untyped-def]
    w, listener = _window(make_ctx, qtbot)
    assert w.voice is not None
    _talk(
        qtbot, w, listener, said(Intent("command", PRESS, "reset_fault"), "press one reset fault")
    )
    assert w.voice.flow.view().phase == "handed_to_touch"
    qtbot.waitUntil(
        lambda: any(isinstance(s, QtSignSheet) and s.isVisible() for s, *_ in w.gate.sheets),
        timeout=5000,
    )
    assert w.ctx.store.commands == {}  # voice sent nothing; the sheet asks for the PIN
    w.voice.refresh()
    assert not w.voice.bar.isVisible()  # the sheet needs the room
    save_screenshot(w, "voice_sign_on_touch")
