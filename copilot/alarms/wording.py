"""Alarms in words for speech: "Press 2: oil temperature high high, 96 degrees Celsius".

:func:`sentence` builds what the speaker says about one alarm from its fields (machine, tag,
condition, value) and, for discrete and anomaly alarms, its ``message``. Units are spelled in
words (``°C`` → "degrees Celsius", ``mm/s`` → "millimetres per second") because a synthesiser
reads symbols badly; numbers are rounded to what an operator can take in by ear. Pure
functions: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from copilot.protocol import AlarmStatus

UNIT_WORDS: dict[str, str] = {
    "°C": "degrees Celsius",
    "°F": "degrees Fahrenheit",
    "K": "kelvins",
    "bar": "bar",
    "mbar": "millibar",
    "Pa": "pascals",
    "kPa": "kilopascals",
    "MPa": "megapascals",
    "psi": "P S I",
    "%": "percent",
    "rpm": "R P M",
    "mm/s": "millimetres per second",
    "m/s": "metres per second",
    "m/min": "metres per minute",
    "l/min": "litres per minute",
    "m³/h": "cubic metres per hour",
    "A": "amps",
    "mA": "milliamps",
    "V": "volts",
    "kV": "kilovolts",
    "W": "watts",
    "kW": "kilowatts",
    "Hz": "hertz",
    "N": "newtons",
    "kN": "kilonewtons",
    "Nm": "newton metres",
    "mm": "millimetres",
    "µm": "micrometres",
    "m": "metres",
    "g": "grams",
    "kg": "kilograms",
    "t": "tonnes",
    "s": "seconds",
    "ms": "milliseconds",
    "min": "minutes",
    "h": "hours",
    "parts": "parts",
}
"""Unit symbols as they are spoken; an unknown unit is spoken as written, ``/`` as "per"."""

CONDITION_WORDS: dict[str, str] = {
    "hihi": "high high",
    "hi": "high",
    "lo": "low",
    "lolo": "low low",
    "roc": "changing fast",
}

TAG_SUFFIX_UNITS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("m", "min"), "m/min"),
    (("mm", "s"), "mm/s"),
    (("l", "min"), "l/min"),
    (("c",), "°C"),
    (("bar",), "bar"),
    (("pct",), "%"),
    (("rpm",), "rpm"),
    (("kw",), "kW"),
    (("hz",), "Hz"),
)
"""Tag-name endings that name a unit (``oil_temp_c`` is in °C), used when no unit is known."""

TAG_WORDS: dict[str, str] = {
    "temp": "temperature",
    "pct": "percent",
    "aux": "auxiliary",
    "cnc": "C N C",
    "rpm": "R P M",
}

ACRONYMS = frozenset({"cnc", "plc", "ups", "agv", "hvac"})


def machine_words(machine_id: str) -> str:
    """``press-02`` → "Press 2", ``cnc-01`` → "CNC 1" (when no display name is known)."""
    parts = [p for p in re.split(r"[-_\s]+", machine_id) if p]
    words = []
    for p in parts:
        if p.isdigit():
            words.append(str(int(p)))
        elif p.lower() in ACRONYMS:
            words.append(p.upper())
        else:
            words.append(p[:1].upper() + p[1:])
    return " ".join(words) or machine_id


def _tag_parts(tag: str) -> tuple[list[str], str]:
    """The tag's words without a unit ending, and the unit that ending names ("" if none)."""
    parts = [p for p in tag.lower().split("_") if p]
    for ending, unit in TAG_SUFFIX_UNITS:
        n = len(ending)
        if len(parts) > n and tuple(parts[-n:]) == ending:
            return parts[:-n], unit
    return parts, ""


def tag_words(tag: str) -> str:
    """``oil_temp_c`` → "oil temperature", ``zone2_temp_c`` → "zone 2 temperature"."""
    parts, _ = _tag_parts(tag)
    words: list[str] = []
    for p in parts:
        for piece in re.findall(r"[a-z]+|\d+", p):
            words.append(str(int(piece)) if piece.isdigit() else TAG_WORDS.get(piece, piece))
    return " ".join(words) or tag


def unit_words(unit: str, value: float | None = None) -> str:
    """A unit in words, singular for a value of one (``°C`` → "degree(s) Celsius")."""
    unit = unit.strip()
    words = UNIT_WORDS.get(unit)
    if words is None:
        words = " per ".join(p.strip() for p in unit.split("/")) if unit else ""
    if value is not None and abs(value) == 1 and words:
        first, _, rest = words.partition(" ")
        if first.endswith("s") and first not in {"P", "hertz"} and len(first) > 2:
            words = f"{first[:-1]} {rest}".strip()
    return words


def number_words(value: float) -> str:
    """A value rounded for the ear: 96.24 → "96.2", 3.14159 → "3.14", −5 → "minus 5"."""
    mag = abs(value)
    digits = 0 if mag >= 100 else 1 if mag >= 10 else 2
    text = f"{mag:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in {"", "0"}:
        return "0"
    return f"minus {text}" if value < 0 else text


def sentence(
    alarm: AlarmStatus,
    *,
    machine_name: str = "",
    unit: str | None = None,
) -> str:
    """What to say about ``alarm``: "<machine>: <what>, <value> <unit>".

    ``machine_name`` is the machine's display name (from its BIRTH) and ``unit`` the tag's unit;
    without them they are read off the ids (``press-02``, ``oil_temp_c``).
    """
    who = machine_name or machine_words(alarm.machine)
    cond = alarm.condition
    _, tag_unit = _tag_parts(alarm.tag)
    what: str
    if cond == "comm":
        what = "connection lost"
    elif cond in CONDITION_WORDS:
        what = f"{tag_words(alarm.tag)} {CONDITION_WORDS[cond]}"
        if alarm.value is not None:
            spoken_unit = unit_words(tag_unit if unit is None else unit, alarm.value)
            amount = number_words(alarm.value)
            what += f", {amount} {spoken_unit}" if spoken_unit else f", {amount}"
    elif alarm.message:
        what = alarm.message.strip().rstrip(".")
        # The hub's messages start with the machine's name already ("Conveyor 1: jam
        # detected"): said once, not "Conveyor 1: Conveyor 1: jam detected".
        if who and what.lower().startswith(f"{who.lower()}:"):
            what = what[len(who) + 1 :].strip()
    elif cond.startswith("anomaly:"):
        what = f"{tag_words(alarm.tag)} unusual"
    else:
        what = tag_words(alarm.tag)
    return f"{who}: {what}" if who else what


Describe = Callable[[AlarmStatus], str]
"""Turns an alarm into its sentence (``sentence`` with the station's names and units bound)."""
