"""Site alarm configuration: what overrides the alarms machines declare, and the mode table.

The master alarm database of alarm rationalisation. A site's TOML file (loaded by
:func:`load_config`, described in ``docs/alarm-config.md``) overrides, per machine kind,
machine or tag (wildcards), the limits, priorities, delays and deadbands a BIRTH declares, and
the table of what each machine mode does to alarms (:data:`DEFAULT_MODES`).

Mode policies:

* ``enabled`` — alarms are raised and announced.
* ``silenced`` — raised and shown, never announced (setup, startup).
* ``running_only_suppressed`` — alarms that only mean something while the machine runs
  (``running_only``, and low limits by default) are suppressed by design; the others as
  ``enabled``.
* ``suppressed`` — every alarm of the machine except its communication loss is suppressed.

Suppressed alarms are still evaluated and journaled; they are not shown as needing action.

Contract
--------
* :func:`load_config` checks everything that can be checked without a plant and raises
  :class:`AlarmConfigError` with one sentence naming the file, the rule (1-based, file order)
  or ``[modes]`` key, and what to do.
* :meth:`AlarmConfig.effective` never raises on a BIRTH: a rule that cannot apply to a tag
  (limits out of order once merged with the machine's own, an enum label the tag does not
  have) is ignored for that tag and one sentence is added to :attr:`AlarmConfig.warnings`
  (each sentence once). It returns a new :class:`TagSpec` whose ``alarm`` is never ``None``
  (or the tag itself when nothing changes), or ``None`` when the site turned the tag's alarms
  off. Results are cached per machine and tag and shared: treat them as read-only.
"""

from __future__ import annotations

import difflib
import fnmatch
import itertools
import logging
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import msgspec

from copilot.protocol import MachineInfo, TagSpec
from copilot.protocol.messages import LIMIT_CONDITIONS, PRIORITIES, AlarmSpec, Limits, Priority

log = logging.getLogger("copilot.alarms")

ModePolicy = Literal["enabled", "silenced", "running_only_suppressed", "suppressed"]
MODE_POLICIES: tuple[ModePolicy, ...] = (
    "enabled",
    "silenced",
    "running_only_suppressed",
    "suppressed",
)

DEFAULT_MODES: Mapping[str, ModePolicy] = {
    "running": "enabled",
    "fault": "running_only_suppressed",  # the trip is the alarm; the lows that follow are not
    "setup": "silenced",
    "startup": "silenced",
    "idle": "running_only_suppressed",
    "stopped": "running_only_suppressed",
    "maintenance": "running_only_suppressed",
}
"""What each machine mode (the ``state`` tag's label) does to alarms; other modes: enabled."""

CONFIG_VERSION = 1
"""The file format's version (the optional top-level ``version`` key)."""

LIMIT_NAMES: tuple[str, ...] = ("lolo", "lo", "hi", "hihi")
"""Alarm limits from lowest to highest: present ones must not decrease along this order."""

PRIORITY_CONDITIONS: tuple[str, ...] = (*LIMIT_CONDITIONS, "roc", "on")
"""The conditions a rule's ``priorities`` may name (a machine's ``comm`` alarm is not a tag's)."""

MAX_DELAY_S = 3600.0
"""Longest on- or off-delay a rule may set (seconds)."""

MAX_WARNINGS = 1000
"""At most this many warning sentences are kept; later ones are only counted."""

_CACHE_MAX = 200_000  # cached (machine, tag) results before the cache starts afresh
_MODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_GLOB_CHARS = frozenset("*?[")
_NUMERIC = frozenset({"float", "int"})
_DISCRETE = frozenset({"bool", "enum"})

_LIMIT_WORDS = {"low": "lo", "lowlow": "lolo", "high": "hi", "highhigh": "hihi"}
"""Limit names people write, without '_' or '-', and the name this file uses."""

_SELECTORS = ("kind", "machine", "tag")
_RULE_KEYS = (
    *_SELECTORS,
    "limits",
    "deadband",
    "priority",
    "priorities",
    "on_delay_s",
    "off_delay_s",
    "roc",
    "on",
    "latched",
    "running_only",
    "enabled",
    "message",
)
_TOP_KEYS = ("version", "modes", "rule")


