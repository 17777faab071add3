"""Operator Co-Pilot: the Qt-free core (protocol, agent, hub, station, simulator, storage)."""

__version__ = "0.1.0"
