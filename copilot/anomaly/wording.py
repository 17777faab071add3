"""One plain sentence per alert, for operators.

``"Press 3 vibration has risen steadily for 12 min, 4.1σ above its running baseline; spindle
temperature follows."`` — machine, signal, what it did, for how long, how far from normal in
which mode, and what moves with it.
"""

from __future__ import annotations

__all__ = ["duration_words", "multivariate_sentence", "signal_sentence", "signal_words"]


def duration_words(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2.5 h``."""
    s = max(0.0, seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def signal_words(description: str, name: str) -> str:
    """How people call a tag: its description in lower case, else its name with spaces."""
    text = description.strip() or name.replace("_", " ")
    return text[0].lower() + text[1:] if text else name


def _joined(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def signal_sentence(
    machine: str,
    detector: str,
    signal: str,
    mode: str,
    sigma: float,
    for_s: float,
    followers: list[str],
) -> str:
    """The sentence of a per-signal alert."""
    up = sigma >= 0
    far = f"{abs(sigma):.1f}σ {'above' if up else 'below'} its {mode} baseline"
    took = duration_words(for_s)
    if detector == "level":
        what = f"has {'risen' if up else 'fallen'} within {took}, {far}"
    elif detector == "drift":
        what = f"has {'risen' if up else 'fallen'} steadily for {took}, {far}"
    elif detector == "trend":
        what = f"has been {'rising' if up else 'falling'} for {took}, {far}"
    elif detector == "variance":
        what = (
            f"has become {'noisier' if sigma >= 1 else 'steadier'} than usual in {mode} "
            f"for {took} ({sigma:.1f}× its usual step size)"
        )
    elif detector == "stuck":
        what = f"has not changed for {took}; the sensor may be stuck"
    elif detector == "dropout":
        what = f"has given no good reading for {took}; the sensor may have failed"
    elif detector == "rate":
        what = f"is {'rising' if up else 'falling'} unusually fast ({far} in rate)"
    else:
        what = (
            f"has left its usual {mode} range for {took}, "
            f"{abs(sigma):.1f}σ {'above' if up else 'below'} it"
        )
    tail = ""
    if followers:
        tail = f"; {_joined(followers)} {'follows' if len(followers) == 1 else 'follow'}"
    return f"{machine} {signal} {what}{tail}."


def multivariate_sentence(
    machine: str, mode: str, ratio: float, broken: bool, signals: list[str], for_s: float
) -> str:
    """The sentence of a multivariate alert (``broken``: off the learned relationships)."""
    who = _joined(signals) if signals else "several signals"
    if broken:
        what = (
            f"the usual relationship between {who} has broken for {duration_words(for_s)} "
            f"({ratio:.1f}× its {mode} limit), though each may look normal alone"
        )
    else:
        what = (
            f"{who} together sit unusually far from their {mode} normal "
            f"({ratio:.1f}× its limit) for {duration_words(for_s)}"
        )
    return f"{machine}: {what}."
