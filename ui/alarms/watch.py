"""The window's one reading of the station's alarms, shared by the banner, flood banner and meter.

:class:`QtAlarmWatch` re-reads ``station.alarms`` only when its version moved (or once a second,
for "time since" and the flood window sliding), computes the banner's facts and the flood watch
(:mod:`copilot.alarms.board`), and emits :attr:`QtAlarmWatch.changed` when what they show may
have changed. Cheap on an idle plant: one integer compare per frame.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal

from copilot.alarms.board import BannerFacts, FloodWatch, LoadLevel, banner_facts, first_outs
from copilot.protocol import AlarmStatus
from ui.context import StationContext

NS = 1_000_000_000
REREAD_S = 1.0  # time since and the flood window move even when no alarm changed


class QtAlarmWatch(QObject):
    """Alarm facts for the always-visible widgets, refreshed from the frame clock."""

    changed = Signal()

    def __init__(self, ctx: StationContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.flood = FloodWatch()
        self.alarms: dict[str, AlarmStatus] = {}
        self.facts: BannerFacts = banner_facts([])
        self.rate = 0
        self.in_flood = False
        self.level: LoadLevel = "acceptable"
        self.flood_summary = ""
        self.first_outs: list[AlarmStatus] = []
        self.now_ns = time.time_ns()
        self._version = -1
        self._read_at = 0.0
        ctx.frame.connect(self._on_frame)

    def _on_frame(self, now: float) -> None:
        version = self.ctx.station.alarms.version
        if version == self._version and now - self._read_at < REREAD_S:
            return
        self.refresh(now)

    def refresh(self, now: float | None = None) -> None:
        """Read the station's alarms now and tell the widgets."""
        now = time.time() if now is None else now
        self._version = self.ctx.station.alarms.version
        self._read_at = now
        self.now_ns = int(now * NS)
        self.alarms = self.ctx.station.alarms.all()
        statuses = list(self.alarms.values())
        self.facts = banner_facts(statuses)
        self.flood.update(statuses, self.now_ns)
        self.rate = self.flood.rate(self.now_ns)
        self.in_flood = self.flood.in_flood(self.now_ns)
        self.level = self.flood.level(self.now_ns)
        self.flood_summary = self.flood.summary(self.now_ns) if self.in_flood else ""
        self.first_outs = first_outs(statuses) if self.in_flood else []
        self.changed.emit()

    def machine_name(self, machine: str) -> str:
        """The machine's name from its BIRTH (its id until the BIRTH arrived)."""
        for snap in self.ctx.store.machines():
            if snap.info.id == machine:
                return snap.info.name or machine
        return machine
