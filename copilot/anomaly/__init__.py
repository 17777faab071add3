"""Streaming anomaly detection: per-signal and multivariate detectors, calibrated and explained."""

from copilot.anomaly.alerts import AlertChange, DetectorStatus, TagBaseline
from copilot.anomaly.config import DETECTORS, AnomalyConfig
from copilot.anomaly.engine import AnomalyEngine, Verdict

__all__ = [
    "DETECTORS",
    "AlertChange",
    "AnomalyConfig",
    "AnomalyEngine",
    "DetectorStatus",
    "TagBaseline",
    "Verdict",
]
