"""The station window: navigation between the views, link health, and the launcher.

:class:`MainWindow` shows one view at a time — the plant overview (level 1), a machine (level 2)
or a trend — with a toolbar, a status bar (link state, secure/insecure, latency, message rate,
gaps, resyncs) and a banner that cannot be missed when the hub link is lost. :func:`launch` is
the ``copilot.station`` entry point the command line calls for ``copilot station`` and
``copilot demo``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import tempfile
import time
from collections import deque
from typing import Any

from PySide6.QtCore import QEvent, QSize, QSocketNotifier, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QGuiApplication,
    QKeySequence,
    QPainter,
    QPaintEvent,
)
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
RATE_WINDOW_S = 5.0  # values/s: the running totals over the last few seconds
NEVER_REACHED_S = 3.0  # no hub this long after starting: say so, and why
KIOSK_LOCKED = "Locked in kiosk mode"


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def _reasons(counts: dict[str, int]) -> str:
    """``reason N, reason N`` (largest first), or ``none``."""
    top = sorted(counts.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v:,}" for k, v in top if v) or "none"


class RateMeter:
    """Messages/s and values/s from the station's running totals, over the last few seconds.

    The station's own ``rate_*`` figures average over a 16 s window that begins before the
    first data arrived, so for the first 16 s after joining (and after every resync) they
    read low (0, 29, 32 while 40/s flowed). Totals sampled once a second and divided by the
    time between the oldest and newest sample are exact to one message batch.
    """

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._points: deque[tuple[float, int, int]] = deque()

    def add(self, now: float, messages: int, samples: int) -> None:
        """Record the totals seen at ``now`` (monotonic seconds)."""
        if self._points and (messages, samples) < self._points[-1][1:]:
            self._points.clear()  # the totals started over (a new station)
        self._points.append((now, messages, samples))
        while len(self._points) > 2 and now - self._points[1][0] >= self.window_s:
            self._points.popleft()

    def reset(self) -> None:
        """Forget the totals (the link changed: what came before says nothing about now)."""
        self._points.clear()

    def rates(self) -> tuple[float, float] | None:
        """``(messages/s, values/s)``, or ``None`` until a second has been measured."""
        if len(self._points) < 2:
            return None
        (t0, m0, s0), (t1, m1, s1) = self._points[0], self._points[-1]
        if t1 - t0 < 0.9:
            return None
        return (m1 - m0) / (t1 - t0), (s1 - s0) / (t1 - t0)


class LinkWatch:
    """What the window knows about the hub link beyond the station's current state.

    The station restarts its "connecting" state every few seconds while it waits, so its
    ``state_since`` cannot say since when the hub has not been reached: the window remembers
    whether the link was ever live, and when data last arrived (the moment it stopped).
    """

    def __init__(self, ctx: StationContext) -> None:
        self.ctx = ctx
        self.ever_live = False
        self.last_data = 0.0  # wall-clock time data were last seen arriving
        self.cause = ""  # the last LinkChanged's cause, once the station core gives one
        self._samples = -1

    def on_link_changed(self, event: LinkChanged) -> None:
        """Remember why the link changed, when the event says so."""
        # The station core is gaining ``LinkChanged.cause`` (a closed set incl. version_mismatch,
        # on the station branch); until it lands, the reason is derived from the stats below.
        self.cause = str(getattr(event, "cause", "") or "")

    def observe(self, now: float) -> None:
        """Call on every frame: cheap (two integers)."""
        station = self.ctx.station
        if station.state == LinkState.LIVE:
            self.ever_live = True
        samples = station.store.samples
        if samples != self._samples:
            self._samples = samples
            self.last_data = now

    def problem(self, now: float) -> tuple[str, str] | None:
        """``(headline, advice)`` when the data cannot be trusted because of the link."""
        station = self.ctx.station
        stats = station.stats
        state = station.state
        failure = stats.last_handshake_failure if stats.handshake_failures else ""
        refused = "refused" in failure or self.cause == "key_refused"
        failure = failure or ("handshake" if self.cause == "handshake_failed" else "")
        if not self.ever_live and state != LinkState.LIVE:
            since = self.ctx.created
            if now - since < NEVER_REACHED_S and not failure:
                return None
            if self.cause == "version_mismatch":
                why = "it speaks another protocol version"
                advice = "Run the same copilot version on the hub and on this station"
            elif refused:
                why = "it refuses this station's key (unknown key)"
                advice = "Admit the key on the hub: copilot keys allow … --role station"
            elif failure:
                why = "the security handshake fails (wrong hub key)"
                advice = "Check the hub's public key in this station's data folder, and that "
                advice += "both sides run secure (or both --insecure)"
            else:
                why = "nothing answers"
                advice = "Is the hub running, at this address, and the same version?"
            return (f"⚠  Hub {station.hub} not reached since {_clock(since)}: {why}", advice)
        if state == LinkState.LOST:
            since = self.last_data or station.state_since
            if refused:
                return (
                    f"⚠  Data is stale since {_clock(since)} — the hub refuses this station's key",
                    "Admit the key on the hub: copilot keys allow … --role station",
                )
            return (
                f"⚠  Data is stale — hub unreachable since {_clock(since)}",
                "Values show the last known state; the station reconnects by itself",
            )
        return None


class QtLinkBanner(QLabel):
    """A red bar across the window while the data cannot be trusted: why, and since when."""

    def __init__(self, ctx: StationContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.watch = LinkWatch(ctx)
        self.setObjectName("banner")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(themes.TOUCH)
        self.setWordWrap(True)
        self.hide()
        ctx.event.connect(self._on_event)
        ctx.frame.connect(self._on_frame)
        self._last = 0.0
        self.headline = ""

    def _on_event(self, event: object) -> None:
        if isinstance(event, LinkChanged):
            self.watch.on_link_changed(event)
            self.refresh()

    def _on_frame(self, now: float) -> None:
        self.watch.observe(now)
        if now - self._last >= 0.5:
            self._last = now
            self.refresh(now)

    def refresh(self, now: float | None = None) -> None:
        """Show or hide the banner according to the station's link."""
        now = time.time() if now is None else now
        self.watch.observe(now)
        problem = self.watch.problem(now)
        if problem is None:
            self.headline = ""
            self.hide()
            return
        self.headline, advice = problem
        self.setText(f"{self.headline}\n{advice}")
        self.show()


