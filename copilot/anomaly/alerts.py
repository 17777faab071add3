"""What the engine tells the hub: alert changes and what each machine's detectors learned.

:class:`AlertChange` is one explained alert appearing (``active``) or going away;
:class:`DetectorStatus` is one machine's learning state, with a :class:`TagBaseline` per tag.
Plain msgspec Structs; the status ones are the wire's own (``ANOMALY_STATUS``, protocol §15).
"""

from __future__ import annotations

import msgspec

from copilot.protocol import MachineLearned, TagLearned

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


TagBaseline = TagLearned
"""What one tag's detectors learned in one mode (the wire's struct: ``ANOMALY_STATUS``)."""

DetectorStatus = MachineLearned
"""One machine's detectors: current mode, whether that mode is still being learned."""
