"""Playbooks: what an anomaly alert probably means and which command would help, as data.

A playbook file (``assets/playbooks/*.toml``, one or more ``[[playbook]]`` tables) says, for an
alert that matches its condition — machine kind (or id) glob, detector kinds, tag glob,
optionally the mode and the direction — one plain explanation and, optionally, a command with
its arguments. :func:`load_playbooks` reads and checks them (a bad file → :class:`PlaybookError`,
one sentence naming the file, the playbook and the field); :meth:`Playbooks.match` finds the
first playbook for an alert (files in name order, playbooks in file order); :func:`suggest`
turns it into a :class:`Suggestion` only if the machine's BIRTH has the command and every
argument fits its range — else the reason it is not offered. Nothing here sends anything: the
station pre-fills its command panel and the person confirms; the hub's gate decides.

Argument values are absolute (``speed_rpm = 6000``, ``mode = "idle"``) or relative to the
argument's current value (``speed_rpm = "-20%"``: 20 % below the setpoint read now).
Pure: no Qt, no sockets, no clock.
"""

from __future__ import annotations

import math
import re
import string
import sys
import sysconfig
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import msgspec

from copilot.arguments import check_args, current_tag
from copilot.protocol import AnomalyAlert, CommandSpec, Range, Scalar, TagSpec

__all__ = [
    "DETECTOR_KINDS",
    "PLACEHOLDERS",
    "Playbook",
    "PlaybookError",
    "Playbooks",
    "Suggestion",
    "by_alarm",
    "default_folders",
    "explain",
    "load_playbooks",
    "suggest",
]

DETECTOR_KINDS = frozenset(
    {"level", "drift", "trend", "variance", "stuck", "dropout", "rate", "envelope", "multivariate"}
)
PLACEHOLDERS = frozenset({"machine", "signal", "tag", "sigma", "since", "mode", "confidence"})
"""What an explanation may say in braces: ``{signal} on {machine} is {sigma}σ off…``."""

_RELATIVE = re.compile(r"^([+-])(\d+(?:\.\d+)?)%$")
_DIRECTIONS = ("up", "down", "any")


class PlaybookError(ValueError):
    """A playbook file cannot be used; the message is one sentence naming the file and field."""


class Playbook(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One condition → explanation → suggested command (see the module docstring)."""

    id: str
    explanation: str
    machine: str = "*"
    detector: list[str] = msgspec.field(default_factory=lambda: ["*"])
    tag: str = "*"
    mode: list[str] = msgspec.field(default_factory=list)
    direction: str = "any"
    command: str = ""
    args: dict[str, float | int | bool | str] = msgspec.field(default_factory=dict)
    source: str = ""  # the file it came from (filled by the loader)

    def matches(self, alert: AnomalyAlert, kind: str) -> bool:
        """Whether the alert (on a machine of ``kind``) meets this playbook's condition."""
        if not (fnmatchcase(kind, self.machine) or fnmatchcase(alert.machine, self.machine)):
            return False
        if "*" not in self.detector and alert.detector not in self.detector:
            return False
        # A multivariate alert has no tag of its own: its top contributor stands for it.
        tag = alert.signals[0] if alert.tag == "-" and alert.signals else alert.tag
        if not fnmatchcase(tag, self.tag):
            return False
        if self.mode and alert.mode not in self.mode:
            return False
        if self.direction == "up":
            return alert.sigma >= 0
        if self.direction == "down":
            return alert.sigma < 0
        return True


class _File(msgspec.Struct, forbid_unknown_fields=True):
    playbook: list[Playbook] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class Suggestion:
    """A command the co-pilot suggests for an alert: checked against the machine's BIRTH."""

    playbook: str
    command: str
    label: str
    args: dict[str, Scalar]
    text: str  # "Suggested: Set spindle speed 6400 rpm"


@dataclass(frozen=True)
class Playbooks:
    """Loaded playbooks, in the order they are tried."""

    items: tuple[Playbook, ...]
    files: tuple[str, ...] = ()

    def match(self, alert: AnomalyAlert, kind: str) -> Playbook | None:
        """The first playbook whose condition the alert meets, or ``None``."""
        return next((p for p in self.items if p.matches(alert, kind)), None)


def default_folders() -> list[Path]:
    """Where the shipped playbooks are: the source tree's ``assets/playbooks``, else installed.

    An installed copy finds them where the wheel's data files went (``share/operator-copilot``
    under the environment, or the user's base for ``pip install --user``).
    """
    folders = [Path(__file__).resolve().parents[2] / "assets" / "playbooks"]
    schemes = {sysconfig.get_path("data"), sys.prefix}
    user = sysconfig.get_preferred_scheme("user")
    schemes.add(sysconfig.get_path("data", user))
    folders += [Path(s) / "share" / "operator-copilot" / "playbooks" for s in sorted(schemes)]
    return folders


def load_playbooks(paths: Sequence[Path] | None = None) -> Playbooks:
    """Every ``*.toml`` of the given files or folders (default: the first shipped folder found).

    Raises :class:`PlaybookError` (one sentence: file, playbook, field) on the first bad file.
    """
    if paths is None:
        found = next((f for f in default_folders() if f.is_dir()), None)
        paths = [found] if found is not None else []
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob("*.toml")) if p.is_dir() else [p]
    items: list[Playbook] = []
    seen: dict[str, str] = {}
    for f in files:
        for book in _load_file(f):
            if book.id in seen:
                raise PlaybookError(
                    f"{f}: playbook {book.id!r}: the id is already used in {seen[book.id]}; "
                    "give each playbook its own id."
                )
            seen[book.id] = f.name
            items.append(book)
    return Playbooks(tuple(items), tuple(str(f) for f in files))


