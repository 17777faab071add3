"""Intent templates per locale: load ``assets/voice/<locale>.toml`` into a typed object.

The file holds the sentences with slots (``{machine}``, ``{command}``, ``{value}``,
``{unit}``, ``{<arg name>}``, ``[optional words]``), the spoken phrases of each command, units,
enum choices and name words, and the out-of-grammar sentences of the evaluation. The grammar
(:mod:`copilot.voice.grammar`) and the evaluation phrases are both generated from it. The files
ship inside the package (``copilot/voice/locales``), so a fresh install finds them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from copilot.voice.types import Locale, VoiceSetupError

SENTENCE_KINDS = (
    "confirm",
    "cancel",
    "repeat",
    "status",
    "ack_alarm",
    "attention",
    "command",
    "command_on_screen",
)


@dataclass(frozen=True)
class Templates:
    """One locale's templates; every mapping's values are spoken forms, first = read-back."""

    locale: Locale
    sentences: dict[str, tuple[str, ...]]
    commands: dict[str, tuple[str, ...]]
    units: dict[str, tuple[str, ...]]
    choices: dict[str, tuple[str, ...]]
    names: dict[str, str]
    point: str
    machine_suffix: str
    machine_numbers: tuple[str, ...]
    oog_tune: tuple[str, ...]
    oog_held_out: tuple[str, ...]
    source: str


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise VoiceSetupError(f"{where} must be a string or a list of strings: fix it in the file.")


def _table(data: dict[str, Any], key: str, source: str) -> dict[str, tuple[str, ...]]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise VoiceSetupError(f"[{key}] in {source} must be a table: fix the file.")
    return {str(k): _strings(v, f"{key}.{k} in {source}") for k, v in table.items()}


def parse_templates(text: str, source: str) -> Templates:
    """Parse one locale file's text; ``source`` names it in every error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise VoiceSetupError(f"{source} is not valid TOML ({exc}): fix the file.") from exc
    locale = data.get("locale")
    if locale not in ("en", "ko"):
        raise VoiceSetupError(f'{source} must say locale = "en" or "ko".')
    sentences = _table(data, "sentences", source)
    missing = [k for k in SENTENCE_KINDS if k not in sentences]
    if missing:
        raise VoiceSetupError(f"{source} lacks sentences for {', '.join(missing)}: add them.")
    names = {str(k): str(v) for k, v in data.get("names", {}).items()}
    oog = data.get("eval", {}).get("out_of_grammar", {})
    return Templates(
        locale=locale,
        sentences=sentences,
        commands=_table(data, "commands", source),
        units=_table(data, "units", source),
        choices=_table(data, "choices", source),
        names=names,
        point=str(data.get("numbers", {}).get("point", "point")),
        machine_suffix=str(data.get("numbers", {}).get("machine_suffix", "")),
        machine_numbers=_strings(
            data.get("numbers", {}).get("machine_numbers", []),
            f"numbers.machine_numbers in {source}",
        ),
        oog_tune=_strings(oog.get("tune", []), f"eval.out_of_grammar.tune in {source}"),
        oog_held_out=_strings(oog.get("held_out", []), f"eval.out_of_grammar.held_out in {source}"),
        source=source,
    )


def load_file(path: Path) -> Templates:
    """Load templates from a file of the same shape (a site's own sentences)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise VoiceSetupError(f"cannot read voice templates {path}: {exc.strerror}.") from exc
    return parse_templates(text, str(path))


@cache
def load_templates(locale: Locale) -> Templates:
    """The packaged templates of ``locale``."""
    res = resources.files("copilot.voice").joinpath("locales", f"{locale}.toml")
    try:
        text = res.read_text(encoding="utf-8")
    except OSError as exc:
        raise VoiceSetupError(
            f"no voice templates for locale {locale!r} ({exc}): reinstall the package."
        ) from exc
    return parse_templates(text, f"assets/voice/{locale}.toml")
