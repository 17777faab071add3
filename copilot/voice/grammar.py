"""The grammar a recognizer is bound to, built from live data and the locale's templates.

:func:`build_grammar` turns a :class:`~copilot.voice.types.Context` (machines with their BIRTH
command catalogue and spoken names, the machine on screen, confirm-only) and the
:class:`~copilot.voice.templates.Templates` into a :class:`Grammar`: sentences made of literal
words and typed slots (a machine, a number within an argument's range, an enum choice, a unit).
The same object writes the JSGF text for pocketsphinx, the phrase list for vosk, parses a
recognised word sequence back into intents with typed slots (exact match only), and yields
sample phrases with their expected intents for the evaluation.

Context keeps each grammar small: the commands of the machine on screen need no machine name,
a confirmation hears only confirm / cancel / repeat, and commands whose arguments cannot be
spoken (free strings, numbers without a range) are left out.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from copilot.protocol import ArgSpec, CommandSpec, Scalar
from copilot.voice.numbers import grid, number_words
from copilot.voice.templates import Templates
from copilot.voice.types import Context, Intent, IntentKind, VoiceMachine, VoiceSetupError

Words = tuple[str, ...]


@dataclass(frozen=True)
class Slot:
    """A set of spoken alternatives, each with its typed value; ``role`` is what it fills."""

    key: str
    role: str  # "machine", "unit" or an argument name
    alternatives: tuple[tuple[Words, Scalar], ...]

    def lookup(self) -> dict[Words, Scalar]:
        """Spoken words → value."""
        return {w: v for w, v in self.alternatives}


@dataclass(frozen=True)
class Part:
    """One element of a sentence: literal words or a slot, possibly optional."""

    words: Words = ()
    slot: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class Sentence:
    """One sentence shape and the intent it stands for (machine fixed or from a slot)."""

    kind: IntentKind
    parts: tuple[Part, ...]
    machine: str | None = None
    command: str | None = None


@dataclass(frozen=True)
class Parse:
    """One way a word sequence matches the grammar."""

    intent: Intent
    sentence: Sentence


@dataclass
class Grammar:
    """Sentences and slots; see the module docstring."""

    locale: str
    sentences: list[Sentence] = field(default_factory=list)
    slots: dict[str, Slot] = field(default_factory=dict)
    _jsgf: str | None = field(default=None, repr=False, compare=False)

    # -- what it contains -------------------------------------------------------------------
    def words(self) -> set[str]:
        """Every word the grammar can produce."""
        out: set[str] = set()
        for s in self.sentences:
            for p in s.parts:
                out.update(p.words)
        for slot in self.slots.values():
            for w, _ in slot.alternatives:
                out.update(w)
        return out

    def jsgf(self) -> str:
        """The grammar as JSGF text (pocketsphinx); built once, the grammar is not changed."""
        if self._jsgf is None:
            self._jsgf = self._write_jsgf()
        return self._jsgf

    def _write_jsgf(self) -> str:
        lines = ["#JSGF V1.0;", "grammar copilot;"]
        alts = []
        for s in self.sentences:
            body = []
            for p in s.parts:
                item = f"<{p.slot}>" if p.slot else " ".join(p.words)
                body.append(f"[{item}]" if p.optional else item)
            alts.append(" ".join(body))
        lines.append(
            "public <utterance> = " + " | ".join(f"({a})" for a in sorted(set(alts))) + ";"
        )
        for key in sorted(self.slots):
            spoken = sorted({" ".join(w) for w, _ in self.slots[key].alternatives})
            lines.append(f"<{key}> = " + " | ".join(spoken) + ";")
        return "\n".join(lines) + "\n"

    @property
    def version(self) -> str:
        """A short hash of the grammar text, recorded with every command voice proposes."""
        return hashlib.sha256(self.jsgf().encode()).hexdigest()[:12]

    def phrases(self) -> Iterator[str]:
        """Every sentence the grammar accepts, fully expanded (vosk's phrase list)."""
        seen: set[str] = set()
        for s in self.sentences:
            for words in self._expand(s):
                text = " ".join(words)
                if text not in seen:
                    seen.add(text)
                    yield text

    def _choices(self, part: Part) -> list[Words]:
        opts = (
            [part.words]
            if part.slot is None
            else [w for w, _ in self.slots[part.slot].alternatives]
        )
        return [*opts, ()] if part.optional else opts

    def _expand(self, s: Sentence) -> Iterator[Words]:
        for combo in itertools.product(*(self._choices(p) for p in s.parts)):
            yield tuple(w for ws in combo for w in ws)

    # -- parsing ------------------------------------------------------------------------------
    def parse(self, words: Sequence[str]) -> list[Parse]:
        """Every exact match of ``words`` (normalised, lower case) with its typed slots."""
        target = tuple(words)
        out = []
        lookups = {k: s.lookup() for k, s in self.slots.items()}
        for s in self.sentences:
            for filled in self._match(s.parts, target, lookups):
                machine = s.machine
                args: dict[str, Scalar] = {}
                for role, value in filled:
                    if role == "machine":
                        machine = str(value)
                    elif role != "unit":
                        args[role] = value
                intent = Intent(
                    kind=s.kind,
                    machine=machine,
                    command=s.command,
                    args=args,
                    phrase=" ".join(target),
                )
                out.append(Parse(intent, s))
        return out

    def _match(
        self,
        parts: Sequence[Part],
        words: Words,
        lookups: Mapping[str, Mapping[Words, Scalar]],
    ) -> Iterator[list[tuple[str, Scalar]]]:
        if not parts:
            if not words:
                yield []
            return
        head, rest = parts[0], parts[1:]
        if head.optional:
            yield from self._match(rest, words, lookups)
        if head.slot is None:
            n = len(head.words)
            if words[:n] == head.words:
                yield from self._match(rest, words[n:], lookups)
            return
        table = lookups[head.slot]
        role = self.slots[head.slot].role
        for n in range(1, len(words) + 1):
            value = table.get(words[:n])
            if value is not None:
                for tail in self._match(rest, words[n:], lookups):
                    yield [(role, value), *tail]

    # -- evaluation phrases -------------------------------------------------------------------
    def samples(self, rng: random.Random, per_sentence: int = 2) -> Iterator[tuple[str, Intent]]:
        """Random phrases of every sentence (``per_sentence`` each) with their intents."""
        for s in self.sentences:
            for _ in range(per_sentence):
                words: list[str] = []
                for p in s.parts:
                    opts = self._choices(p)
                    words.extend(rng.choice(opts))
                parses = [q for q in self.parse(words) if q.sentence is s]
                yield " ".join(words), parses[0].intent


# -- building ---------------------------------------------------------------------------------
_TOKEN = re.compile(r"\[([^\]]+)\]|\{([a-z0-9_]+)\}|([^\s\[\]{}]+)")


def _words(text: str) -> Words:
    return tuple(w for w in re.split(r"[\s\-_/.,]+", text.lower()) if w)


def _key(prefix: str, *parts: object) -> str:
    digest = hashlib.sha1(repr(parts).encode()).hexdigest()[:8]
    return f"{prefix}_{digest}"


@dataclass
class _Builder:
    templates: Templates
    grammar: Grammar

    def slot(self, key: str, role: str, alternatives: Sequence[tuple[Words, Scalar]]) -> str:
        if key not in self.grammar.slots:
            self.grammar.slots[key] = Slot(key, role, tuple(alternatives))
        return key

    def machine_slot(self, machines: Sequence[VoiceMachine], key: str) -> str:
        alts = [(_words(s), m.name) for m in machines for s in (m.spoken or (m.name,))]
        return self.slot(key, "machine", alts)

    def arg_slot(self, arg: ArgSpec) -> str | None:
        if arg.type in ("float", "int"):
            if arg.range is None:
                return None
            values = grid(arg.range.lo, arg.range.hi)
            point = self.templates.point
            alts: list[tuple[Words, Scalar]] = [
                (
                    number_words(v, self.templates.locale, point),
                    int(v) if arg.type == "int" else float(v),
                )
                for v in values
                if arg.type == "float" or v == v.to_integral_value()
            ]
            return self.slot(_key("n", arg.type, arg.range.lo, arg.range.hi), arg.name, alts)
        if arg.type == "enum":
            if not arg.choices:
                return None
            enum_alts = [
                (_words(spoken), c)
                for c in arg.choices
                for spoken in self.templates.choices.get(c, (c,))
            ]
            return self.slot(_key("e", arg.name, *arg.choices), arg.name, enum_alts)
        if arg.type == "bool":
            on, off = ("on", "off") if self.templates.locale == "en" else ("켜기", "끄기")
            return self.slot(_key("b", arg.name), arg.name, [((on,), True), ((off,), False)])
        return None

    def unit_slot(self, unit: str) -> str | None:
        spoken = self.templates.units.get(unit)
        if not unit or not spoken:
            return None
        return self.slot(_key("u", unit), "unit", [(_words(s), unit) for s in spoken])

    def parts(self, template: str, fill: Mapping[str, str | None]) -> list[Part] | None:
        """Parts of ``template``; None when a slot it names cannot be filled."""
        out: list[Part] = []
        for optional, name, word in _TOKEN.findall(template):
            if word:
                out.append(Part(words=_words(word)))
                continue
            inner = optional or "{" + name + "}"
            for m in _TOKEN.finditer(inner):
                opt_name, lit = m.group(2), m.group(3)
                if lit:
                    out.append(Part(words=_words(lit), optional=bool(optional)))
                    continue
                if opt_name not in fill:
                    raise VoiceSetupError(
                        f"the slot {{{opt_name}}} in {template!r} ({self.templates.source}) "
                        "is not known: use machine, command, value, unit or an argument's name."
                    )
                key = fill[opt_name]
                if key is None:
                    if optional:
                        continue
                    return None
                out.append(Part(slot=key, optional=bool(optional)))
        return out

    def command_phrases(self, spec: CommandSpec) -> list[list[Part]]:
        fill: dict[str, str | None] = {}
        numeric = [a for a in spec.args if a.type in ("float", "int")]
        for a in spec.args:
            key = self.arg_slot(a)
            if key is None:
                return []  # an argument nobody can speak: the command is not offered by voice
            fill[a.name] = key
        fill["value"] = fill[numeric[0].name] if numeric else None
        fill["unit"] = self.unit_slot(numeric[0].unit) if numeric else None
        spoken = self.templates.commands.get(spec.name)
        if spoken is None:
            label = spec.label or spec.name.replace("_", " ")
            spoken = (" ".join([label, *(f"{{{a.name}}}" for a in spec.args)]),)
        phrases = [self.parts(t, fill) for t in spoken]
        given = {p.slot for ph in phrases if ph for p in ph if p.slot}
        if any(fill[a.name] not in given for a in spec.args):
            raise VoiceSetupError(
                f"the spoken form of {spec.name!r} in {self.templates.source} leaves out an "
                "argument: name every argument in [commands]."
            )
        return [p for p in phrases if p is not None]


def build_grammar(context: Context, templates: Templates) -> Grammar:
    """The grammar of what may be heard in ``context``; see the module docstring."""
    g = Grammar(locale=templates.locale)
    b = _Builder(templates, g)
    say = templates.sentences
    none: dict[str, str | None] = {}

    def add(kind: IntentKind, fill: Mapping[str, str | None], **fixed: str | None) -> None:
        for t in say[kind]:
            parts = b.parts(t, fill)
            if parts is not None:
                g.sentences.append(Sentence(kind, tuple(parts), **fixed))

    for kind in ("confirm", "cancel", "repeat") if context.confirm_only else ("cancel", "repeat"):
        add(kind, none)
    if context.confirm_only:
        return g
    add("attention", none)
    machines = [m for m in context.machines if m.spoken or m.name]
    every = b.machine_slot(machines, "machine") if machines else None
    add("status", {"machine": every})
    add("ack_alarm", {"machine": every})
    for m in machines:
        mslot = b.machine_slot([m], _key("m", m.name))
        for spec in m.commands:
            for phrase in b.command_phrases(spec):
                for kind_t, with_name in (("command", True), ("command_on_screen", False)):
                    if not with_name and m.name != context.on_screen:
                        continue
                    for t in say[kind_t]:
                        parts: list[Part] = []
                        for p in (
                            b.parts(t.replace("{command}", "{_c}"), {"machine": mslot, "_c": "_c"})
                            or []
                        ):
                            parts.extend(phrase if p.slot == "_c" else [p])
                        g.sentences.append(
                            Sentence("command", tuple(parts), machine=m.name, command=spec.name)
                        )
    return g


def context_key(context: Context) -> bytes:
    """What the grammar of ``context`` depends on, as bytes (a cache key; grants excluded)."""
    return msgspec.json.encode(
        [
            context.locale,
            context.on_screen,
            context.confirm_only,
            [[m.name, list(m.spoken), list(m.commands)] for m in context.machines],
        ]
    )


def default_spoken(machine_id: str, templates: Templates) -> tuple[str, ...]:
    """Spoken forms of a machine id: ``press-02`` → ``("press two",)``, names via [names].

    A locale's ``machine_numbers`` say a machine's number (Korean native "하나", "둘": the
    Sino-Korean "일" and "이" are confused with each other and with number arguments), and its
    ``machine_suffix``, if any, follows the number.
    """
    words: list[str] = []
    for tok in re.split(r"[-_\s]+", machine_id.lower()):
        if tok.isdigit() and int(tok) < len(templates.machine_numbers):
            words.append(templates.machine_numbers[int(tok)])
        elif tok.isdigit():
            words.extend(number_words(Decimal(int(tok)), templates.locale, templates.point))
        elif tok:
            words.append(templates.names.get(tok, tok))
    if templates.machine_suffix:
        words.append(templates.machine_suffix)
    return (" ".join(words),)


def check_vocabulary(grammar: Grammar, has_word: Callable[[str], bool], engine: str) -> None:
    """Fail loudly, naming the first word (sorted) that ``engine`` cannot recognise."""
    missing = sorted(w for w in grammar.words() if not has_word(w))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise VoiceSetupError(
            f"the word {missing[0]!r}{more} is not in the {engine}: give the machine "
            f"or command a spoken alias without it in assets/voice/{grammar.locale}.toml."
        )
