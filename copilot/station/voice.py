"""Voice on a station: push-to-talk capture → a listener on a Worker → the dialogue → the gate.

:class:`VoiceFlow` puts together an audio source (a microphone, or a WAV file behind the same
interface), a :class:`~copilot.voice.types.Listener`, the pure
:class:`~copilot.voice.dialogue.Dialogue`, the station's
:class:`~copilot.speech.tts.Speaker` and the :class:`~copilot.station.station.Station`:

- :meth:`VoiceFlow.press` starts capture, :meth:`VoiceFlow.release` ends it and hands the whole
  utterance to the flow's own worker thread, where the listener decodes it — never on the GUI
  thread and never on the station's I/O thread. The listener itself is built on that worker
  too (an engine takes seconds to load); a listener that cannot be built leaves one sentence in
  :attr:`VoiceFlow.unavailable` and voice stays off.
- The dialogue's effects are carried out here: a read-back or an answer is spoken (key
  ``voice``); a confirmed proposal goes out as ``Station.request_command(origin="voice",
  confirmed=True, voice=VoiceFacts(...))`` so the hub's audit keeps transcript, engine,
  confidence and grammar version; a tier 3–4 command goes to ``hand_to_touch`` (the touch
  signing flow) and nothing is sent; the result is spoken once the station hears the command's
  final ``CMD_STATUS`` (``COMPLETED`` with the observed values).
- The microphone is ignored while the station speaks: a press cuts the flow's own read-back
  short first, so the operator can answer at once; any other speech (an alarm announcement)
  seen while the button is held — at the press, on every :meth:`tick` (the window ticks at
  10 Hz while voice is active) and at the release — is silenced out of the utterance, with
  :data:`MUTE_PAD_S` either side, before the listener hears it (``stats.muted_s``).

The audio source is a :class:`copilot.voice.audio.AudioSource` (``start()`` on press,
``stop()`` on release returns the utterance, ``level()`` for the meter): a microphone or a
WAV file. Public methods may be
called from any thread (the GUI calls press/release/confirm/cancel/tick; the station's
listeners run on its dispatch thread); one lock guards the dialogue, and effects run outside
it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from copilot.arguments import current_tag
from copilot.protocol import AlarmStatus, CommandStatus, Grant, VoiceFacts
from copilot.station.events import AlarmActed, CommandUpdated, Event
from copilot.station.station import Station
from copilot.station.store import MachineSnapshot
from copilot.station.worker import Worker
from copilot.voice.answers import attention_answer, status_answer
from copilot.voice.audio import AudioSource
from copilot.voice.dialogue import (
    Dialogue,
    DialogueView,
    Dispatch,
    Effect,
    HandToTouch,
    Proposal,
    Readback,
    Recognize,
    Say,
)
from copilot.voice.readback import (
    ack_readback,
    command_readback,
    phrase,
    result_sentence,
    spoken_name,
)
from copilot.voice.types import Context, Heard, Intent, Listener, Locale, VoiceMachine

log = logging.getLogger(__name__)

RATE = 16_000
"""Samples per second of what the listener hears (16 kHz mono int16)."""
MAX_UTTERANCE_S = 15.0
"""A button held longer keeps only this much (the start of the utterance)."""
SPEECH_KEY = "voice"
"""The speaker key of everything voice says (a press cuts it short)."""
MUTE_PAD_S = 0.15
"""Silenced either side of station speech seen during capture (the sightings are ~0.1 s apart)."""

PCM = npt.NDArray[np.int16]


class Talker(Protocol):
    """The part of :class:`~copilot.speech.tts.Speaker` voice uses."""

    def say(self, text: str, priority: str = "medium", key: str = "") -> bool:
        """Queue ``text``."""
        ...

    def cancel(self, key: str) -> int:
        """Drop and cut short what ``key`` asked to say."""
        ...

    @property
    def speaking(self) -> str | None:
        """The text being said now."""
        ...


@dataclass
class VoiceStats:
    """What the flow did (read from any thread)."""

    utterances: int = 0
    muted_s: float = 0.0  # audio silenced: the station was speaking
    clipped_s: float = 0.0  # audio dropped: past MAX_UTTERANCE_S
    dispatched: int = 0
    handed_to_touch: int = 0
    decode_ms: deque[float] = field(default_factory=lambda: deque(maxlen=200))  # the latest
    # release of the button → the read-back or answer queued to the speaker (the latest)
    reply_ms: deque[float] = field(default_factory=lambda: deque(maxlen=200))


@dataclass(frozen=True)
class _Build:
    pass


@dataclass(frozen=True)
class _Hear:
    seq: int
    pcm: PCM
    context: Context


class StationWords:
    """The dialogue's :class:`~copilot.voice.dialogue.Words`, read from a station's store."""

    def __init__(self, station: Station, locale: Locale = "en") -> None:
        self.station = station
        self.locale: Locale = locale
        self.on_screen: str | None = None  # "acknowledge alarm" without a name: this machine
        self._names: Callable[[str], tuple[str, ...]] | None = None

    def snapshot(self, machine: str | None) -> MachineSnapshot | None:
        """The machine's BIRTH as the station holds it."""
        return next((m for m in self.station.store.machines() if m.info.id == machine), None)

    def spoken_forms(self, machine_id: str) -> tuple[str, ...]:
        """How a machine is said, as the recogniser's grammar has it ("press one")."""
        if self._names is None:
            try:
                from copilot.voice.grammar import default_spoken
                from copilot.voice.templates import load_templates

                templates = load_templates(self.locale)
                self._names = lambda mid: default_spoken(mid, templates)
            except Exception:  # no templates (a partial install): our own words
                log.exception("voice: the spoken names of %s fall back", self.locale)
                self._names = lambda mid: (spoken_name(mid, self.locale),)
        return self._names(machine_id)

    def spoken(self, snap: MachineSnapshot) -> str:
        """The read-back form of a machine's name ("press one")."""
        return self.spoken_forms(snap.info.id)[0]

    def alarms_of(self, machine: str | None) -> list[AlarmStatus]:
        """Alarms the station holds (of one machine, or all)."""
        every = self.station.alarms.all().values()
        return [a for a in every if machine is None or a.machine == machine]

    def readback(self, intent: Intent) -> Readback | None:
        """See :meth:`copilot.voice.dialogue.Words.readback`."""
        machine = intent.machine or (self.on_screen if intent.kind == "ack_alarm" else None)
        snap = self.snapshot(machine)
        if snap is None:
            return None
        if intent.kind == "ack_alarm":
            unacked = [a for a in self.alarms_of(snap.info.id) if a.state in ("unack", "rtn_unack")]
            if not unacked:
                return None
            said = ack_readback(self.spoken(snap), snap.info.name, len(unacked), self.locale)
            return Readback(said.screen, said.spoken, snap.info.id)
        spec = next((c for c in snap.commands if c.name == intent.command), None)
        if spec is None:
            return None
        old = {}
        for arg in spec.args:
            tag = current_tag(arg, snap.tags)
            reading = self.station.store.reading(snap.info.id, tag.name) if tag else None
            if reading is not None and reading.good:
                old[arg.name] = reading.value
        return command_readback(
            self.spoken(snap),
            snap.info.name or snap.info.id,
            spec,
            intent.args,
            snap.tags,
            old,
            self.locale,
        )

    def answer(self, intent: Intent) -> str:
        """See :meth:`copilot.voice.dialogue.Words.answer`."""
        if intent.kind == "attention":
            names = {m.info.id: m.info.name for m in self.station.store.machines()}
            from copilot.alarms.wording import sentence

            return attention_answer(
                self.alarms_of(None),
                lambda a: sentence(a, machine_name=names.get(a.machine, "")),
                locale=self.locale,
            )
        snap = self.snapshot(intent.machine)
        if snap is None:
            return "I do not know that machine." if self.locale == "en" else "그 기계를 모릅니다."
        return status_answer(
            self.spoken(snap),
            self.station.store.readings(snap.info.id),
            self.alarms_of(snap.info.id),
            online=snap.online,
            since=snap.since,
            locale=self.locale,
        )

    def result(self, proposal: Proposal, status: CommandStatus) -> str:
        """See :meth:`copilot.voice.dialogue.Words.result`."""
        snap = self.snapshot(proposal.machine)
        spoken = self.spoken(snap) if snap is not None else proposal.machine
        spec = (
            next((c for c in snap.commands if c.name == proposal.command), None) if snap else None
        )
        return result_sentence(spoken, spec, status, snap.tags if snap else [], self.locale)

    def phrase(self, key: str) -> str:
        """See :meth:`copilot.voice.dialogue.Words.phrase`."""
        return phrase(key, self.locale)

    def acknowledged(self, count: int) -> str:
        """What is said when the hub acknowledged ``count`` alarms asked for by voice."""
        if self.locale == "ko":
            return f"알람 {count}건을 확인했습니다."
        return "Acknowledged one alarm." if count == 1 else f"Acknowledged {count} alarms."