def _load_file(path: Path) -> list[Playbook]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PlaybookError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    try:
        loaded = msgspec.toml.decode(raw, type=_File)
    except msgspec.ValidationError as exc:
        raise PlaybookError(f"{path}: {_where(str(exc))}") from None
    except msgspec.DecodeError as exc:
        raise PlaybookError(f"{path}: is not valid TOML ({exc}).") from None
    books = []
    for i, book in enumerate(loaded.playbook):
        problem = _problem(book)
        if problem:
            name = f"playbook {book.id!r}" if book.id else f"playbook {i + 1}"
            raise PlaybookError(f"{path}: {name}: {problem}")
        books.append(msgspec.structs.replace(book, source=path.name))
    return books


def _where(message: str) -> str:
    """Put msgspec's "Expected `str`, got `int` - at `$.playbook[0].tag`" in people's words."""
    text, _, at = message.partition(" - at ")
    at = at.strip("`")
    named = text.split("`")[1] if text.count("`") >= 2 else ""
    found = re.match(r"\$\.playbook\[(\d+)\]\.?(.*)", at)
    if found is None:
        if text.startswith("Object contains unknown field"):
            return f"`{named}` is not known here; a file holds [[playbook]] tables only."
        return f"{text.rstrip('.')}."
    field = found[2]
    if text.startswith("Object contains unknown field"):
        field, text = ".".join(x for x in (field, named) if x), "is not a playbook field"
        text += " (see docs/anomaly.md)"
    elif text.startswith("Object missing required field"):
        field, text = ".".join(x for x in (field, named) if x), "is missing"
    else:
        text = text[0].lower() + text[1:]
    return f"playbook {int(found[1]) + 1}: `{field}` {text.rstrip('.')}."


def _problem(book: Playbook) -> str:
    """What is wrong with a decoded playbook, in one sentence (empty: nothing)."""
    if not book.id.strip():
        return "`id` must not be empty."
    if not book.explanation.strip():
        return "`explanation` must say what the alert probably means."
    bad = [d for d in book.detector if d != "*" and d not in DETECTOR_KINDS]
    if bad:
        return f"`detector` {bad[0]!r} is not one of {', '.join(sorted(DETECTOR_KINDS))} or *."
    if book.direction not in _DIRECTIONS:
        return f"`direction` must be up, down or any, not {book.direction!r}."
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(book.explanation) if f is not None}
    except ValueError as exc:
        return f"`explanation` has a stray brace ({exc})."
    unknown = sorted(n for n in names if n not in PLACEHOLDERS)
    if unknown:
        return (
            f"`explanation` says {{{unknown[0]}}}, which is not one of "
            f"{', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}."
        )
    if book.args and not book.command:
        return "`args` are given without a `command`."
    for name, value in book.args.items():
        if isinstance(value, str) and value.endswith("%") and not _RELATIVE.match(value):
            return f'`args.{name}` {value!r} is not a relative change such as "-20%".'
    return ""


