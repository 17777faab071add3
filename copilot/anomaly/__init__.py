"""Streaming anomaly detection and projections: calibrated, explained, advisory.

``signals`` and ``multivariate`` (the detectors), ``calibrate`` (thresholds from a target
false-alert rate), ``machine`` and ``engine`` (one machine's detectors and the plant's),
``alerts`` and ``wording`` (what an alert says), ``state`` (what was learned, saved and
restored), ``config`` and ``projection`` (time to the next limit, with a band).
"""

from copilot.anomaly.alerts import AlertChange, DetectorStatus, TagBaseline
from copilot.anomaly.config import DETECTORS, AnomalyConfig
from copilot.anomaly.engine import AnomalyEngine, Verdict
from copilot.anomaly.projection import Projection, project, theil_sen

__all__ = [
    "DETECTORS",
    "AlertChange",
    "AnomalyConfig",
    "AnomalyEngine",
    "DetectorStatus",
    "Projection",
    "TagBaseline",
    "Verdict",
    "project",
    "theil_sen",
]