class AlarmConfigError(ValueError):
    """A site alarm file cannot be used; the message is one sentence saying what to fix."""


def _number(x: float) -> str:
    """``80``, ``2.5``: a number as people write it."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _value(v: int | str) -> str:
    """A value of ``on`` as the file wrote it: ``true``, ``1``, ``fault``."""
    return str(v).lower() if isinstance(v, bool) else str(v)


def _seconds(ms: int) -> str:
    return f"{_number(ms / 1000)} s"


def _compile(globs: Sequence[str]) -> re.Pattern[str] | None:
    """One pattern matching any of ``globs`` (fnmatch, case-sensitive); None matches all."""
    if not globs:
        return None
    return re.compile("|".join(fnmatch.translate(g) for g in globs))


@dataclass(frozen=True)
class AlarmRule:
    """One ``[[rule]]`` of a site alarm file, checked.

    Selectors (``kind``, ``machine``, ``tag``) hold fnmatch globs, any of which may match;
    an empty selector matches everything. Every other field is ``None`` (or empty) when the
    rule does not set it. In ``limits``, ``priorities`` and ``roc``, ``False`` removes what the
    machine (or an earlier rule) set. ``on`` may hold enum labels, resolved per tag.
    """

    number: int
    kind: tuple[str, ...] = ()
    machine: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    limits: Mapping[str, float | Literal[False]] = field(default_factory=dict)
    deadband: float | None = None
    priority: Priority | None = None
    priorities: Mapping[str, Priority | Literal[False]] = field(default_factory=dict)
    on_delay_ms: int | None = None
    off_delay_ms: int | None = None
    roc: float | Literal[False] | None = None
    on: tuple[int | str, ...] | None = None
    latched: bool | None = None
    running_only: bool | None = None
    enabled: bool | None = None
    message: str | None = None
    _kind_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _machine_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _tag_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_kind_re", _compile(self.kind))
        object.__setattr__(self, "_machine_re", _compile(self.machine))
        object.__setattr__(self, "_tag_re", _compile(self.tag))

    def matches_machine(self, kind: str, machine_id: str) -> bool:
        """Whether the rule's ``kind`` and ``machine`` selectors take this machine."""
        return (self._kind_re is None or self._kind_re.match(kind) is not None) and (
            self._machine_re is None or self._machine_re.match(machine_id) is not None
        )

    def matches_tag(self, tag_name: str) -> bool:
        """Whether the rule's ``tag`` selector takes a tag of this name."""
        return self._tag_re is None or self._tag_re.match(tag_name) is not None

    def matches(self, machine: MachineInfo, tag_name: str) -> bool:
        """Whether the rule applies to tag ``tag_name`` of ``machine``."""
        return self.matches_machine(machine.kind, machine.id) and self.matches_tag(tag_name)

    @property
    def names_one_tag(self) -> bool:
        """Whether ``tag`` names a single tag without wildcards (a mistake then gets a warning)."""
        return len(self.tag) == 1 and not (_GLOB_CHARS & set(self.tag[0]))

    @property
    def selector(self) -> str:
        """What the rule applies to: ``press-* / oil_temp_c``, ``kind cnc / every tag``."""
        return _selector_words(self.kind, self.machine, self.tag)

    def describe(self) -> str:
        """What the rule changes, in plain words: ``HI 80, HIHI 95 (critical), on-delay 2 s``."""
        words: list[str] = []
        if self.enabled is not None:
            words.append("alarms on" if self.enabled else "alarms off")
        said: set[str] = set()
        for name in LIMIT_NAMES:
            if name in self.limits:
                value = self.limits[name]
                label = name.upper()
                if value is False:
                    words.append(f"no {label}")
                    continue
                prio = self.priorities.get(name)
                words.append(f"{label} {_number(value)}" + (f" ({prio})" if prio else ""))
                said.add(name)
        if self.roc is False:
            words.append("no rate-of-change alarm")
        elif self.roc is not None:
            prio = self.priorities.get("roc")
            words.append(f"rate of change {_number(self.roc)}/s" + (f" ({prio})" if prio else ""))
            said.add("roc")
        if self.on is not None:
            values = ", ".join(_value(v) for v in self.on)
            words.append(f"alarm on {values}" if values else "no discrete alarm")
        if self.priority is not None:
            words.append(f"priority {self.priority}")
        for cond, prio in self.priorities.items():
            if cond not in said:
                what = "default" if prio is False else prio
                words.append(f"{cond.upper()} priority {what}")
        if self.deadband is not None:
            words.append(f"deadband {_number(self.deadband)}")
        if self.on_delay_ms is not None:
            words.append(f"on-delay {_seconds(self.on_delay_ms)}")
        if self.off_delay_ms is not None:
            words.append(f"off-delay {_seconds(self.off_delay_ms)}")
        if self.latched is not None:
            words.append("latched" if self.latched else "not latched")
        if self.running_only is not None:
            words.append("running only" if self.running_only else "not running only")
        if self.message is not None:
            words.append(f"message {self.message!r}")
        return ", ".join(words)