class QtStatusBar(QWidget):
    """Link health in the window's status bar, updated once a second."""

    def __init__(self, ctx: StationContext, window: QMainWindow, watch: LinkWatch) -> None:
        super().__init__()
        self.ctx = ctx
        self.watch = watch
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
        self.meter = RateMeter()
        ctx.frame.connect(self._on_frame)
        ctx.event.connect(self._on_event)
        self._last = 0.0
        self.refresh()

    def _on_event(self, event: object) -> None:
        if isinstance(event, LinkChanged):
            self.meter.reset()
            self.refresh()

    def _on_frame(self, now: float) -> None:
        if now - self._last >= STATUS_S:
            self._last = now
            self.refresh()

    def refresh(self) -> None:
        """Read the station's counters."""
        station = self.ctx.station
        stats = station.stats
        live = station.state == LinkState.LIVE
        self.meter.add(time.monotonic(), stats.messages, stats.samples)
        state = station.state.value
        if not live and not self.watch.ever_live:
            state = "not reached"  # it flips between connecting and syncing while it waits
        self.link.setText(f"Hub {station.hub} · link {state}")
        self.latency.setText(f"latency {stats.latency_ms:.1f} ms" if live else "latency —")
        rates = self.meter.rates() if live else None
        if rates is None:
            self.rate.setText("— msg/s · — values/s")
        else:
            self.rate.setText(f"{rates[0]:,.0f} msg/s · {rates[1]:,.0f} values/s")
        # Every drop is visible: this station's own, and the hub's (its latest health report).
        text = f"gaps {stats.gaps} · resyncs {stats.resyncs} · dropped {stats.dropped:,}"
        tip = [f"this station dropped: {_reasons(stats.drops)}"]
        report = station.hub_status
        if report is not None:
            text += f" · hub dropped {report.drops:,}"
            hub = report.status.hub
            tip.append(f"the hub dropped: {_reasons(hub.drops)}")
            if hub.service_errors:
                tip.append(f"hub service errors: {_reasons(hub.service_errors)}")
            tip.append("details: copilot hub status")
        self.health.setText(text)
        self.health.setToolTip("\n".join(tip))

    def values_per_s(self) -> float | None:
        """The values/s shown (``None`` while it shows a dash)."""
        rates = self.meter.rates()
        return None if rates is None or self.ctx.station.state != LinkState.LIVE else rates[1]

    def texts(self) -> list[str]:
        """What the status bar says, left to right (for tests)."""
        return [w.text() for w in (self.link, self.security, self.latency, self.rate, self.health)]


