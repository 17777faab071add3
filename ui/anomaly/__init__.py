"""The anomaly detectors on the station: explained alerts with suggestions, the detector panel."""

from ui.anomaly.alerts import QtAnomalyAlerts
from ui.anomaly.detectors import QtDetectorPanel

__all__ = ["QtAnomalyAlerts", "QtDetectorPanel"]