def _sigma_words(sigma: float) -> str:
    return f"{abs(sigma):.1f}"


def explain(
    book: Playbook, alert: AnomalyAlert, machine_name: str, signal: str, now_ns: int
) -> str:
    """The playbook's explanation with the alert's facts filled in."""
    minutes = max(0.0, (now_ns - alert.since) / 60e9) if alert.since else 0.0
    since = f"{minutes:.0f} min" if minutes >= 1.5 else "a minute"
    values = {
        "machine": machine_name,
        "signal": signal,
        "tag": alert.tag,
        "sigma": _sigma_words(alert.sigma),
        "since": since,
        "mode": alert.mode or "its current",
        "confidence": f"{alert.confidence * 100:.0f} %",
    }
    return book.explanation.format_map(values)


def _number(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}"


def _decimals(spec_range: float) -> int:
    return 0 if spec_range >= 1000 else 1 if spec_range >= 50 else 2


def suggest(
    book: Playbook,
    commands: Sequence[CommandSpec],
    tags: Sequence[TagSpec],
    current: Callable[[str], Scalar | None],
) -> Suggestion | str:
    """The playbook's command for this machine, or the one sentence why it is not offered.

    ``current(tag)`` is a tag's current Good value (``None`` if there is none); a relative
    argument needs one. Offered only if the BIRTH has the command, the playbook gives exactly
    its arguments and every value fits (the gate checks again when it is sent).
    """
    if not book.command:
        return "This playbook suggests no command."
    spec = next((c for c in commands if c.name == book.command), None)
    if spec is None:
        return f"This machine has no {book.command} command."
    args: dict[str, Scalar] = {}
    by_name = {a.name: a for a in spec.args}
    for name, value in book.args.items():
        arg = by_name.get(name)
        if arg is None:
            return f"{spec.label or spec.name} takes no {name}."
        rel = _RELATIVE.match(value) if isinstance(value, str) else None
        if rel is None:
            args[name] = float(value) if arg.type == "float" and _plain_number(value) else value
            continue
        tag = current_tag(arg, tags)
        now = current(tag.name) if tag is not None else None
        if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
            return f"The current {(arg.description or name).lower()} is not known."
        factor = 1 + (1 if rel[1] == "+" else -1) * float(rel[2]) / 100
        span = arg.range.hi - arg.range.lo if arg.range is not None else 100.0
        new = round(float(now) * factor, _decimals(span) if arg.type == "float" else 0)
        args[name] = int(new) if arg.type == "int" else new
    problem = check_args(spec, args)
    if problem is not None:
        return problem.sentence
    label = spec.label or spec.name.replace("_", " ").capitalize()
    parts = [_value_text(by_name[n].unit, v, by_name[n].range) for n, v in args.items()]
    text = f"Suggested: {label}" + (f" {', '.join(parts)}" if parts else "")
    return Suggestion(book.id, spec.name, label, args, text)


def _plain_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value_text(unit: str, value: Scalar, rng: Range | None) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        span = (rng.hi - rng.lo) if rng is not None else 100.0
        return f"{_number(float(value), _decimals(span))} {unit}".strip()
    return str(value)


def by_alarm(alerts: Sequence[AnomalyAlert]) -> Mapping[str, AnomalyAlert]:
    """The newest alert of each alarm id."""
    out: dict[str, AnomalyAlert] = {}
    for a in alerts:
        if a.alarm not in out or a.at > out[a.alarm].at:
            out[a.alarm] = a
    return out