class QtViewTitle(QLabel):
    """The view's name in the top bar: it gives way (ends in "…") before any button does.

    A label asks for its whole text's width, so on a 1280 px panel a long trend title
    ("Trend · press-02 / barrel_temp_c") squeezed the bar's buttons to "⚠ ...ms" and "Si...ce".
    """

    MIN_W = 80

    def __init__(self) -> None:
        super().__init__()
        # It asks for little and takes what the buttons leave (it is the bar's spacer too).
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        """Small: the bar's buttons keep their words, the title takes what is left."""
        hint = super().sizeHint()
        return QSize(min(hint.width(), self.MIN_W), hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        """As small as :meth:`sizeHint`."""
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        """The text cut to the width with an ellipsis (the whole of it is the tooltip)."""
        text = self.text()
        room = self.contentsRect().width()
        if self.fontMetrics().horizontalAdvance(text) <= room:
            super().paintEvent(event)
            return
        p = QPainter(self)
        p.setFont(self.font())
        p.setPen(self.palette().color(self.foregroundRole()))
        shown = self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, room)
        p.drawText(self.contentsRect(), int(self.alignment()), shown)
        p.end()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt API)
        """Show ``text`` (and keep it whole in the tooltip)."""
        super().setText(text)
        self.setToolTip(text)


