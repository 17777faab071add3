"""The push-to-talk dialogue: what one press, one utterance or one tap does next.

:class:`Dialogue` is a pure state machine. It owns no thread, no audio and no clock: every
input is a method (:meth:`~Dialogue.press`, :meth:`~Dialogue.release`, :meth:`~Dialogue.heard`,
:meth:`~Dialogue.tick`, :meth:`~Dialogue.touch_confirm`, :meth:`~Dialogue.cancel`,
:meth:`~Dialogue.command_updated`) that takes the time and returns the effects the caller must
carry out (:class:`Recognize`, :class:`Say`, :class:`Dispatch`, :class:`HandToTouch`). The
station wiring (:mod:`copilot.station.voice`) calls it under one lock and performs the effects.

What it promises (docs/voice.md, "The flow"):

- Nothing is dispatched without a confirmation: a command heard becomes a *proposal*, read
  back, and only a spoken "confirm" heard in the confirm-only context, or a touch on Confirm,
  turns it into :class:`Dispatch`. A proposal is never dispatched twice.
- The confirmation must start within ``confirm_s`` (6 s) of the read-back; past it, the
  proposal is cancelled (``timed_out``). Holding the button to answer stops the clock until
  the answer is heard; the press must come before the deadline.
- "cancel", spoken or touched, always works: while listening, recognising or confirming; a
  spoken "cancel" the recogniser was unsure of (rejected, but its words are a cancel) still
  cancels (:data:`CANCEL_WORDS`).
- A command whose grant is tier 3 or 4 is handed to the touch signing flow
  (:class:`HandToTouch`), never dispatched by voice; one the person may not issue, or that the
  site does not allow by voice, is refused with the grant's sentence.
- A result is spoken only when the command is final; for ``COMPLETED``, with the machine's
  observed values (the wording is :meth:`Words.result`'s).

Phases: ``idle`` → ``listening`` (button held) → ``recognizing`` (released, the listener works)
→ ``confirming`` (read-back shown and spoken, countdown) → ``dispatched`` | ``cancelled`` |
``timed_out`` | ``handed_to_touch``; a question goes to ``answering``; an utterance that was not
understood to ``not_understood``, a command the grants refuse to ``refused``. The last six are
resting phases like ``idle``: a press starts a new utterance.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from copilot.protocol import FINAL_STATES, CommandStatus, Grant, Scalar
from copilot.voice.types import Heard, Intent

CONFIRM_S = 6.0
"""Seconds after the read-back within which the confirmation must start (then it cancels)."""
RECENT = 8
"""Utterances the dialogue remembers for the screen."""
CANCEL_WORDS: frozenset[str] = frozenset({"cancel", "cancel that", "취소", "취소해"})
"""Transcripts that cancel even when the recogniser rejected them: a wrong cancel costs a
repeat, a missed one could let the wrong command through."""

Phase = Literal[
    "idle",
    "listening",
    "recognizing",
    "confirming",
    "answering",
    "dispatched",
    "cancelled",
    "timed_out",
    "handed_to_touch",
    "not_understood",
    "refused",
]
RESTING: frozenset[str] = frozenset(
    {
        "idle",
        "answering",
        "dispatched",
        "cancelled",
        "timed_out",
        "handed_to_touch",
        "not_understood",
        "refused",
    }
)
"""Phases in which nothing is pending: a press starts a new utterance."""


@dataclass(frozen=True)
class Readback:
    """A proposal in words: ``screen`` is shown (target, old → new, unit), ``spoken`` said.

    ``machine`` names the machine when the intent did not ("acknowledge alarm" on screen).
    """

    screen: str
    spoken: str
    machine: str | None = None


@dataclass(frozen=True)
class Proposal:
    """A command heard and read back, waiting for its confirmation (or already dispatched)."""

    kind: Literal["command", "ack_alarm"]
    machine: str
    command: str
    args: Mapping[str, Scalar]
    heard: Heard
    readback: Readback
    cmd_id: str
    tier: int = 0


# -- effects --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recognize:
    """Hear utterance ``seq`` (the audio just captured) in the open or confirm-only context."""

    seq: int
    confirm_only: bool


@dataclass(frozen=True)
class Say:
    """Speak ``text`` (the microphone is ignored while it is said)."""

    text: str


@dataclass(frozen=True)
class Dispatch:
    """Send the proposal through the gate: origin voice, confirmed, with the voice facts."""

    proposal: Proposal


@dataclass(frozen=True)
class HandToTouch:
    """A tier 3–4 command: open the touch signing flow for it; voice does not send it."""

    proposal: Proposal


Effect = Recognize | Say | Dispatch | HandToTouch


class Words(Protocol):
    """What the dialogue says, from live data (the station wiring builds it from its store)."""

    def readback(self, intent: Intent) -> Readback | None:
        """The read-back of a command or alarm acknowledgement (None: not on this plant)."""
        ...

    def answer(self, intent: Intent) -> str:
        """The spoken answer to a question (``status``, ``attention``)."""
        ...

    def result(self, proposal: Proposal, status: CommandStatus) -> str:
        """What to say when a dispatched proposal is final (its observed values)."""
        ...

    def phrase(self, key: str) -> str:
        """A fixed sentence of the locale (``confirm_prompt``, ``cancelled``, ``timed_out``…)."""
        ...


@dataclass(frozen=True)
class Utterance:
    """One utterance as the screen lists it: when, what was heard, what came of it."""

    at: float
    transcript: str
    outcome: str
    confidence: float = 0.0


@dataclass(frozen=True)
class DialogueView:
    """What a view shows of the dialogue right now (a copy)."""

    phase: Phase
    confirm_only: bool
    proposal: Proposal | None
    seconds_left: float | None
    message: str
    transcript: str
    recent: tuple[Utterance, ...]


@dataclass
class _Sent:
    proposal: Proposal
    at: float


@dataclass
class Dialogue:
    """See the module docstring. Not thread-safe: the caller holds one lock around it."""

    words: Words
    grant_of: Callable[[str, str], Grant | None]
    confirm_s: float = CONFIRM_S
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.phase: Phase = "idle"
        self.pending: Proposal | None = None
        self.deadline = 0.0
        self.message = ""
        self.transcript = ""
        self.seq = 0  # the utterance being captured or recognised
        self._last_said = ""
        self._sent: dict[str, _Sent] = {}
        self._recent: deque[Utterance] = deque(maxlen=RECENT)

    # -- inputs ---------------------------------------------------------------------------------

    def press(self, now: float) -> list[Effect]:
        """The push-to-talk button (or key) went down: listen."""
        out = self._expire(now)
        if self.phase in ("listening", "recognizing"):
            return out  # a second press while one utterance is under way changes nothing
        self.phase = "listening"
        self.seq += 1
        self.message = ""
        self.transcript = ""
        return out

    def release(self, now: float) -> list[Effect]:
        """The button went up: recognise what was captured (confirm-only while confirming)."""
        if self.phase != "listening":
            return []
        self.phase = "recognizing"
        return [Recognize(self.seq, confirm_only=self.pending is not None)]

    def heard(self, seq: int, heard: Heard, now: float) -> list[Effect]:
        """The listener's answer for utterance ``seq`` (an answer that came too late is ignored)."""
        if seq != self.seq or self.phase != "recognizing":
            return []
        self.transcript = heard.transcript
        intent = heard.intent
        if intent is None and " ".join(heard.transcript.split()) in CANCEL_WORDS:
            intent = Intent("cancel", phrase=heard.transcript)  # "cancel" always works
        if self.pending is not None:
            return self._while_confirming(intent, heard, now)
        if intent is None:
            return self._rest("not_understood", self.words.phrase("not_understood"), heard, now)
        match intent.kind:
            case "cancel":
                return self._rest("cancelled", self.words.phrase("cancelled"), heard, now)
            case "confirm":
                return self._rest(
                    "not_understood", self.words.phrase("nothing_to_confirm"), heard, now
                )
            case "repeat":
                self._note(heard, "repeat", now)
                self.phase = "idle"
                return [Say(self._last_said)] if self._last_said else []
            case "status" | "attention":
                text = self.words.answer(intent)
                self._note(heard, "answered", now)
                self.phase = "answering"
                self.message = text
                return self._say(text)
            case "command" | "ack_alarm":
                return self._propose(intent, heard, now)

    def touch_confirm(self, now: float) -> list[Effect]:
        """A touch on Confirm: dispatch the proposal read back (if it is still pending)."""
        out = self._expire(now)
        if self.pending is None:
            return out
        return out + self._dispatch(now)

    def cancel(self, now: float) -> list[Effect]:
        """A touch on Cancel (or Esc): drop whatever is under way; always works."""
        if self.phase in RESTING and self.pending is None:
            return []
        self.pending = None
        self.phase = "cancelled"
        self.message = self.words.phrase("cancelled")
        self._recent.append(Utterance(now, self.transcript, "cancelled"))
        return self._say(self.message)

    def tick(self, now: float) -> list[Effect]:
        """Time passed: a confirmation not started within ``confirm_s`` cancels."""
        return self._expire(now)

    def command_updated(self, status: CommandStatus, now: float) -> list[Effect]:
        """A status of a command this dialogue dispatched: speak the result once it is final."""
        sent = self._sent.get(status.cmd_id)
        if sent is None or status.state not in FINAL_STATES:
            return []
        del self._sent[status.cmd_id]
        text = self.words.result(sent.proposal, status)
        self._recent.append(
            Utterance(now, sent.proposal.heard.transcript, status.state.lower(), 0.0)
        )
        if self.phase == "dispatched":
            self.message = text
        return self._say(text)

    # -- reading --------------------------------------------------------------------------------

    @property
    def confirm_only(self) -> bool:
        """Whether the next utterance is heard in the confirm-only context."""
        return self.pending is not None

    def view(self, now: float) -> DialogueView:
        """A copy for the screen (``seconds_left``: the countdown while confirming)."""
        left = max(0.0, self.deadline - now) if self.pending is not None else None
        return DialogueView(
            phase=self.phase,
            confirm_only=self.pending is not None,
            proposal=self.pending,
            seconds_left=left,
            message=self.message,
            transcript=self.transcript,
            recent=tuple(reversed(self._recent)),
        )

    @property
    def in_flight(self) -> list[str]:
        """Command ids dispatched by voice whose result has not been spoken yet."""
        return list(self._sent)

    # -- transitions ----------------------------------------------------------------------------

    def _propose(self, intent: Intent, heard: Heard, now: float) -> list[Effect]:
        readback = self.words.readback(intent)
        machine = intent.machine or (readback.machine if readback is not None else None)
        if readback is None or machine is None:
            return self._rest("not_understood", self.words.phrase("not_understood"), heard, now)
        kind: Literal["command", "ack_alarm"] = (
            "ack_alarm" if intent.kind == "ack_alarm" else "command"
        )
        proposal = Proposal(
            kind=kind,
            machine=machine,
            command=intent.command or "",
            args=dict(intent.args),
            heard=heard,
            readback=readback,
            cmd_id=self.new_id(),
        )
        if kind == "command":
            grant = self.grant_of(proposal.machine, proposal.command)
            if grant is None:
                return self._rest("refused", self.words.phrase("log_in"), heard, now)
            if not grant.allowed:
                return self._rest(
                    "refused", grant.why or self.words.phrase("not_allowed"), heard, now
                )
            proposal = replace(proposal, tier=grant.tier)
            if grant.tier >= 3:
                self._note(heard, "handed to touch", now)
                self.phase = "handed_to_touch"
                self.message = f"{readback.screen} — {self.words.phrase('sign_on_touch')}"
                return [HandToTouch(proposal), *self._say(self.words.phrase("sign_on_touch"))]
            if not grant.voice:
                return self._rest("refused", self.words.phrase("not_by_voice"), heard, now)
        self.pending = proposal
        self.deadline = now + self.confirm_s
        self.phase = "confirming"
        self.message = readback.screen
        self._note(heard, "read back", now)
        return self._say(readback.spoken)

    def _while_confirming(self, intent: Intent | None, heard: Heard, now: float) -> list[Effect]:
        kind = intent.kind if intent is not None else None
        if kind == "confirm":
            self._note(heard, "confirmed", now)
            if now > self.deadline + self.confirm_s:  # the answer itself took far too long
                return self._time_out(now)
            return self._dispatch(now)
        if kind == "cancel":
            self.pending = None
            return self._rest("cancelled", self.words.phrase("cancelled"), heard, now)
        if now >= self.deadline:
            self._note(heard, "too late", now)
            return self._time_out(now)
        self.phase = "confirming"
        assert self.pending is not None
        if kind == "repeat":
            self._note(heard, "repeat", now)
            self.deadline = now + self.confirm_s
            return self._say(self.pending.readback.spoken)
        self._note(heard, "not understood", now)
        self.message = f"{self.pending.readback.screen} — {self.words.phrase('confirm_or_cancel')}"
        return self._say(self.words.phrase("confirm_or_cancel"))

    def _dispatch(self, now: float) -> list[Effect]:
        proposal = self.pending
        assert proposal is not None
        self.pending = None
        self.phase = "dispatched"
        self.message = f"{proposal.readback.screen} — {self.words.phrase('sent')}"
        if proposal.kind == "command":  # its result is spoken when the command is final
            self._sent[proposal.cmd_id] = _Sent(proposal, now)
        return [Dispatch(proposal)]

    def _expire(self, now: float) -> list[Effect]:
        if self.pending is not None and self.phase == "confirming" and now >= self.deadline:
            return self._time_out(now)
        return []

    def _time_out(self, now: float) -> list[Effect]:
        self.pending = None
        self.phase = "timed_out"
        self.message = self.words.phrase("timed_out")
        self._recent.append(Utterance(now, self.transcript, "timed out"))
        return self._say(self.message)

    def _rest(self, phase: Phase, message: str, heard: Heard, now: float) -> list[Effect]:
        self.phase = phase
        self.message = message
        self._note(heard, phase.replace("_", " "), now)
        return self._say(message)

    def _note(self, heard: Heard, outcome: str, now: float) -> None:
        shown = heard.transcript or (f"({heard.reason.replace('_', ' ')})" if heard.reason else "")
        self._recent.append(Utterance(now, shown, outcome, heard.confidence))

    def _say(self, text: str) -> list[Effect]:
        if not text:
            return []
        self._last_said = text
        return [Say(text)]
