"""What every view of the station shares: the station core, the theme, the frame clock, navigation.

:class:`QtStationBridge` is the only path from the station's I/O thread into Qt: a queued signal
carrying the core's low-rate events (link changes, machines born or dead, command updates,
history replies). High-rate samples never cross it: views pull from ``ctx.store`` when
:attr:`StationContext.frame` ticks (``station.frame_hz``, 30 Hz by default), and only views that
are visible repaint.

The theme has one source: :attr:`StationContext.theme`, changed only by
:meth:`StationContext.set_theme`, which emits :attr:`StationContext.theme_changed` — views read
``ctx.theme`` when they paint and connect the signal for anything they cache (pens, style sheets,
plot backgrounds).
"""

from __future__ import annotations

import time
from typing import Literal

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from copilot.settings import Settings
from copilot.station import Event, Station, StationStore
from ui.theme import THEMES, Theme

Pace = Literal["steady", "on_data"]

ON_DATA_HZ = 2.0  # paced by data, at most this many frames a second (overview values: 1 Hz)
AGEING_S = 1.0  # paced by data, a frame at least this often all the same (stale marks, clocks)


class QtStationBridge(QObject):
    """Re-emits the station core's events on the GUI thread; wakes it when data arrived."""

    event_received = Signal(object)
    data_arrived = Signal()  # no payload: the samples stay in the store

    def __init__(self, station: Station) -> None:
        super().__init__()
        station.add_listener(self._from_io_thread)

    def _from_io_thread(self, event: Event) -> None:
        # Emitting from the I/O thread: Qt queues it to this object's (the GUI) thread.
        self.event_received.emit(event)

    def wake(self) -> None:
        """Called once on the I/O thread after the store applied data it was asked to tell of."""
        self.data_arrived.emit()


class StationContext(QObject):
    """Shared by every view; owns the frame timer and the navigation requests."""

    frame = Signal(float)  # wall-clock time of this frame
    event = Signal(object)  # a core event, on the GUI thread
    open_machine = Signal(str)
    open_trend = Signal(str, str)  # machine id, tag name
    open_overview = Signal()
    open_alarms = Signal()  # the alarm table (ui.alarms)
    open_trend_at = Signal(str, str, float, float)  # machine id, tag, from, to (Unix s)
    theme_changed = Signal(object)  # the new ui.theme.Theme, after ctx.theme was set

    def __init__(self, station: Station, settings: Settings, insecure: bool) -> None:
        super().__init__()
        self.station = station
        self.settings = settings
        self.insecure = insecure
        self.theme: Theme = THEMES[settings.station.theme]
        self.created = time.time()  # the station was started just after: "not reached since"
        self.bridge = QtStationBridge(station)
        self.bridge.event_received.connect(self.event, Qt.ConnectionType.QueuedConnection)
        self.bridge.data_arrived.connect(self._on_data, Qt.ConnectionType.QueuedConnection)
        self.timer = QTimer(self)  # the steady frame clock
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(max(1, round(1000 / settings.station.frame_hz)))
        self.timer.timeout.connect(self._tick)
        self._next = QTimer(self)  # paced by data: the next frame, once
        self._next.setSingleShot(True)
        self._next.setTimerType(Qt.TimerType.PreciseTimer)
        self._next.timeout.connect(self._tick)
        self.pace: Pace = "steady"
        self._running = False
        self._last_tick = 0.0  # monotonic

    @property
    def store(self) -> StationStore:
        """The station's state, read by views on each frame."""
        return self.station.store

    def set_theme(self, theme: Theme) -> None:
        """Make ``theme`` the station's theme and tell every view (no-op if it already is)."""
        if theme == self.theme:
            return
        self.theme = theme
        self.theme_changed.emit(theme)

    def set_pace(self, pace: Pace) -> None:
        """``steady`` frames at ``frame_hz``, or frames ``on_data`` (see the module docstring)."""
        if pace == self.pace:
            return
        self.pace = pace
        if self._running:
            self._stop_clock()
            self._start_clock()

    def start(self) -> None:
        """Start the frame clock."""
        self._running = True
        self._start_clock()

    def stop(self) -> None:
        """Stop the frame clock."""
        self._running = False
        self._stop_clock()

    def _start_clock(self) -> None:
        if self.pace == "steady":
            self.timer.start()
        else:
            self._next.start(0)

    def _stop_clock(self) -> None:
        self.timer.stop()
        self._next.stop()
        self.store.wake_on_data(None)

    def _on_data(self) -> None:
        if not self._running or self.pace != "on_data":
            return
        due = self._last_tick + 1 / ON_DATA_HZ - time.monotonic()
        if not self._next.isActive() or self._next.remainingTime() > due * 1000:
            self._next.start(max(0, round(due * 1000)))

    def _tick(self) -> None:
        if self.pace == "on_data":
            # Armed before the views read: data applied while they do wake the next frame.
            self.store.wake_on_data(self.bridge.wake)
            self._last_tick = time.monotonic()
            self._next.start(round(AGEING_S * 1000))
        # The I/O thread holds off from here until the repaint this frame asked for is done:
        # the repaint is a posted event, handled before the zero timer that ends the frame.
        gate = self.station.frames
        gate.begin()
        try:
            self.frame.emit(time.time())
        finally:
            QTimer.singleShot(0, gate.end)