class MainWindow(QMainWindow):
    """Overview, machine and trend views with consistent navigation and keyboard shortcuts.

    The theme has one source, ``ctx.theme``; :meth:`toggle_theme` changes it through
    :meth:`StationContext.set_theme`. Views that follow ``ctx.theme_changed`` themselves say
    so with a class attribute ``follows_theme = True``; any other view of the stack is built
    again in the new theme (its colours may be baked into it).

    In kiosk mode (``station.kiosk``) the window is full screen and stays so: F11, the
    full-screen button, the theme toggle, Ctrl+Q and closing the window are locked; only
    :meth:`shutdown` (SIGTERM, Ctrl-C in the terminal) ends it.
    """

    def __init__(self, ctx: StationContext, demo_hint: str = "") -> None:
        super().__init__()
        from ui.alarms import QtAlarmRow, QtAlarmTable, QtFloodBanner, QtKpiView
        from ui.gate.flow import QtGate
        from ui.trend import QtTrend

        self.ctx = ctx
        self.stack = QStackedWidget()
        # The command gate: the lock screen and the sheets cover the views (the link banner and
        # the alarm row above them stay live); it drives the machine view's command panel.
        self.gate = QtGate(ctx, self.stack, demo_hint)
        self.kiosk = bool(ctx.settings.station.kiosk)
        self._may_close = not self.kiosk
        app = QApplication.instance()
        if isinstance(app, QApplication) and not app.styleSheet():
            themes.apply(app, ctx.theme)
        self.setWindowTitle("Operator Co-Pilot" + (" — INSECURE" if ctx.insecure else ""))
        self.setMinimumSize(1024, 640)
        self.overview = self._make_view("overview")
        self.machine = self._make_view("machine")
        self.trend = QtTrend(ctx)
        self.alarms = QtAlarmTable(ctx)
        self.kpis = QtKpiView(ctx)
        self.approvals = self.gate.queue
        self.audit = self.gate.audit
        for view in (
            self.overview,
            self.machine,
            self.trend,
            self.alarms,
            self.kpis,
            self.approvals,
            self.audit,
        ):
            self.stack.addWidget(view)
        # The overview is repainted when data arrive; a trend (alone or in the machine view)
        # scrolls by itself and takes the steady frame rate.
        self.stack.currentChanged.connect(self._on_view_changed)
        self._on_view_changed(self.stack.currentIndex())
        self.banner = QtLinkBanner(ctx)
        # The alarm row is above every view (the plant summary strip is the overview's own).
        self.alarm_row = QtAlarmRow(ctx)
        self.flood_banner = QtFloodBanner(ctx, self.alarm_row.watch)
        self.sounder = self._make_sounder()
        self.voice = self._make_voice()  # push-to-talk (docs/voice.md); None when switched off
        self.gate.chime = lambda: self.sounder.chime("low")
        self.gate.notice.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.gate.session_changed.connect(lambda s: self._on_session(s))
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.alarm_row)
        layout.addWidget(self.flood_banner)
        layout.addWidget(self.gate.idle_banner)
        if self.voice is not None:
            layout.addWidget(self.voice.bar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.status = QtStatusBar(ctx, self, self.banner.watch)
        self._current = "overview"
        self._build_toolbar()
        ctx.open_machine.connect(lambda mid: self.show_view(f"machine:{mid}"))
        ctx.open_trend.connect(lambda mid, tag: self.show_view(f"trend:{mid}/{tag}"))
        ctx.open_overview.connect(lambda: self.show_view("overview"))
        ctx.open_alarms.connect(lambda: self.show_view("alarms"))
        ctx.open_trend_at.connect(self._show_trend_at)
        ctx.theme_changed.connect(self._on_theme_changed)
        ctx.frame.connect(self._on_frame)
        self._back_checked = 0.0
        self.banner.refresh()
        # Nothing has keyboard focus at first: a touch panel would show the first button's
        # focus ring as if it were selected.
        self.stack.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.stack.setFocus(Qt.FocusReason.OtherFocusReason)

    def _make_sounder(self) -> Any:
        """Tones and speech for the alarms (nothing plays on an offscreen station)."""
        from ui.sound import AlarmSounder

        station = self.ctx.settings.station
        audible = QGuiApplication.platformName() != "offscreen"
        speaker = None
        if audible and station.alarm_speech:
            from copilot.speech import Speaker

            speaker = Speaker()
            speaker.start()
        self._speaker = speaker
        sounder = AlarmSounder(self, speaker=speaker)
        sounder.muted = not (audible and station.alarm_sound)
        watch = self.alarm_row.watch
        watch.changed.connect(lambda: sounder.update(watch.alarms.values()))
        return sounder

    def _make_voice(self) -> Any:
        """Push-to-talk voice unless ``station.voice`` is off (no microphone offscreen)."""
        if not self.ctx.settings.station.voice:
            return None
        from ui.voice import QtVoice, make_flow, microphone

        offscreen = QGuiApplication.platformName() == "offscreen"
        source, why = (None, None) if offscreen else microphone()
        flow = make_flow(self.ctx, self._speaker, source)
        flow.unavailable = why  # no headset: the Talk button says so and stays off
        flow.start(build_now=not offscreen and why is None)  # loads on the voice worker
        return QtVoice(self.ctx, flow, self.gate, self._voice_machine, parent=self)

    def _voice_machine(self) -> str | None:
        """The machine on screen: its commands need no machine name when spoken."""
        kind, _, rest = self._current.partition(":")
        return rest.split("/", 1)[0] if kind in ("machine", "trend") and rest else None

    def silence(self) -> None:
        """Quiet the alarm tone for a while (F4); silence is not acknowledgement."""
        seconds = self.ctx.settings.station.silence_s
        self.sounder.silence(seconds)
        self.statusBar().showMessage(
            f"Alarm sound silenced for {seconds:g} s — alarms are not acknowledged.", 5000
        )

    def _make_view(self, kind: str) -> QWidget:
        from ui.alarms import QtKpiView
        from ui.machine import QtMachineView
        from ui.overview import QtOverview

        if kind == "kpis":
            return QtKpiView(self.ctx)
        if kind == "overview":
            return QtOverview(self.ctx)
        return QtMachineView(self.ctx, gate=self.gate)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Navigation")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        self.toolbar = bar

        def action(text: str, keys: list[QKeySequence | str], slot: Any, tip: str) -> QAction:
            act = QAction(text, self)
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.setToolTip(f"{tip} ({', '.join(QKeySequence(k).toString() for k in keys)})")
            act.triggered.connect(slot)
            bar.addAction(act)
            return act

        # One way back: up the display hierarchy (trend → its machine → plant overview), the
        # button naming where it goes. Home / F1 jump to the overview from anywhere.
        self.back_action = action("◀ Back", ["Alt+Left", "Backspace", "Esc"], self.back, "Up")
        self.home_action = QAction("Plant overview", self)
        self.home_action.setShortcuts([QKeySequence("Home"), QKeySequence("F1")])
        self.home_action.triggered.connect(lambda: self.show_view("overview"))
        self.addAction(self.home_action)
        self.alarms_action = action("⚠ Alarms", ["F2", "Alt+A"], self.show_alarms, "Alarm table")
        self.kpis_action = action("KPIs", ["F3"], self.show_kpis, "Alarm load KPIs")
        self.silence_action = action(
            "Silence", ["F4"], self.silence, "Quiet the alarm tone (does not acknowledge)"
        )
        self.approvals_action = action(
            "Approve", ["F7"], self.show_approvals, "Two-person requests waiting for a Supervisor"
        )
        bar.addWidget(self.gate.badge)
        self.audit_action = action("Audit", ["F6"], self.show_audit, "The audit trail")
        # These two buttons hide for people who cannot use them; their keys live on the window
        # (a hidden action's shortcut would not fire).
        for act in (self.approvals_action, self.audit_action):
            keys = act.shortcuts()
            act.setShortcuts([])
            window_act = QAction(act.text(), self)
            window_act.setShortcuts(keys)
            window_act.triggered.connect(act.trigger)
            self.addAction(window_act)
        self.lock_action = action(
            "Log in", ["Ctrl+L"], self.lock, "Log in, or lock so the next person logs in"
        )
        self._on_session(None)  # nobody yet: the bar shows what anyone may use
        if self.voice is not None:  # hold to talk, where the operator's hand is: the top bar
            bar.addWidget(self.voice.talk)
        self.title = QtViewTitle()
        self.title.setObjectName("viewTitle")
        bar.addWidget(self.title)  # expanding: it pushes the buttons after it to the right
        # Rarely used, so short: the bar must hold the view's own buttons on a 1280 px panel.
        self.theme_action = action("◐", ["Ctrl+T"], self.toggle_theme, "Light / dark theme")
        self.fullscreen_action = action("⤢", ["F11"], self.toggle_fullscreen, "Full screen")
        self.quit_action = QAction("Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.triggered.connect(self.close)
        self.addAction(self.quit_action)
        if self.kiosk:
            for act in (self.theme_action, self.fullscreen_action, self.quit_action):
                act.setEnabled(False)  # shortcuts too
                act.setVisible(False)  # a locked button is clutter on a panel
                act.setToolTip(KIOSK_LOCKED)

    # -- navigation ---------------------------------------------------------------------------

    def show_view(self, spec: str) -> None:
        """Show ``overview``, ``machine:ID`` or ``trend:ID/TAG`` (Back then goes one level up)."""
        kind, _, rest = spec.partition(":")
        if kind == "machine" and rest:
            self.machine.show_machine(rest)  # type: ignore[attr-defined]
            self.stack.setCurrentWidget(self.machine)
            self.title.setText(rest)
        elif kind == "trend" and "/" in rest:
            machine, tag = rest.split("/", 1)
            self.trend.show_signals(machine, [tag])
            self.stack.setCurrentWidget(self.trend)
            self.title.setText(f"Trend · {machine} / {tag}")
        elif kind == "alarms":
            self.stack.setCurrentWidget(self.alarms)
            self.title.setText("Alarms")
        elif kind == "kpis":
            self.stack.setCurrentWidget(self.kpis)
            self.title.setText("Alarm KPIs")
        elif kind == "approvals":
            self.stack.setCurrentWidget(self.approvals)
            self.title.setText("Approvals")
        elif kind == "audit":
            self.stack.setCurrentWidget(self.audit)
            self.title.setText("Audit trail")
            if not self.audit.rows:
                self.audit.search()
        else:
            spec = "overview"
            self.stack.setCurrentWidget(self.overview)
            self.title.setText("Plant overview")
        self._current = spec
        self._update_back()

    def _on_view_changed(self, _index: int) -> None:
        self.ctx.set_pace("on_data" if self.stack.currentWidget() is self.overview else "steady")

    def up_view(self) -> str | None:
        """Where Back goes: a trend's machine, a machine's plant overview (None from the top)."""
        kind, _, rest = self._current.partition(":")
        if kind == "trend":
            return f"machine:{rest.split('/', 1)[0]}"
        if kind in ("machine", "alarms", "kpis", "approvals", "audit"):
            return "overview"
        return None

    def _update_back(self) -> None:
        up = self.up_view()
        if up is None:
            self.back_action.setVisible(False)
            return
        kind, _, rest = up.partition(":")
        where = "Plant overview" if kind == "overview" else self._machine_name(rest)
        if self.back_action.text() == f"◀ {where}" and self.back_action.isVisible():
            return
        self.back_action.setText(f"◀ {where}")
        keys = ", ".join(k.toString() for k in self.back_action.shortcuts())
        self.back_action.setToolTip(f"Back to {where} ({keys}); Home: plant overview")
        self.back_action.setVisible(True)

    def _on_frame(self, now: float) -> None:
        if now - self._back_checked >= STATUS_S:  # a machine's name arrives with its BIRTH
            self._back_checked = now
            self._update_back()

    def _machine_name(self, machine: str) -> str:
        for snap in self.ctx.store.machines():
            if snap.info.id == machine:
                return snap.info.name or machine
        return machine

    def show_alarms(self) -> None:
        """The alarm table (F2)."""
        self.show_view("alarms")

    def show_kpis(self) -> None:
        """The alarm-load KPIs (F3)."""
        self.show_view("kpis")

    def show_approvals(self) -> None:
        """The supervisors' approval queue (F7), its trend snippets filled at once."""
        self.show_view("approvals")
        self.approvals.refresh_plots(self.ctx.store.window)

    def show_audit(self) -> None:
        """The audit viewer (F6)."""
        self.show_view("audit")

    def _on_session(self, session: Any) -> None:
        """The lock button says what it does; the status bar who is logged in."""
        self.lock_action.setText("Log in" if session is None else "Lock")
        who = "nobody is logged in" if session is None else f"{session.name} is logged in"
        self.lock_action.setToolTip(f"Log in, or lock so the next person logs in (Ctrl+L); {who}")
        # Only what this person can use is on the bar (it must fit a 1280 px panel): approving
        # is a Supervisor's, reading the audit trail a logged-in person's. The keys stay.
        roles = set(session.roles) if session is not None else set()
        self.approvals_action.setVisible("Supervisor" in roles)
        self.audit_action.setVisible(bool(roles - {"Observer"}))

    def lock(self) -> None:
        """Lock the station now (Ctrl+L): switch user without closing the application."""
        if self.gate.session is not None:
            self.gate.lock("switch")
        else:
            self.gate.show_lock("Log in to command machines.")

    def _show_trend_at(self, machine: str, tag: str, t0: float, t1: float) -> None:
        """A tag's trend over ``t0..t1`` (an alarm's raise), paused there."""
        self.show_view(f"trend:{machine}/{tag}")
        self.trend.set_x_range(t0, t1)

    def back(self) -> None:
        """Go one level up the display hierarchy (trend → machine → plant overview)."""
        up = self.up_view()
        if up is not None:
            self.show_view(up)

    # -- theme --------------------------------------------------------------------------------

    def toggle_theme(self) -> None:
        """Switch between the light (bright floors) and dark (control rooms) themes."""
        if self.kiosk:
            return
        self.ctx.set_theme(themes.DARK if self.ctx.theme.name == "light" else themes.LIGHT)

    def _on_theme_changed(self, theme: themes.Theme) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            themes.apply(app, theme)
        for name in ("overview", "machine", "kpis"):
            old: QWidget = getattr(self, name)
            if getattr(old, "follows_theme", False):
                continue
            new = self._make_view(name)
            current = self.stack.currentWidget() is old
            self.stack.insertWidget(self.stack.indexOf(old), new)
            setattr(self, name, new)
            if current:
                self.show_view(self._current)
            self.stack.removeWidget(old)
            old.deleteLater()
        self.update()

    def open_views(self) -> list[QWidget]:
        """Every view of the window (for tests)."""
        return [self.stack.widget(i) for i in range(self.stack.count())]

    # -- window -------------------------------------------------------------------------------

    def toggle_fullscreen(self) -> None:
        """Full screen on and off (kiosk panels start full screen and stay so)."""
        if self.kiosk:
            return
        if self.isFullScreen():
            self.showMaximized()
        else:
            self.showFullScreen()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        """Kiosk: leaving full screen (window manager, double click on a title) is undone."""
        super().changeEvent(event)
        if (
            self.kiosk
            and event.type() == QEvent.Type.WindowStateChange
            and self.isVisible()
            and not self.isFullScreen()
        ):
            QTimer.singleShot(0, self.showFullScreen)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        """Kiosk: the window cannot be closed from the panel (only by :meth:`shutdown`)."""
        if self._may_close:
            event.accept()
        else:
            event.ignore()

    def shutdown(self) -> None:
        """Close the window for good, in kiosk mode too (a signal, the end of a screenshot)."""
        self._may_close = True
        self.sounder.close()
        if self.voice is not None:
            self.voice.close()
        if self._speaker is not None:
            self._speaker.stop()
        self.close()


def _panel_screen(size: tuple[int, int]) -> str:
    """An offscreen platform config: one screen of a panel's size, no window frame."""
    w, h = size
    config = {
        "windowFrameMargins": False,
        "screens": [
            {
                "name": f"panel-{w}x{h}",
                "x": 0,
                "y": 0,
                "width": w,
                "height": h,
                "logicalDpi": 96,
                "logicalBaseDpi": 96,
                "dpr": 1,
            }
        ],
    }
    handle, path = tempfile.mkstemp(prefix="copilot-screen-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        json.dump(config, f)
    return path


def _check_display(offscreen: bool, size: tuple[int, int] | None = None) -> str | None:
    """Choose the platform; returns a temporary screen config to delete once Qt has read it."""
    if offscreen:
        if size is not None:  # a screen of exactly that size: the window opens maximised on it
            config = _panel_screen(size)
            os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"
            return config
        # Keep "offscreen:configfile=screens.json" (a screen of a panel's size) if given.
        if not os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not platform and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise RuntimeError(
            "No display to open the station window on: set DISPLAY (or WAYLAND_DISPLAY), "
            "or add --offscreen --screenshot FILE to render without one, or --headless."
        )
    return None


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def launch(settings: Settings, args: argparse.Namespace, rig: Any = None) -> int:
    """Open the station window (and run the demo rig's processes while it is open)."""
    size: tuple[int, int] | None = getattr(args, "size", None)
    config = _check_display(bool(getattr(args, "offscreen", False)), size)
    app = QApplication.instance() or QApplication(["copilot"])
    assert isinstance(app, QApplication)
    if config is not None:
        os.unlink(config)  # read when the platform started
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
    from copilot.gate.panel import DEMO_HINT

    # `copilot demo` creates the demo's people in the hub: its login screen says who they are.
    window = MainWindow(ctx, demo_hint=DEMO_HINT if rig is not None else "")
    station.start()
    ctx.start()
    window.show_view(getattr(args, "view", "overview") or "overview")
    screenshot = getattr(args, "screenshot", None)
    screen = app.primaryScreen()
    room = screen.availableSize() if screen is not None else None
    if settings.station.kiosk:
        window.showFullScreen()
    elif size is not None and (room is None or (room.width(), room.height()) != size):
        window.setGeometry(0, 0, *size)  # a real display of another size (or no window manager)
        window.show()
    elif screenshot and (room is None or room.width() < 1024 or room.height() < 640):
        window.resize(1600, 1000)  # the offscreen platform's default screen is 800×600
        window.show()
    else:
        if screen is not None:  # without a window manager (a bare X server) maximising is a no-op
            window.setGeometry(screen.availableGeometry())
        window.showMaximized()  # panels are used full size, never at the minimum size

    def shutdown(*_: object) -> None:
        window.shutdown()  # a kiosk window refuses to close otherwise, and so quit() too
        app.quit()

    # Ctrl-C / SIGTERM end the event loop cleanly. Python runs a handler only between bytecodes:
    # the signal's byte on a wake-up pipe wakes Qt's loop, which runs a (no-op) Python slot —
    # instead of a timer waking the loop five times a second to look.
    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    previous_wakeup = signal.set_wakeup_fd(wake_w)
    wake = QSocketNotifier(wake_r, QSocketNotifier.Type.Read)
    wake.activated.connect(lambda *_: _drain(wake_r))
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

        def take() -> None:
            if screenshot:
                window.grab().save(screenshot)
                log.info("saved a screenshot to %s", screenshot)
            shutdown()

        def finish() -> None:
            if screenshot and window.stack.currentWidget() is window.trend:
                window.trend.set_cursor(time.time() - 8)  # show the cursor's read-out
                # The plot's scene indexes the moved items on later passes of the event loop:
                # a grab now would miss the label beside the cursor.
                QTimer.singleShot(300, take)
                return
            take()

        QTimer.singleShot(int(quit_after * 1000), finish)
    try:
        code = app.exec()
    finally:
        signal.set_wakeup_fd(previous_wakeup)
        wake.setEnabled(False)
        os.close(wake_r)
        os.close(wake_w)
        ctx.stop()
        station.stop()
        bus.close()
        if rig is not None:
            rig.stop()
    return int(code)
