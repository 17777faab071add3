"""The one argument validator: a command's arguments checked against its BIRTH schema.

Used by the agent SDK (before a command is journaled and run) and by the simulator's machines;
the rules are the ones docs/protocol.md §9.4 states, and every refusal is one sentence a person
can read (the caller prefixes the machine's name). Plain Python, no Qt, no sockets.

Rules: an undeclared argument or a missing one → ``bad_args``; ``float``/``int`` must be a
finite number and not a bool (``int`` a whole one) → else ``bad_args``, outside ``range`` →
``out_of_range``; ``bool`` must be a bool; ``enum`` must be text and one of ``choices``, and
``str`` text (one of ``choices`` when given) → else ``bad_args``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from copilot.protocol import ArgSpec, CommandSpec, Scalar, TagSpec

Cause = Literal["bad_args", "out_of_range"]


@dataclass(frozen=True)
class ArgProblem:
    """Why arguments do not fit: the refusal cause, the argument at fault and a sentence."""

    cause: Cause
    arg: str
    sentence: str


def number(x: float) -> str:
    """A number the way people write it: ``1200``, ``6.5``."""
    return str(int(x)) if math.isfinite(x) and float(x).is_integer() else f"{x:.6g}"


def _expected(arg: ArgSpec) -> str:
    if arg.type == "enum":
        return f"one of {', '.join(arg.choices or [])}"
    if arg.type in ("float", "int"):
        kind = "a whole number" if arg.type == "int" else "a number"
        return f"{kind} in {arg.unit}" if arg.unit else kind
    if arg.type == "bool":
        return "true or false"
    return "text"


def check_arg(arg: ArgSpec, value: Scalar) -> ArgProblem | None:
    """Check one value against its :class:`ArgSpec`."""
    unit = f" {arg.unit}" if arg.unit else ""
    if arg.type in ("float", "int"):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            return ArgProblem(
                "bad_args", arg.name, f"{arg.name} must be {_expected(arg)}, not {value!r}."
            )
        if arg.type == "int" and not float(value).is_integer():
            return ArgProblem(
                "bad_args", arg.name, f"{arg.name} must be a whole number, not {value!r}."
            )
        if arg.range is not None and not arg.range.contains(float(value)):
            return ArgProblem(
                "out_of_range",
                arg.name,
                f"{arg.name} {number(float(value))}{unit} is outside "
                f"{number(arg.range.lo)}–{number(arg.range.hi)}{unit}.",
            )
    elif arg.type == "bool":
        if not isinstance(value, bool):
            return ArgProblem(
                "bad_args", arg.name, f"{arg.name} must be true or false, not {value!r}."
            )
    else:
        if not isinstance(value, str):
            return ArgProblem(
                "bad_args", arg.name, f"{arg.name} must be {_expected(arg)}, not {value!r}."
            )
        if (arg.type == "enum" or arg.choices is not None) and value not in (arg.choices or []):
            return ArgProblem(
                "bad_args",
                arg.name,
                f"{arg.name} must be one of {', '.join(arg.choices or [])}, not {value!r}.",
            )
    return None


def check_args(spec: CommandSpec, args: Mapping[str, Scalar]) -> ArgProblem | None:
    """Check a command's arguments against its :class:`CommandSpec`; ``None`` if they fit."""
    declared = {a.name: a for a in spec.args}
    for name in args:
        if name not in declared:
            takes = ", ".join(declared) if declared else "no arguments"
            return ArgProblem(
                "bad_args", name, f"{spec.name} does not take {name!r} (it takes {takes})."
            )
    for arg in spec.args:
        if arg.name not in args:
            return ArgProblem(
                "bad_args", arg.name, f"{spec.name} needs {arg.name} ({_expected(arg)})."
            )
        problem = check_arg(arg, args[arg.name])
        if problem is not None:
            return problem
    return None


def parse_args(spec: CommandSpec, args: Mapping[str, Scalar]) -> dict[str, Scalar] | ArgProblem:
    """Checked arguments converted to their declared types (``float``, ``int``…), or the problem."""
    problem = check_args(spec, args)
    if problem is not None:
        return problem
    parsed: dict[str, Scalar] = {}
    for arg in spec.args:
        raw = args[arg.name]
        if arg.type == "float":
            parsed[arg.name] = float(raw)
        elif arg.type == "int":
            parsed[arg.name] = int(raw)
        else:
            parsed[arg.name] = raw
    return parsed


def validate_args(spec: CommandSpec, args: Mapping[str, Scalar]) -> tuple[str, str] | None:
    """``(cause, sentence)`` if the arguments do not fit (:func:`check_args` as a pair)."""
    problem = check_args(spec, args)
    return None if problem is None else (problem.cause, problem.sentence)


def current_tag(arg: ArgSpec, tags: Sequence[TagSpec]) -> TagSpec | None:
    """The tag that holds an argument's current value (for old → new), if one can be told.

    The same name first, then the same description ("Spindle speed setpoint"), then an enum
    tag whose labels hold every choice of an enum argument (``mode`` → the ``state`` tag), then
    the one writable tag with the same unit.
    """
    for tag in tags:
        if tag.name == arg.name:
            return tag
    if arg.description:
        for tag in tags:
            if tag.description.lower() == arg.description.lower():
                return tag
    if arg.type == "enum" and arg.choices:
        for tag in tags:
            if tag.labels and set(arg.choices) <= set(tag.labels):
                return tag
    writable = [t for t in tags if t.writable and arg.unit and t.unit == arg.unit]
    return writable[0] if len(writable) == 1 else None
