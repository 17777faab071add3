"""What the station should sound and say about its alarms: pure logic, no audio, no clock.

:class:`Annunciator` is handed the station's current alarms (``AlarmStatus``, as the hub sends
them) and the time ``now`` (seconds on any steady clock, the same on every call)
and returns a :class:`Decision`:

- **tone** — the priority whose tone is sounding: that of the most urgent alarm that *calls for
  sound*: unacknowledged and announced (not silenced by plant state, suppressed by design,
  shelved or out of service), of priority critical, high, medium or low (diagnostic never
  sounds). ``rtn_unack`` alarms (cleared, not yet acknowledged) sound only with
  ``sound_rtn=True``: the condition is gone, the table still shows them.
- **play** — start the tone now: a new alarm calls for sound, or the tone's repeat interval
  (:data:`REPEAT_S`, per priority) has passed. It repeats until no alarm calls for sound,
  i.e. until every such alarm is acknowledged (or shelved, suppressed, removed).
- **silence** — :meth:`Annunciator.silence` quiets the tone for a while *without acknowledging*
  anything. A new alarm ends the silence at once and sounds; when the silence runs out, the
  alarms still unacknowledged sound again.
- **announce** — new critical and high alarms to be spoken, once per occurrence, most urgent
  first, at most ``max_announce`` per update plus one "and N more" sentence (a flood is not
  read out alarm by alarm); **cancel** — announced alarms that no longer call for sound
  (acknowledged before they were spoken), whose speech should be dropped.
- **next_at** — when to call :meth:`Annunciator.update` again even if no alarm changed (the
  next repeat, or the end of a silence).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from copilot.alarms.wording import Describe, sentence
from copilot.protocol import PRIORITY_RANK, AlarmStatus

TONES: tuple[str, ...] = ("critical", "high", "medium", "low")
"""The priorities that sound, most urgent first; each has ``assets/sounds/<priority>.wav``."""

REPEAT_S: Mapping[str, float] = {"critical": 5.0, "high": 10.0, "medium": 30.0, "low": 60.0}
"""How often a tone repeats while its alarm stays unacknowledged, seconds."""

SPOKEN: tuple[str, ...] = ("critical", "high")
"""The priorities whose new alarms are spoken."""

MORE_KEY = "annunciator/more"
"""The speech key of the "and N more alarms" sentence."""


@dataclass(frozen=True)
class Announcement:
    """A sentence to speak; ``key`` is the alarm id (``Speaker.say(text, priority, key)``)."""

    key: str
    priority: str
    text: str


@dataclass(frozen=True)
class Decision:
    """What should sound and be said now; see the module docstring."""

    tone: str | None = None
    play: bool = False
    next_at: float | None = None
    silenced_until: float | None = None
    sounding: tuple[str, ...] = ()  # ids of the alarms that call for sound, most urgent first
    announce: tuple[Announcement, ...] = ()
    cancel: tuple[str, ...] = ()


def _rank(priority: str) -> int:
    return PRIORITY_RANK.get(priority, len(PRIORITY_RANK))


class Annunciator:
    """Decides the audible side of the alarm list; one per station, called on one thread."""

    def __init__(
        self,
        *,
        repeat_s: Mapping[str, float] = REPEAT_S,
        spoken: Iterable[str] = SPOKEN,
        sound_rtn: bool = False,
        max_announce: int = 3,
        describe: Describe = sentence,
    ) -> None:
        for p in TONES:
            if not repeat_s.get(p, 0) > 0:
                raise ValueError(f"repeat_s[{p!r}] must be a positive number of seconds")
        self._repeat = dict(repeat_s)
        self._spoken = frozenset(spoken)
        self._sound_rtn = sound_rtn
        self._max_announce = max(1, max_announce)
        self._describe = describe
        self._tone: str | None = None
        self._last_play: float | None = None
        self._heard: frozenset[tuple[str, int]] = frozenset()  # calling for sound, last update
        self._silence_until: float | None = None
        self._silenced: frozenset[tuple[str, int]] = frozenset()
        self._announced: set[tuple[str, int]] = set()  # ever announced, while still listed
        self._live: set[str] = set()  # announced ids still calling for sound

    def calls_for_sound(self, alarm: AlarmStatus) -> bool:
        """Whether ``alarm`` is unacknowledged, announced and of a priority that sounds."""
        states = ("unack", "rtn_unack") if self._sound_rtn else ("unack",)
        return (
            alarm.priority in TONES
            and alarm.state in states
            and not alarm.suppressed
            and not alarm.silenced
            and alarm.shelf is None
            and alarm.removed is None
        )

    def silence(self, now: float, for_s: float) -> None:
        """Quiet the tone for ``for_s`` seconds from ``now``; nothing is acknowledged.

        The alarms calling for sound at the last update stay quiet; a new one ends the silence.
        """
        if for_s <= 0:
            self._silence_until = None
            return
        self._silence_until = now + for_s
        self._silenced = self._heard

    @property
    def silenced_until(self) -> float | None:
        """When the current silence ends, or ``None``."""
        return self._silence_until

    def update(self, alarms: Iterable[AlarmStatus], now: float) -> Decision:
        """The decision for the alarms as they are at ``now``."""
        listed: set[tuple[str, int]] = set()
        calling: list[AlarmStatus] = []
        for a in alarms:
            listed.add((a.id, a.occurrence))
            if self.calls_for_sound(a):
                calling.append(a)
        calling.sort(key=lambda a: (_rank(a.priority), a.raised_at, a.id))
        keys = frozenset((a.id, a.occurrence) for a in calling)
        new = keys - self._heard
        self._heard = keys

        announce = self._announcements(calling, listed)
        ids = {a.id for a in calling}
        cancel = tuple(sorted(self._live - ids))
        self._live &= ids

        if self._silence_until is not None and (
            now >= self._silence_until or (keys - self._silenced)
        ):
            self._silence_until = None
        sounding = tuple(a.id for a in calling)
        if not calling:
            self._tone = self._last_play = None
            return Decision(sounding=sounding, announce=announce, cancel=cancel)
        if self._silence_until is not None:
            self._tone = self._last_play = None  # the tone starts afresh when the silence ends
            return Decision(
                next_at=self._silence_until,
                silenced_until=self._silence_until,
                sounding=sounding,
                announce=announce,
                cancel=cancel,
            )

        tone = calling[0].priority
        repeat = self._repeat[tone]
        louder = self._tone is None or _rank(tone) < _rank(self._tone)
        due = self._last_play is None or now >= self._last_play + repeat - 1e-9
        play = bool(new) or louder or due
        self._tone = tone
        if play or self._last_play is None:
            self._last_play = now
        next_at = self._last_play + repeat
        return Decision(
            tone=tone,
            play=play,
            next_at=next_at,
            sounding=sounding,
            announce=announce,
            cancel=cancel,
        )

    def _announcements(
        self, calling: list[AlarmStatus], listed: set[tuple[str, int]]
    ) -> tuple[Announcement, ...]:
        self._announced &= listed  # forget occurrences that left the list
        fresh = [
            a
            for a in calling
            if a.priority in self._spoken and (a.id, a.occurrence) not in self._announced
        ]
        out: list[Announcement] = []
        for a in fresh[: self._max_announce]:
            out.append(Announcement(a.id, a.priority, self._describe(a)))
            self._live.add(a.id)
        rest = fresh[self._max_announce :]
        if rest:
            n = len(rest)
            what = "alarm" if n == 1 else "alarms"
            out.append(Announcement(MORE_KEY, rest[0].priority, f"And {n} more {what}."))
        self._announced.update((a.id, a.occurrence) for a in fresh)
        return tuple(out)
