"""What the engine tells the hub: alert changes and what each machine's detectors learned.

:class:`AlertChange` is one explained alert appearing (``active``) or going away;
:class:`DetectorStatus` is one machine's learning state, with a :class:`TagBaseline` per tag.
Plain msgspec Structs: the hub turns them into anomaly alarms and status replies.
"""

from __future__ import annotations

import msgspec

__all__ = ["AlertChange", "DetectorStatus", "TagBaseline"]


class AlertChange(msgspec.Struct, omit_defaults=True):
    """An anomaly alert on ``machine`` was raised (``active``) or cleared.

    ``name`` is ``<detector>:<tag>`` (``level``, ``drift``, ``variance``, ``stuck``,
    ``dropout``, ``rate``, ``envelope``) or ``multivariate``; ``tag`` is ``-`` for the
    multivariate detector. ``since_ns`` estimates the onset, ``sigma`` how far from normal,
    ``confidence`` 0..1, ``signals`` the top contributing tags, ``message`` one plain sentence.
    """

    machine: str
    name: str
    tag: str
    active: bool
    at_ns: int
    since_ns: int
    sigma: float = 0.0
    confidence: float = 0.0
    signals: list[str] = msgspec.field(default_factory=list)
    message: str = ""


class TagBaseline(msgspec.Struct, omit_defaults=True):
    """What one tag's detectors learned in one mode: mean, scale and calibrated thresholds."""

    tag: str
    mode: str
    mean: float
    scale: float
    low: float
    high: float
    thresholds: dict[str, float] = msgspec.field(default_factory=dict)


class DetectorStatus(msgspec.Struct, omit_defaults=True):
    """One machine's detectors: current mode, whether that mode is still being learned."""

    machine: str
    mode: str
    learning: bool
    learning_left_s: float
    text: str
    learned_modes: list[str] = msgspec.field(default_factory=list)
    tags: list[TagBaseline] = msgspec.field(default_factory=list)
    alerts_raised: dict[str, int] = msgspec.field(default_factory=dict)
    multivariate: dict[str, float] = msgspec.field(default_factory=dict)
