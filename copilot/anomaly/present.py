"""What the station says about anomaly alerts and the detectors: texts, decided here, not in Qt.

:func:`alert_card` turns one :class:`~copilot.protocol.AnomalyAlert` (with the machine's BIRTH,
its current readings and the playbooks) into an :class:`AlertCard`: the heading (detector,
signal, σ, since when, confidence), the detector's sentence, the top contributors, the
playbook's explanation, and the suggestion or why there is none. :func:`learning_badge` and
:func:`detector_rows` say what ``copilot anomaly status`` says, for the machine view's header
and detector panel. Pure: the time is passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from copilot.anomaly.playbooks import Playbooks, Suggestion, explain, suggest
from copilot.anomaly.wording import duration_words, signal_words
from copilot.protocol import AnomalyAlert, CommandSpec, MachineLearned, Scalar, TagSpec

__all__ = [
    "VERDICT_WORDS",
    "AlertCard",
    "DetectorRow",
    "alert_card",
    "detector_rows",
    "detector_summary",
    "learning_badge",
]

VERDICT_WORDS = {
    "useful": "✓ You marked this alert useful.",
    "not_useful": "– You marked this alert not useful.",
    "false_alarm": "✕ You marked this alert a false alarm.",
}
DETECTOR_WORDS = {
    "level": "level shift",
    "drift": "drift",
    "trend": "trend",
    "variance": "variance change",
    "stuck": "stuck signal",
    "dropout": "dropout",
    "rate": "rate change",
    "envelope": "out of envelope",
    "multivariate": "broken relationship",
}


@dataclass(frozen=True)
class AlertCard:
    """One explained alert as the station shows it."""

    alarm: str
    heading: str  # "Drift · spindle vibration · 2.3σ above normal"
    facts: str  # "since 14:02 (12 min) · confidence 82 % · mode running"
    sentence: str  # the detector's own sentence
    contributors: str  # "Top contributors: …" ("" when there are none)
    explanation: str  # the playbook's (empty: no playbook matched)
    suggestion: Suggestion | None
    no_suggestion: str  # why there is no suggestion ("" when there is one or no playbook)
    verdict: str  # the verdict given (useful, not_useful, false_alarm) or ""
    active: bool


def _clock(ns: int) -> str:
    return time.strftime("%H:%M", time.localtime(ns / 1e9)) if ns else "?"


def alert_card(
    alert: AnomalyAlert,
    *,
    machine_name: str,
    kind: str,
    tags: Sequence[TagSpec],
    commands: Sequence[CommandSpec],
    current: Callable[[str], Scalar | None],
    playbooks: Playbooks,
    now_ns: int,
) -> AlertCard:
    """The card of one alert (see the module docstring)."""
    specs = {t.name: t for t in tags}

    def words(tag: str) -> str:
        spec = specs.get(tag)
        return signal_words(spec.description if spec else "", tag)

    signal = words(alert.tag) if alert.tag != "-" else "several signals"
    what = DETECTOR_WORDS.get(alert.detector, alert.detector).capitalize()
    if alert.detector in ("stuck", "dropout"):
        far = ""
    elif alert.detector in ("variance", "multivariate"):
        far = f" · {abs(alert.sigma):.1f}× its usual"
    else:
        side = "above" if alert.sigma >= 0 else "below"
        far = f" · {abs(alert.sigma):.1f}σ {side} normal"
    heading = f"{what} · {signal}{far}"
    start = alert.since or alert.at
    facts = [f"since {_clock(start)} ({duration_words((now_ns - start) / 1e9)})"]
    facts.append(f"confidence {alert.confidence * 100:.0f} %")
    if alert.mode:
        facts.append(f"mode {alert.mode}")
    if not alert.active:
        facts.append("cleared")
    shown = [words(s) for s in alert.signals if s != alert.tag][:3]
    contributors = f"Top contributors: {', '.join(shown)}." if shown else ""
    book = playbooks.match(alert, kind)
    explanation, suggestion, no_suggestion = "", None, ""
    if book is not None:
        lead = words(alert.signals[0]) if alert.tag == "-" and alert.signals else signal
        explanation = explain(book, alert, machine_name, lead.capitalize(), now_ns)
        if book.command:
            found = suggest(book, commands, tags, current)
            if isinstance(found, Suggestion):
                suggestion = found
            else:
                no_suggestion = f"No suggestion: {found}"
    return AlertCard(
        alarm=alert.alarm,
        heading=heading,
        facts=" · ".join(facts),
        sentence=alert.message,
        contributors=contributors,
        explanation=explanation,
        suggestion=suggestion if alert.active else None,
        no_suggestion=no_suggestion if alert.active else "",
        verdict=alert.verdict,
        active=alert.active,
    )


def learning_badge(learned: MachineLearned | None) -> str:
    """The header's words while the mode is still being learned ("" once it is learned)."""
    if learned is None or not learned.learning:
        return ""
    return f"◔ {learned.text[0].upper() + learned.text[1:]}" if learned.text else "◔ Learning"


def detector_summary(learned: MachineLearned) -> list[str]:
    """The detector panel's lines above its table: mode, learning, modes, alerts, model."""
    state = learned.text or ("learning normal" if learned.learning else "watching")
    lines = [f"Mode {learned.mode or '?'} · {state}"]
    modes = ", ".join(learned.learned_modes) if learned.learned_modes else "none yet"
    lines.append(f"Learned modes: {modes}")
    if learned.alerts_raised:
        raised = ", ".join(f"{k} {v}" for k, v in sorted(learned.alerts_raised.items()))
        lines.append(f"Alerts raised: {raised}")
    else:
        lines.append("Alerts raised: none")
    if learned.multivariate:
        model = ", ".join(f"{k} {v:.3g}" for k, v in sorted(learned.multivariate.items()))
        lines.append(f"Multivariate: {model}")
    return lines


@dataclass(frozen=True)
class DetectorRow:
    """One tag in one mode: its learned normal and its thresholds, as texts."""

    tag: str
    mode: str
    normal: str  # "52.1 ± 0.4 °C"
    band: str  # "51.0 – 53.2"
    thresholds: str  # "level 6.2 · drift 9.8 · …"


def detector_rows(learned: MachineLearned, tags: Sequence[TagSpec]) -> list[DetectorRow]:
    """Per tag and mode, what was learned (current mode first, then by tag)."""
    specs = {t.name: t for t in tags}
    rows = []
    for t in sorted(learned.tags, key=lambda t: (t.mode != learned.mode, t.mode, t.tag)):
        spec = specs.get(t.tag)
        unit = f" {spec.unit}" if spec is not None and spec.unit else ""
        name = signal_words(spec.description if spec else "", t.tag)
        rows.append(
            DetectorRow(
                tag=name[0].upper() + name[1:],
                mode=t.mode,
                normal=f"{t.mean:.4g} ± {t.scale:.2g}{unit}",
                band=f"{t.low:.4g} – {t.high:.4g}",
                thresholds=" · ".join(f"{k} {v:.3g}" for k, v in sorted(t.thresholds.items())),
            )
        )
    return rows
