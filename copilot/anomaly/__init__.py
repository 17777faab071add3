"""The co-pilot's intelligence: projections (more modules join: the streaming detectors)."""

from copilot.anomaly.projection import Projection, project, theil_sen

__all__ = ["Projection", "project", "theil_sen"]