def _selector_words(kind: Sequence[str], machine: Sequence[str], tag: Sequence[str]) -> str:
    where = []
    if kind:
        where.append("kind " + " or ".join(kind))
    if machine:
        where.append(" or ".join(machine))
    return f"{', '.join(where) or 'every machine'} / {' or '.join(tag) or 'every tag'}"


_CacheKey = tuple[str, str, str]


@dataclass(frozen=True)
class AlarmConfig:
    """The site's alarm configuration (the default has no overrides and the default modes).

    ``rules`` apply in order, later ones winning key by key. ``warnings`` collects, once each,
    the sentences :meth:`effective` wrote about rules it had to ignore for a tag;
    ``warnings_dropped`` counts those past :data:`MAX_WARNINGS`. Not thread-safe: one owner
    (the hub's alarm service) calls :meth:`effective`.
    """

    modes: Mapping[str, ModePolicy] = field(default_factory=lambda: dict(DEFAULT_MODES))
    source: str = ""
    rules: tuple[AlarmRule, ...] = ()
    warnings: list[str] = field(default_factory=list, compare=False)
    _warned: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    _dropped: list[int] = field(default_factory=lambda: [0], init=False, repr=False, compare=False)
    _by_machine: dict[tuple[str, str], tuple[AlarmRule, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _results: dict[_CacheKey, tuple[TagSpec, TagSpec | None]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def warnings_dropped(self) -> int:
        """How many warning sentences were not kept (past :data:`MAX_WARNINGS`)."""
        return self._dropped[0]

    def policy(self, state: str | None) -> ModePolicy:
        """What machine mode ``state`` does to alarms (unknown or no mode: ``enabled``)."""
        if not state:
            return "enabled"
        return self.modes.get(state.lower(), "enabled")

    def rules_for(self, machine: MachineInfo, tag_name: str) -> tuple[AlarmRule, ...]:
        """The rules that apply to tag ``tag_name`` of ``machine``, in file order."""
        key = (machine.kind, machine.id)
        mine = self._by_machine.get(key)
        if mine is None:
            if len(self._by_machine) >= _CACHE_MAX:
                self._by_machine.clear()
            mine = tuple(r for r in self.rules if r.matches_machine(machine.kind, machine.id))
            self._by_machine[key] = mine
        return tuple(r for r in mine if r.matches_tag(tag_name))

    def effective(self, machine: MachineInfo, tag: TagSpec) -> TagSpec | None:
        """``tag`` as the site wants it alarmed (``None``: the site turned its alarms off).

        The result's ``limits``, ``deadband`` and ``alarm`` are the machine's own declaration
        with the matching rules applied in file order. A tag no rule matches is returned as it
        is (its ``alarm`` may be ``None``), allocating nothing: a plant's tens of thousands of
        tags cost the hub no second copy. Merged results are cached per (kind, machine, tag
        name) while the BIRTH's spec stays equal, and shared: do not change them.
        """
        rules = self.rules_for(machine, tag.name)
        if not rules:
            return tag
        key = (machine.kind, machine.id, tag.name)
        hit = self._results.get(key)
        if hit is not None and (hit[0] is tag or hit[0] == tag):
            return hit[1]
        result = self._merge(machine, tag, rules)
        if len(self._results) >= _CACHE_MAX:
            self._results.clear()
        self._results[key] = (tag, result)
        return result

    # -- merging -------------------------------------------------------------------------------

    def _warn(self, rule: AlarmRule, text: str) -> None:
        where = f"Alarm config {self.source}" if self.source else "Alarm config"
        sentence = f"{where}, rule {rule.number} ({rule.selector}): {text}."
        if sentence in self._warned:
            return
        if len(self.warnings) >= MAX_WARNINGS:
            self._dropped[0] += 1
            return
        self._warned.add(sentence)
        self.warnings.append(sentence)
        log.warning("%s", sentence)

    def _not_for(self, rule: AlarmRule, machine: MachineInfo, tag: TagSpec, what: str) -> None:
        """A key that cannot apply to this tag's type: said when the rule named the tag."""
        if rule.names_one_tag:
            self._warn(
                rule,
                f"{tag.name} of {machine.id} is a {tag.type} tag, so the rule's {what} key is "
                "ignored for it",
            )

    def _discrete_values(
        self, rule: AlarmRule, machine: MachineInfo, tag: TagSpec, values: Sequence[int | str]
    ) -> list[int] | None:
        """``on`` with enum labels turned into values; None (and a warning) if one cannot be."""
        labels = tag.labels or []
        out: list[int] = []
        for v in values:
            if isinstance(v, str):
                if v in labels:
                    out.append(labels.index(v))
                    continue
                lowered = [label.lower() for label in labels]
                if v.lower() in lowered:
                    out.append(lowered.index(v.lower()))
                    continue
                has = f"its labels are {', '.join(labels)}" if labels else "it has no labels"
                self._warn(
                    rule,
                    f"{tag.name} of {machine.id} has no label {v!r} ({has}), so the rule's on "
                    "is ignored for that tag",
                )
                return None
            v = int(v)  # true/false as 1/0
            top = 1 if tag.type == "bool" else len(labels) - 1 if labels else None
            if top is not None and v > top:
                self._warn(
                    rule,
                    f"{tag.name} of {machine.id} ({tag.type}) never takes the value {v} "
                    f"(0 to {top}), so the rule's on is ignored for that tag",
                )
                return None
            out.append(v)
        return out

    def _merge(
        self, machine: MachineInfo, tag: TagSpec, rules: Sequence[AlarmRule]
    ) -> TagSpec | None:
        if not rules:
            return tag if tag.alarm is not None else msgspec.structs.replace(tag, alarm=AlarmSpec())
        enabled = True
        for rule in rules:
            if rule.enabled is not None:
                enabled = rule.enabled
        if not enabled:
            return None
        base = tag.alarm if tag.alarm is not None else AlarmSpec()
        old = tag.limits
        limits: dict[str, float | None] = {
            name: (getattr(old, name) if old is not None else None) for name in LIMIT_NAMES
        }
        deadband = tag.deadband
        priorities: dict[str, Priority] = dict(base.priorities)
        on = list(base.on)
        priority = base.priority
        roc = base.roc
        latched, running_only = base.latched, base.running_only
        on_delay_ms, off_delay_ms = base.on_delay_ms, base.off_delay_ms
        message = base.message
        numeric, discrete = tag.type in _NUMERIC, tag.type in _DISCRETE
        for rule in rules:
            if rule.limits:
                if not numeric:
                    self._not_for(rule, machine, tag, "limits")
                else:
                    trial = dict(limits)
                    for name, value in rule.limits.items():
                        trial[name] = None if value is False else value
                    bad = _out_of_order(trial)
                    if bad is not None and _out_of_order(limits) is None:
                        low, lv, high, hv = bad
                        self._warn(
                            rule,
                            f"on {tag.name} of {machine.id} it would put {low.upper()} "
                            f"{_number(lv)} above {high.upper()} {_number(hv)}, so the rule's "
                            "limits are ignored for that tag",
                        )
                    else:
                        limits = trial
            if rule.deadband is not None:
                if numeric:
                    deadband = rule.deadband
                else:
                    self._not_for(rule, machine, tag, "deadband")
            if rule.roc is not None:
                if numeric:
                    roc = None if rule.roc is False else rule.roc
                else:
                    self._not_for(rule, machine, tag, "roc")
            if rule.on is not None:
                if discrete:
                    values = self._discrete_values(rule, machine, tag, rule.on)
                    if values is not None:
                        on = values
                else:
                    self._not_for(rule, machine, tag, "on")
            if rule.priority is not None:
                priority = rule.priority
            for cond, prio in rule.priorities.items():
                if prio is False:
                    priorities.pop(cond, None)
                else:
                    priorities[cond] = prio
            if rule.on_delay_ms is not None:
                on_delay_ms = rule.on_delay_ms
            if rule.off_delay_ms is not None:
                off_delay_ms = rule.off_delay_ms
            if rule.latched is not None:
                latched = rule.latched
            if rule.running_only is not None:
                running_only = rule.running_only
            if rule.message is not None:
                message = rule.message
        alarm = AlarmSpec(
            priorities=priorities,
            on=on,
            priority=priority,
            roc=roc,
            latched=latched,
            running_only=running_only,
            on_delay_ms=on_delay_ms,
            off_delay_ms=off_delay_ms,
            message=message,
        )
        merged = Limits(**limits) if any(v is not None for v in limits.values()) else None
        return msgspec.structs.replace(tag, limits=merged, deadband=deadband, alarm=alarm)


def _out_of_order(
    limits: Mapping[str, float | Literal[False] | None],
) -> tuple[str, float, str, float] | None:
    """The first two present limits out of order (lower name, its value, higher, its value)."""
    present = [
        (name, float(v))
        for name in LIMIT_NAMES
        if (v := limits.get(name)) is not None and v is not False
    ]
    for (low, lv), (high, hv) in itertools.pairwise(present):
        if lv > hv:
            return low, lv, high, hv
    return None


# -- loading -----------------------------------------------------------------------------------


def load_config(path: str | Path) -> AlarmConfig:
    """Read and check a site alarm file (TOML; see ``docs/alarm-config.md``).

    Raises:
        AlarmConfigError: the file cannot be read, is not TOML, or something in it is wrong;
            the message is one sentence naming the file, the rule or key, and what to do.

    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AlarmConfigError(
            f"Alarm config {source} cannot be read: {exc.strerror or exc}."
        ) from None
    except UnicodeDecodeError:
        raise AlarmConfigError(
            f"Alarm config {source} is not UTF-8 text; save it as UTF-8."
        ) from None
    return parse_config(text, source)


def parse_config(text: str, source: str = "") -> AlarmConfig:
    """Check the TOML text of a site alarm file; ``source`` names it in error messages.

    Raises:
        AlarmConfigError: as :func:`load_config`.

    """
    where = f"Alarm config {source}" if source else "Alarm config"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AlarmConfigError(f"{where} is not valid TOML: {exc}.") from None
    for key in data:
        if key not in _TOP_KEYS:
            raise AlarmConfigError(
                f"{where}: unknown top-level key {key!r}{_did_you_mean(key, _TOP_KEYS)}; "
                "a site alarm file holds version, [modes] and [[rule]] tables."
            )
    version = data.get("version", CONFIG_VERSION)
    if version != CONFIG_VERSION or isinstance(version, bool):
        raise AlarmConfigError(
            f"{where}: version {version!r} is not supported; this program reads version "
            f"{CONFIG_VERSION} (or leave version out)."
        )
    modes = _parse_modes(where, data.get("modes", {}))
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise AlarmConfigError(
            f"{where}: 'rule' must be a list of [[rule]] tables (write [[rule]] above each one)."
        )
    rules = tuple(_parse_rule(where, i + 1, raw) for i, raw in enumerate(raw_rules))
    return AlarmConfig(modes={**DEFAULT_MODES, **modes}, source=source, rules=rules)


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _shown(value: object) -> str:
    """A TOML value and its type in words, for 'must be ..., not ...'."""
    match value:
        case bool():
            return f"{str(value).lower()} (true/false)"
        case int() | float():
            return f"{_number(value)} (a number)"
        case str():
            return f"{value!r} (text)"
        case list():
            return "a list"
        case dict():
            return "a table"
        case _:
            return f"{value} ({type(value).__name__})"


def _parse_modes(where: str, raw: object) -> dict[str, ModePolicy]:
    if not isinstance(raw, dict):
        raise AlarmConfigError(
            f"{where}: 'modes' must be a [modes] table of mode = policy, not {_shown(raw)}."
        )
    out: dict[str, ModePolicy] = {}
    for name, policy in raw.items():
        if not _MODE_RE.match(name):
            hint = (
                f"write it in lower case ({name.lower()})"
                if _MODE_RE.match(name.lower())
                else "a mode is the state tag's label: one word of lower-case letters, "
                "digits and '_', starting with a letter"
            )
            raise AlarmConfigError(f"{where}, [modes]: {name!r} is not a mode name; {hint}.")
        if policy not in MODE_POLICIES:
            shown = _shown(policy) if not isinstance(policy, str) else repr(policy)
            raise AlarmConfigError(
                f"{where}, [modes] {name}: {shown} is not a mode policy"
                f"{_did_you_mean(str(policy), MODE_POLICIES)}; use one of "
                f"{', '.join(MODE_POLICIES)}."
            )
        out[name] = cast(ModePolicy, policy)
    return out


class _RuleError(Exception):
    """Raised inside one rule's checks; the loader adds the file and the rule."""


def _raw_globs(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, str) else repr(v) for v in value]
    return [repr(value)] if value is not None else []


def _parse_rule(where: str, number: int, raw: dict[str, Any]) -> AlarmRule:
    label = _selector_words(*(_raw_globs(raw.get(k)) for k in _SELECTORS))
    try:
        return _check_rule(number, raw)
    except _RuleError as exc:
        raise AlarmConfigError(f"{where}, rule {number} ({label}): {exc}") from None


def _problem(text: str) -> _RuleError:
    return _RuleError(text if text.endswith(("?", ".")) else text + ".")


def _globs(key: str, value: object) -> tuple[str, ...]:
    raw = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in raw):
        raise _problem(f"{key} must be a name or pattern, or a list of them, not {_shown(value)}")
    values = cast(list[str], raw)
    if not values or any(not v for v in values):
        raise _problem(
            f"an empty {key} matches nothing; leave {key} out to mean every {key}"
            if key != "kind"
            else "an empty kind matches nothing; leave kind out to mean every kind"
        )
    if key == "machine":
        for glob in values:
            bad = _non_id_chars(glob)
            if bad:
                raise _problem(
                    f"machine {glob!r} can never match a machine id because of {bad!r} "
                    "(ids are lower-case letters, digits, '-' and '_'; wildcards * ? [...])"
                )
    return tuple(values)


def _non_id_chars(glob: str) -> str:
    """The characters of ``glob``, outside wildcards and [...] sets, no machine id can have."""
    bad = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if c == "[":
            j = i + 1
            if j < len(glob) and glob[j] == "!":
                j += 1
            if j < len(glob) and glob[j] == "]":
                j += 1
            close = glob.find("]", j)
            if close != -1:
                i = close + 1
                continue
        if c not in _ID_CHARS and c not in "*?":
            bad.append(c)
        i += 1
    return "".join(dict.fromkeys(bad))


def _real(key: str, value: object, *, minimum: float | None = 0.0, unit: str = "") -> float:
    """A finite number (int or float, not a bool) at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _problem(f"{key} must be a number{unit}, not {_shown(value)}")
    if not math.isfinite(value):
        raise _problem(f"{key} must be a finite number{unit}, not {value}")
    if minimum is not None and value < minimum:
        raise _problem(f"{key} must be {_number(minimum)} or more{unit}, not {_number(value)}")
    return float(value)


def _flag(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _problem(f"{key} must be true or false, not {_shown(value)}")
    return value


def _priority(key: str, value: object) -> Priority:
    if value not in PRIORITIES:
        shown = repr(value) if isinstance(value, str) else _shown(value)
        raise _problem(
            f"{key} {shown} is not a priority{_did_you_mean(str(value), PRIORITIES)}; "
            f"use one of {', '.join(PRIORITIES)}"
        )
    return cast(Priority, value)


def _table(key: str, value: object, names: Sequence[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        example = "{ hi = 80.0, hihi = 95.0 }" if key == "limits" else '{ hihi = "critical" }'
        raise _problem(f"{key} must be a table such as {example}, not {_shown(value)}")
    for name in value:
        if name not in names:
            meant = _LIMIT_WORDS.get(name.lower().replace("_", "").replace("-", ""))
            hint = f" (did you mean {meant!r}?)" if meant else _did_you_mean(name, names)
            raise _problem(f"{key} has no {name!r}{hint}; it takes {', '.join(names)}")
    return value


def _check_rule(number: int, raw: dict[str, Any]) -> AlarmRule:
    for key in raw:
        if key not in _RULE_KEYS:
            hint = _did_you_mean(key, _RULE_KEYS)
            raise _problem(
                f"unknown key {key!r}{hint}"
                if hint
                else f"unknown key {key!r}; a rule takes {', '.join(_RULE_KEYS)}"
            )
    if not set(raw) - set(_SELECTORS):
        raise _problem(
            "it changes nothing; give it limits, priority, enabled or another key to set"
        )
    fields: dict[str, Any] = {k: _globs(k, raw[k]) for k in _SELECTORS if k in raw}
    if "limits" in raw:
        limits: dict[str, float | Literal[False]] = {}
        for name, value in _table("limits", raw["limits"], LIMIT_NAMES).items():
            if value is False:
                limits[name] = False
            elif value is True:
                raise _problem(f"limits.{name} must be a number, or false to remove it, not true")
            else:
                limits[name] = _real(f"limits.{name}", value, minimum=None)
        bad = _out_of_order(limits)
        if bad is not None:
            low, lv, high, hv = bad
            raise _problem(
                f"limits {low} ({_number(lv)}) is above {high} ({_number(hv)}); make {low} at "
                f"most {high}"
            )
        fields["limits"] = limits
    if "deadband" in raw:
        fields["deadband"] = _real("deadband", raw["deadband"])
    if "priority" in raw:
        fields["priority"] = _priority("priority", raw["priority"])
    if "priorities" in raw:
        table = _table("priorities", raw["priorities"], PRIORITY_CONDITIONS)
        fields["priorities"] = {
            cond: False if prio is False else _priority(f"priorities.{cond}", prio)
            for cond, prio in table.items()
        }
    for key, ms_key in (("on_delay_s", "on_delay_ms"), ("off_delay_s", "off_delay_ms")):
        if key in raw:
            seconds = _real(key, raw[key], unit=" seconds")
            if seconds > MAX_DELAY_S:
                raise _problem(
                    f"{key} must be at most {_number(MAX_DELAY_S)} seconds, not "
                    f"{_number(seconds)} (it is in seconds, not milliseconds)"
                )
            fields[ms_key] = round(seconds * 1000)
    if "roc" in raw:
        value = raw["roc"]
        if value is False:
            fields["roc"] = False
        else:
            rate = _real("roc", value, minimum=None, unit=" of units per second")
            if rate <= 0:
                raise _problem(
                    f"roc must be more than 0 units per second (or false to remove it), "
                    f"not {_number(rate)}"
                )
            fields["roc"] = rate
    if "on" in raw:
        fields["on"] = _discrete(raw["on"])
    for key in ("latched", "running_only", "enabled"):
        if key in raw:
            fields[key] = _flag(key, raw[key])
    if "message" in raw:
        if not isinstance(raw["message"], str):
            raise _problem(f"message must be text, not {_shown(raw['message'])}")
        fields["message"] = raw["message"]
    return AlarmRule(number=number, **fields)


def _discrete(value: object) -> tuple[int | str, ...]:
    """``on``: whole numbers 0 or more, true/false (kept as bools), or enum labels."""
    if not isinstance(value, list):
        raise _problem(f'on must be a list such as [1] or ["fault"], not {_shown(value)}')
    out: list[int | str] = []
    for v in value:
        if isinstance(v, bool) or (isinstance(v, int) and v >= 0) or (isinstance(v, str) and v):
            out.append(v)
        else:
            raise _problem(
                f"on holds the values that are the alarm: whole numbers 0 or more, true/false "
                f"or enum labels, not {_shown(v)}"
            )
    return tuple(out)
