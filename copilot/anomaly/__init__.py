"""Streaming anomaly detection and projections: calibrated, explained, advisory.

``signals`` and ``multivariate`` (the detectors), ``calibrate`` (thresholds from a target
false-alert rate), ``machine`` and ``engine`` (one machine's detectors and the plant's),
``alerts`` and ``wording`` (what an alert says), ``state`` (what was learned, saved and
restored), ``config``, ``projection`` (time to the next limit, with a band), ``advice`` (which
tags get one, how often, and what the overview says) and ``continuation`` (the line to draw).
"""

from copilot.anomaly.advice import Advice, Projector, overview_texts, projectable, soonest, turned
from copilot.anomaly.alerts import AlertChange, DetectorStatus, TagBaseline
from copilot.anomaly.config import DETECTORS, AnomalyConfig
from copilot.anomaly.continuation import Continuation, continuation
from copilot.anomaly.engine import AnomalyEngine, Verdict
from copilot.anomaly.projection import Projection, project, theil_sen

__all__ = [
    "DETECTORS",
    "Advice",
    "AlertChange",
    "AnomalyConfig",
    "AnomalyEngine",
    "Continuation",
    "DetectorStatus",
    "Projection",
    "Projector",
    "TagBaseline",
    "Verdict",
    "continuation",
    "overview_texts",
    "project",
    "projectable",
    "soonest",
    "theil_sen",
    "turned",
]
