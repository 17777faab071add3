"""Recognised words → one Intent: exact template match, typed slots, checked against live state.

The best hypothesis and the decoder's N-best alternatives are parsed exactly against the
grammar (:meth:`~copilot.voice.grammar.Grammar.parse`); nothing fuzzy. Each parsed command is
checked against the context: may voice propose it (``Context.allowed``, the grants) and can it
apply to that machine now (the command's ``checks`` on the machine's ``state`` tag, whose
labels are :data:`STATE_LABELS`). The first hypothesis that parses to an applicable intent
wins, so a command that cannot apply now ranks below one that can. Two different intents from
one hypothesis are ``ambiguous``: the dialogue asks rather than guesses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from copilot.gate.checks import holds
from copilot.protocol import CommandSpec
from copilot.voice.grammar import Grammar
from copilot.voice.types import Context, Intent

# The labels of every machine's enum tag ``state`` (value = index), as the agents publish them.
STATE_LABELS = ("running", "idle", "setup", "fault", "maintenance")


@dataclass(frozen=True)
class Resolved:
    """The chosen intent (or None), why not, and which hypothesis gave it."""

    intent: Intent | None
    reason: str = ""
    rank: int = 0
    words: tuple[str, ...] = ()


def applicable(spec: CommandSpec, state: str) -> bool:
    """Whether ``spec`` can apply to a machine in ``state`` (unknown state: yes)."""
    if state not in STATE_LABELS:
        return True
    value = float(STATE_LABELS.index(state))
    for check in spec.checks:
        if check.tag != "state":
            continue
        met = holds(check, value)  # as the gate judges it
        if (check.kind == "interlock" and met) or (check.kind == "permissive" and not met):
            return False
    return True


def _why_not(intent: Intent, context: Context) -> str:
    if intent.kind != "command" or intent.machine is None or intent.command is None:
        return ""
    if context.allowed is not None and not context.allowed(intent.machine, intent.command):
        return "not_allowed"
    for m in context.machines:
        if m.name == intent.machine:
            spec = next((c for c in m.commands if c.name == intent.command), None)
            if spec is not None and not applicable(spec, m.state):
                return "not_applicable"
    return ""


def resolve(hypotheses: Sequence[Sequence[str]], grammar: Grammar, context: Context) -> Resolved:
    """The first hypothesis (best first) that parses to one applicable intent."""
    first_refusal: Resolved | None = None
    for rank, words in enumerate(hypotheses):
        intents: list[Intent] = []
        for parse in grammar.parse(words):
            if parse.intent not in intents:
                intents.append(parse.intent)
        if not intents:
            continue
        if len(intents) > 1:
            if first_refusal is None:
                first_refusal = Resolved(None, "ambiguous", rank, tuple(words))
            continue
        why = _why_not(intents[0], context)
        if not why:
            return Resolved(intents[0], "", rank, tuple(words))
        if first_refusal is None:
            first_refusal = Resolved(None, why, rank, tuple(words))
    return first_refusal or Resolved(None, "out_of_grammar")