class VoiceFlow:
    """Push-to-talk voice for one station; see the module docstring."""

    def __init__(
        self,
        station: Station,
        make_listener: Callable[[], Listener],
        source: AudioSource | None = None,
        speaker: Talker | None = None,
        *,
        locale: Locale = "en",
        clock: Callable[[], float] = time.monotonic,
        confirm_s: float | None = None,
        hand_to_touch: Callable[[Proposal], None] | None = None,
    ) -> None:
        self.station = station
        self.source = source
        self.speaker = speaker
        self.locale: Locale = locale
        self.clock = clock
        self.hand_to_touch = hand_to_touch
        self.words = StationWords(station, locale)
        self.dialogue = Dialogue(self.words, self._grant)
        if confirm_s is not None:
            self.dialogue.confirm_s = confirm_s
        self.stats = VoiceStats()
        self.on_screen: str | None = None  # the machine the operator looks at (set by the UI)
        self.unavailable: str | None = None  # why voice is off, one sentence
        self._make_listener = make_listener
        self._listener: Listener | None = None
        self._ready = threading.Event()
        self._lock = threading.RLock()
        self._capturing = False
        self._pressed_at = 0.0
        self._released_at = 0.0  # perf_counter of the last release
        self._speech_seen: list[float] = []  # capture times (s) the station was seen speaking
        self._acks: dict[int, str] = {}  # alarm acts asked by voice: request id → machine
        self._worker: Worker[_Build | _Hear] = station.worker("voice", self._work, maxsize=8)
        station.add_listener(self._on_event)

    # -- life -----------------------------------------------------------------------------------

    def start(self, build_now: bool = True) -> None:
        """Start the worker; it builds the listener first (seconds, for a large engine).

        ``build_now=False`` builds it at the first utterance instead (a station nobody talks
        to, such as an offscreen one, spends nothing on it).
        """
        self._worker.start()
        if build_now:
            self._worker.submit(_Build())

    def stop(self, timeout: float = 3.0) -> None:
        """Stop capture and the worker."""
        with self._lock:
            self._stop_capture()
        self._worker.stop()
        self._worker.join(timeout)

    def use_listener(self, listener: Listener) -> None:
        """Hear with ``listener`` from now on (one built elsewhere, a demo's, a test's)."""
        self._listener = listener
        self.unavailable = None
        self._ready.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the listener is built (or failed: see :attr:`unavailable`)."""
        return self._ready.wait(timeout)

    # -- inputs (any thread) ----------------------------------------------------------------------

    def press(self) -> None:
        """Push-to-talk down: cut our own read-back short and listen."""
        if self.speaker is not None:
            self.speaker.cancel(SPEECH_KEY)
        with self._lock:
            effects = self.dialogue.press(self.clock())
            if self.dialogue.phase == "listening" and not self._capturing:
                self._capturing = True
                self._pressed_at = self.clock()
                self._speech_seen = []
                if self.source is not None:
                    try:
                        self.source.start()
                    except Exception as exc:  # no device: the utterance is empty, and we say why
                        self.unavailable = str(exc)[:300] or type(exc).__name__
                        log.warning("voice: %s", self.unavailable)
        self._perform(effects)

    def release(self) -> None:
        """Push-to-talk up: the utterance goes to the worker to be recognised."""
        with self._lock:
            self._released_at = time.perf_counter()
            pcm = self._stop_capture()
            effects = self.dialogue.release(self.clock())
        self._perform(effects, pcm)

    def touch_confirm(self) -> None:
        """The Confirm button on screen."""
        with self._lock:
            effects = self.dialogue.touch_confirm(self.clock())
        self._perform(effects)

    def cancel(self) -> None:
        """The Cancel button (or Esc): always works."""
        with self._lock:
            self._stop_capture()
            effects = self.dialogue.cancel(self.clock())
        self._perform(effects)

    def tick(self) -> None:
        """Let time pass (the countdown; speech sightings while capturing): ~10 Hz when active."""
        with self._lock:
            self._watch_speech()
            effects = self.dialogue.tick(self.clock())
        self._perform(effects)

    @property
    def level(self) -> float:
        """The microphone's level while capturing, dBFS (−120 otherwise or while muted)."""
        source = self.source
        if not self._capturing or source is None or self._station_speaking():
            return -120.0
        try:
            return float(source.level())
        except Exception:  # a meter must never break the flow
            return -120.0

    def _station_speaking(self) -> bool:
        speaker = self.speaker
        return speaker is not None and speaker.speaking is not None

    def _watch_speech(self) -> None:
        if self._capturing and self._station_speaking():
            self._speech_seen.append(self.clock() - self._pressed_at)

    def view(self) -> DialogueView:
        """What the screen shows now."""
        with self._lock:
            return self.dialogue.view(self.clock())

    # -- effects ----------------------------------------------------------------------------------

    def _perform(self, effects: list[Effect], pcm: PCM | None = None) -> None:
        for effect in effects:
            try:
                self._perform_one(effect, pcm)
            except Exception:  # one failed effect must not lose the others (counted, logged)
                log.exception("voice: carrying out %r failed", effect)

    def _perform_one(self, effect: Effect, pcm: PCM | None) -> None:
        match effect:
            case Recognize(seq=seq, confirm_only=confirm_only):
                self.stats.utterances += 1
                audio = pcm if pcm is not None else np.zeros(0, dtype=np.int16)
                if not self._worker.submit(_Hear(seq, audio, self.context(confirm_only))):
                    self._heard(seq, Heard(None, "", "", 0.0, "", reason="busy"))
            case Say(text=text):
                if self.speaker is not None:
                    self.speaker.say(text, "high", SPEECH_KEY)
            case Dispatch(proposal=p):
                self._dispatch(p)
            case HandToTouch(proposal=p):
                self.stats.handed_to_touch += 1
                if self.hand_to_touch is not None:
                    self.hand_to_touch(p)

    def _dispatch(self, p: Proposal) -> None:
        self.stats.dispatched += 1
        if p.kind == "ack_alarm":
            ids = [
                a.id for a in self.words.alarms_of(p.machine) if a.state in ("unack", "rtn_unack")
            ]
            note = f"by voice: {p.heard.transcript}"[:200]
            self._acks[self.station.act_on_alarms("ack", ids, note=note)] = p.machine
            return
        facts = VoiceFacts(
            transcript=p.heard.transcript,
            engine=p.heard.engine,
            confidence=float(p.heard.confidence),
            grammar_version=p.heard.grammar_version,
        )
        self.station.request_command(
            p.machine,
            p.command,
            dict(p.args),
            origin="voice",
            confirmed=True,
            cmd_id=p.cmd_id,
            voice=facts,
        )

    def _stop_capture(self) -> PCM:
        """End the capture; the utterance with the station's own speech silenced out."""
        empty = np.zeros(0, dtype=np.int16)
        if not self._capturing:
            return empty
        self._watch_speech()
        self._capturing = False
        if self.source is None:
            return empty
        try:
            pcm = np.asarray(self.source.stop(), dtype=np.int16).reshape(-1).copy()
        except Exception:
            log.exception("voice: the audio source failed to stop")
            return empty
        keep = int(MAX_UTTERANCE_S * RATE)
        if pcm.size > keep:
            self.stats.clipped_s += (pcm.size - keep) / RATE
            pcm = pcm[:keep]
        muted = np.zeros(pcm.size, dtype=bool)
        for seen in self._speech_seen:  # never hear ourselves
            lo = max(0, int((seen - MUTE_PAD_S) * RATE))
            muted[lo : max(lo, int((seen + MUTE_PAD_S) * RATE))] = True
        pcm[muted] = 0
        self.stats.muted_s += float(np.count_nonzero(muted)) / RATE
        return pcm

    # -- context ----------------------------------------------------------------------------------

    def _grant(self, machine: str, name: str) -> Grant | None:
        return self.station.grant(machine, name)

    def context(self, confirm_only: bool = False) -> Context:
        """What the listener may hear now: the plant's machines, the one on screen, the grants.

        With someone logged in, a machine's commands are those the person may issue (any tier:
        a tier-3 one is heard so it can be handed to touch): the grammar stays small and holds
        no words of commands nobody here can give.
        """
        session = self.station.session
        self.words.on_screen = self.on_screen

        def allowed(machine: str, command: str) -> bool:
            grant = self.station.grant(machine, command)
            return grant is not None and grant.allowed

        machines = []
        for snap in self.station.store.machines():
            state = self.station.store.reading(snap.info.id, "state")
            label = ""
            if state is not None and state.good and state.spec.labels:
                label = str(state.value)
            commands = [
                c for c in snap.commands if session is None or allowed(snap.info.id, c.name)
            ]
            machines.append(
                VoiceMachine(
                    name=snap.info.id,
                    spoken=self.words.spoken_forms(snap.info.id),
                    commands=tuple(commands),
                    state=label,
                )
            )
        return Context(
            locale=self.locale,
            machines=tuple(machines),
            on_screen=self.on_screen,
            confirm_only=confirm_only,
            allowed=allowed if session is not None else None,
        )

    # -- the worker's thread -----------------------------------------------------------------------

    def _work(self, job: _Build | _Hear) -> None:
        if isinstance(job, _Hear) and not self._ready.is_set():
            self._work(_Build())  # built at the first utterance (start(build_now=False))
        match job:
            case _Build():
                if self._ready.is_set():
                    return
                try:
                    self._listener = self._make_listener()
                except Exception as exc:  # the engine's own sentence, shown where voice is
                    self.unavailable = str(exc) or type(exc).__name__
                    log.warning("voice: no listener: %s", self.unavailable)
                finally:
                    self._ready.set()
            case _Hear(seq=seq, pcm=pcm, context=context):
                listener = self._listener
                if listener is None:
                    why = self.unavailable or "not_ready"
                    self._heard(seq, Heard(None, "", "", 0.0, "", reason=why))
                    return
                started = time.perf_counter()
                try:
                    heard = listener.hear(pcm, context)
                except Exception as exc:  # e.g. a grammar word the engine lacks: say it, once
                    self.unavailable = str(exc)[:300] or type(exc).__name__
                    log.exception("voice: the listener failed")
                    heard = Heard(None, "", "", 0.0, "", reason="listener_failed")
                self.stats.decode_ms.append((time.perf_counter() - started) * 1000)
                self._heard(seq, heard)

    def _heard(self, seq: int, heard: Heard) -> None:
        with self._lock:
            effects = self.dialogue.heard(seq, heard, self.clock())
        self._perform(effects)
        if any(isinstance(e, Say) for e in effects):
            self.stats.reply_ms.append((time.perf_counter() - self._released_at) * 1000)

    # -- the station's dispatch thread -------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, CommandUpdated):
            with self._lock:
                effects = self.dialogue.command_updated(event.status, self.clock())
            self._perform(effects)
        elif isinstance(event, AlarmActed) and event.reply.request_id in self._acks:
            self._acks.pop(event.reply.request_id)
            reply = event.reply
            refused = next(iter(reply.refused.values()), "")
            text = refused or self.words.acknowledged(len(reply.done))
            self._perform([Say(text)])
