"""The station window: navigation between the views, link health, and the launcher.

:class:`MainWindow` shows one view at a time — the plant overview (level 1), a machine (level 2)
or a trend — with a toolbar, a status bar (link state, secure/insecure, latency, message rate,
gaps, resyncs) and a banner that cannot be missed when the hub link is lost. :func:`launch` is
the ``copilot.station`` entry point the command line calls for ``copilot station`` and
``copilot demo``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from copilot.bus import Bus, Security
from copilot.settings import Settings
from copilot.station import LinkChanged, LinkState, Station
from ui import theme as themes
from ui.context import StationContext

log = logging.getLogger(__name__)

STATUS_S = 1.0  # status bar counters refresh (latency, rates): a reading a second is plenty


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


class QtLinkBanner(QLabel):
    """A red bar across the window while the hub link is lost: data is stale, says since when."""

    def __init__(self, ctx: StationContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setObjectName("banner")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(themes.TOUCH)
        self.hide()
        ctx.event.connect(self._on_event)
        ctx.frame.connect(self._on_frame)
        self._last = 0.0

    def _on_event(self, event: object) -> None:
        if isinstance(event, LinkChanged):
            self.refresh()

    def _on_frame(self, now: float) -> None:
        if now - self._last >= 0.5:
            self._last = now
            self.refresh()

    def refresh(self) -> None:
        """Show or hide the banner according to the station's link."""
        station = self.ctx.station
        lost = station.state == LinkState.LOST
        never = station.state == LinkState.CONNECTING and time.time() - station.state_since > 3
        if lost or never:
            since = _clock(station.state_since)
            reason = (
                station.stats.last_handshake_failure if station.stats.handshake_failures else ""
            )
            text = f"⚠  Data is stale — hub unreachable since {since}"
            if reason and "refused" in reason:
                text = f"⚠  Hub refuses this station's key since {since} — data is stale"
            self.setText(text)
            self.show()
        else:
            self.hide()


class QtStatusBar(QWidget):
    """Link health in the window's status bar, updated twice a second."""

    def __init__(self, ctx: StationContext, window: QMainWindow) -> None:
        super().__init__()
        self.ctx = ctx
        bar = window.statusBar()
        self.link = QLabel()
        self.security = QLabel("INSECURE — no encryption" if ctx.insecure else "Secure (CurveZMQ)")
        if ctx.insecure:
            self.security.setObjectName("insecure")
        self.latency = QLabel()
        self.rate = QLabel()
        self.health = QLabel()
        for label in (self.link, self.security, self.latency, self.rate, self.health):
            bar.addWidget(label)
        ctx.frame.connect(self._on_frame)
        self._last = 0.0
        self.refresh()

    def _on_frame(self, now: float) -> None:
        if now - self._last >= STATUS_S:
            self._last = now
            self.refresh()

    def refresh(self) -> None:
        """Read the station's counters."""
        station = self.ctx.station
        stats = station.stats
        self.link.setText(f"Hub {station.hub} · link {station.state.value}")
        self.latency.setText(f"latency {stats.latency_ms:.1f} ms")
        self.rate.setText(f"{stats.rate_msgs_s:,.0f} msg/s · {stats.rate_samples_s:,.0f} values/s")
        self.health.setText(f"gaps {stats.gaps} · resyncs {stats.resyncs}")

    def texts(self) -> list[str]:
        """What the status bar says, left to right (for tests)."""
        return [w.text() for w in (self.link, self.security, self.latency, self.rate, self.health)]


class MainWindow(QMainWindow):
    """Overview, machine and trend views with consistent navigation and keyboard shortcuts."""

    def __init__(self, ctx: StationContext) -> None:
        super().__init__()
        from ui.machine import QtMachineView
        from ui.overview import QtOverview
        from ui.trend import QtTrend

        self.ctx = ctx
        app = QApplication.instance()
        if isinstance(app, QApplication) and not app.styleSheet():
            themes.apply(app, ctx.theme)
        self.setWindowTitle("Operator Co-Pilot" + (" — INSECURE" if ctx.insecure else ""))
        self.setMinimumSize(1024, 640)
        self.overview = QtOverview(ctx)
        self.machine = QtMachineView(ctx)
        self.trend = QtTrend(ctx)
        self.stack = QStackedWidget()
        for view in (self.overview, self.machine, self.trend):
            self.stack.addWidget(view)
        self.banner = QtLinkBanner(ctx)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.status = QtStatusBar(ctx, self)
        self._history: list[str] = []
        self._current = "overview"
        self._build_toolbar()
        ctx.open_machine.connect(lambda mid: self.show_view(f"machine:{mid}"))
        ctx.open_trend.connect(lambda mid, tag: self.show_view(f"trend:{mid}/{tag}"))
        ctx.open_overview.connect(lambda: self.show_view("overview"))

    def _build_toolbar(self) -> None:
        bar = QToolBar("Navigation")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)

        def action(text: str, keys: list[QKeySequence | str], slot: Any, tip: str) -> QAction:
            act = QAction(text, self)
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.setToolTip(f"{tip} ({', '.join(QKeySequence(k).toString() for k in keys)})")
            act.triggered.connect(slot)
            bar.addAction(act)
            return act

        action("⌂ Overview", ["F1", "Home"], lambda: self.show_view("overview"), "Plant overview")
        action("◀ Back", ["Alt+Left", "Backspace", "Esc"], self.back, "Previous view")
        self.title = QLabel()
        self.title.setObjectName("viewTitle")
        bar.addWidget(self.title)
        spacer = QWidget()
        spacer.setObjectName("spacer")
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        action("◐ Theme", ["Ctrl+T"], self.toggle_theme, "Light / dark")
        action("Full screen", ["F11"], self.toggle_fullscreen, "Full screen")
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        self.addAction(quit_action)

    # -- navigation ---------------------------------------------------------------------------

    def show_view(self, spec: str, remember: bool = True) -> None:
        """Show ``overview``, ``machine:ID`` or ``trend:ID/TAG``."""
        kind, _, rest = spec.partition(":")
        if kind == "machine" and rest:
            self.machine.show_machine(rest)
            self.stack.setCurrentWidget(self.machine)
            self.title.setText(rest)
        elif kind == "trend" and "/" in rest:
            machine, tag = rest.split("/", 1)
            self.trend.show_signals(machine, [tag])
            self.stack.setCurrentWidget(self.trend)
            self.title.setText(f"Trend · {machine} / {tag}")
        else:
            spec = "overview"
            self.stack.setCurrentWidget(self.overview)
            self.title.setText("Plant overview")
        if remember and spec != self._current:
            self._history.append(self._current)
            del self._history[:-20]
        self._current = spec

    def back(self) -> None:
        """Return to the previous view."""
        if self._history:
            self.show_view(self._history.pop(), remember=False)

    def toggle_theme(self) -> None:
        """Switch between the light (bright floors) and dark (control rooms) themes."""
        new = themes.DARK if self.ctx.theme.name == "light" else themes.LIGHT
        self.ctx.theme = new
        app = QApplication.instance()
        if isinstance(app, QApplication):
            themes.apply(app, new)
        self.update()

    def toggle_fullscreen(self) -> None:
        """Full screen on and off (kiosk panels start full screen)."""
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()


def _check_display(offscreen: bool) -> None:
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not platform and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise RuntimeError(
            "No display to open the station window on: set DISPLAY (or WAYLAND_DISPLAY), "
            "or add --offscreen --screenshot FILE to render without one, or --headless."
        )


def launch(settings: Settings, args: argparse.Namespace, rig: Any = None) -> int:
    """Open the station window (and run the demo rig's processes while it is open)."""
    _check_display(bool(getattr(args, "offscreen", False)))
    app = QApplication.instance() or QApplication(["copilot"])
    assert isinstance(app, QApplication)
    app.setApplicationName("Operator Co-Pilot")
    ctx_theme = themes.THEMES[settings.station.theme]
    themes.apply(app, ctx_theme)
    if rig is not None:
        rig.start()
    hub = rig.address if rig is not None else settings.client.hub
    security = Security.from_data_path(settings.data_path, "station", settings.security.insecure)
    bus = Bus(security)
    station = Station(bus, hub, settings.station, heartbeat_ms=settings.hub.heartbeat_ms)
    ctx = StationContext(station, settings, settings.security.insecure)
    window = MainWindow(ctx)
    station.start()
    ctx.start()
    window.show_view(getattr(args, "view", "overview") or "overview", remember=False)
    screenshot = getattr(args, "screenshot", None)
    if screenshot:
        window.resize(1600, 1000)
    if settings.station.kiosk:
        window.showFullScreen()
    else:
        window.show()

    # Ctrl-C / SIGTERM end the event loop cleanly; a timer lets Python see the signal.
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    wake = QTimer()
    wake.start(200)
    wake.timeout.connect(lambda: None)
    if rig is not None:
        watchdog = QTimer()
        watchdog.start(1000)

        def check() -> None:
            problem = rig.problem()
            if problem:
                log.error("%s", problem)
                app.exit(1)

        watchdog.timeout.connect(check)
    quit_after = getattr(args, "quit_after", None)
    if screenshot and not quit_after:
        quit_after = 8.0
    if quit_after:

        def finish() -> None:
            if screenshot and window.stack.currentWidget() is window.trend:
                window.trend.set_cursor(time.time() - 8)  # show the cursor's read-out
                app.processEvents()
            if screenshot:
                window.grab().save(screenshot)
                log.info("saved a screenshot to %s", screenshot)
            app.quit()

        QTimer.singleShot(int(quit_after * 1000), finish)
    try:
        code = app.exec()
    finally:
        ctx.stop()
        station.stop()
        bus.close()
        if rig is not None:
            rig.stop()
    return int(code)
