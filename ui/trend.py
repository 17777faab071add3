"""Trend view: one or several signals over time, live or frozen, with history, cursor and export.

Data come from two places. Recent samples are pulled from ``ctx.store.window`` on each
``ctx.frame`` tick (only while the view is visible and live). Older data come from the hub:
when a signal is added, and whenever the window (or a pan) reaches further back than what is
held, :meth:`copilot.station.Station.request_history` is called and the reply
(:class:`copilot.station.HistoryArrived` on ``ctx.event``) is merged: history for the part older
than the first ring sample, ring samples from there on. NaN marks gaps (machine offline, Bad
values); curves use ``connect='finite'`` so a gap is drawn as a gap, never bridged.

Modes:

* **Stacked** (default): one plot per signal, X axes linked, time axis only under the last one.
  Each plot has the signal's normal range as a grey band and its limits as dashed lines
  (warning colour for hi/lo, fault colour for hihi/lolo).
* **Overlaid**: one plot; every signal is *normalised to its engineering range* (0–100 %,
  falling back to the data's range when the tag has none), so signals of different units share
  one Y axis without extra ViewBoxes. Signals are told apart by grey shade and dash pattern plus
  a legend; the cursor readout and the CSV always give engineering units.

Colour appears only for limits; data lines are neutral greys (ISA-101). Limit lines and the cursor
read-out carry the marks of :mod:`ui.theme` (▲ H, ▼▼ LL...), decided by the core classifier.

Dense: more than 12 overlaid signals are drawn by :class:`ui.dense.DenseLines`, a per-pixel-
column raster updated only where samples arrive (50 signals × 10 minutes stay within a 30 Hz
frame); each signal keeps its grey shade, there is no per-line legend (the cursor readout names
and values every signal).

Lines are 2 px wide up to :data:`WIDE_LINES_UP_TO` signals and 1 px beyond (and in dense
mode): a 2 px pen costs pyqtgraph 4–12× the paint time of a 1 px one. The Y axis of a stacked
plot is fitted to the data, the normal band and the limits (the "Full scale" toggle shows the
whole engineering range). With the cursor placed, each plot names its value beside the cursor
line; the readout above the plots repeats every signal with the time.

Export writes CSV and PNG to ``<data folder>/exports`` (:func:`exports_folder`) and says which
file it wrote.

Theme: the trend follows ``ctx.theme_changed`` (:attr:`QtTrend.follows_theme`).

Pause: the X range and the curves freeze, the store keeps buffering; on resume the curves are
re-pulled and show everything that arrived meanwhile. Any pan/zoom by mouse, wheel or pinch
pauses automatically (like PlotJuggler); the Pause button shows it.

Projections (advice, never an alarm): while live and stacked, once a second, each signal with
limits is asked of :class:`copilot.anomaly.advice.Projector`. A projection is drawn as a faint
continuation (:class:`_Continuation`: the fitted line dashed from its last sample to the limit,
over a light wedge from the band's early to its late crossing) with a small grey label at the
plot's right edge, "↗ HI in ~7 min (5–10)"; grey and thin, never the limit's colour. While any
plot shows one, the live window keeps :data:`AHEAD_FRACTION` of its width for the future (the
span stays the window's); when the projection is withdrawn the items and the margin go.
"""

from __future__ import annotations

import csv
import html
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPolygonF, QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGestureEvent,
    QHBoxLayout,
    QLabel,
    QPinchGesture,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from copilot.anomaly.advice import Advice, Projector, projectable
from copilot.limits import NORMAL, Verdict, classify_latest
from copilot.pixels import Grid
from copilot.protocol import HistoryReply, TagSpec
from copilot.series import F64
from copilot.settings import Settings
from copilot.station import HistoryArrived
from ui.context import StationContext
from ui.dense import DenseLines
from ui.theme import LIMIT_GLYPHS, SPACING, TOUCH, Theme, value_font

WINDOWS: list[tuple[str, float]] = [
    ("30 s", 30.0),
    ("2 min", 120.0),
    ("10 min", 600.0),
    ("1 h", 3600.0),
    ("8 h", 8 * 3600.0),
]
SHORT_WINDOWS = {30.0: "30s", 120.0: "2m", 600.0: "10m", 3600.0: "1h", 8 * 3600.0: "8h"}
COMPACT_BELOW = 720  # narrower (a machine view's side panel): range buttons and plots only
LABELS_FROM_PX = 240  # a compact trend this tall labels its limit lines (shorter: they pile up)
DEFAULT_WINDOW = 120.0
AXIS_PX = 16  # tick labels read at arm's length (14 px was too small at 1080p)
MIN_SPAN_S = 10.0  # deepest zoom on the time axis
NO_VALUE = "—"
DENSE_FROM = 13  # overlaid signals drawn as one raster from this many on
HISTORY_MARGIN_S = 60.0  # samples that left the ring are kept this long past the window
READOUT_LINES = 4  # cursor readout lines shown before it scrolls
DENSE_KEEP_S = 5.0  # dense: how often the rings are folded into the signals' series
DENSE_READOUT_S = 0.5  # dense: the cursor readout follows new data at most this often
# 2 px lines up to this many signals. Paint time of one 1600×900 frame (offscreen, median, on a
# loaded 2-core machine), 1 px → 2 px: 1 signal 0.4 → 1.4 ms, 4 signals 1.2 → 5–12 ms,
# 8 signals 2.8 → 11–34 ms, 12 signals 3 → 15–30 ms (p95 up to 60 ms): beyond 4 the 33 ms
# frame budget no longer holds with the rest of the window.
WIDE_LINES_UP_TO = 4
Y_FIT_MARGIN = 0.08  # fitted Y axis: this much of the span above and below
CURSOR_LABEL_LINES = 6  # overlaid: signals named beside the cursor (the readout has them all)
AHEAD_FRACTION = 0.2  # live with a projection shown: this much of the window is the future
SCROLL_EVERY_S = 2.0  # dense and live: the view moves about this often (whole columns)
SCROLL_MAX_PX = 8  # … by at most this many columns at once (short windows move more often)
PROJECT_PER_FRAME = 3  # projections worked out in one frame at most (~0.3 ms each)
# Overlaid signals: neutral shades x dash patterns (never hues; hue means "abnormal").
_SHADES = ("text", "bar", "text_dim")
_DASHES = (
    Qt.PenStyle.SolidLine,
    Qt.PenStyle.DashLine,
    Qt.PenStyle.DotLine,
    Qt.PenStyle.DashDotLine,
)


def _empty() -> F64:
    return np.empty(0, dtype=np.float64)


@dataclass
class _Signal:
    """One plotted signal: its data and (for the current layout) its graphics items."""

    machine: str
    tag: str
    spec: TagSpec | None = None
    hist_t: F64 = field(default_factory=_empty)
    hist_v: F64 = field(default_factory=_empty)
    hist_since: float = math.inf  # oldest time the held history covers
    t: F64 = field(default_factory=_empty)  # what is plotted (engineering units)
    v: F64 = field(default_factory=_empty)
    seen: tuple[int, float, int] = (-1, 0.0, -1)  # (ring length, last ring t, history version)
    counted: tuple[int, int] = (-2, -1)  # (samples ever stored, history version) last pulled
    hist_version: int = 0
    live_t0: float = math.inf  # oldest station sample in ``t``; older ones come from history
    dense_count: int = -1  # dense mode: samples stored when last fed to the raster
    dense_t: float = -math.inf  # dense mode: time of the last sample fed
    scale: tuple[float, float] | None = None  # (lo, span) for the overlaid normalisation
    curve: pg.PlotDataItem | None = None
    plot: pg.PlotItem | None = None
    advice: Advice | None = None  # the projection shown (stacked, live)
    projection: _Continuation | None = None  # its items on ``plot``

    @property
    def key(self) -> str:
        return f"{self.machine}/{self.tag}"

    @property
    def unit(self) -> str:
        return self.spec.unit if self.spec else ""


def exports_folder(settings: Settings) -> Path:
    """Where exported CSV and PNG files go: ``exports`` in the station's data folder."""
    return Path(settings.data_path) / "exports"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _pen(
    theme: Theme, name: str, style: Qt.PenStyle = Qt.PenStyle.SolidLine, width: int = 1
) -> QPen:
    pen = QPen(theme.color(name))
    pen.setWidth(width)
    pen.setCosmetic(True)
    pen.setStyle(style)
    return pen


def _blend(top: QColor, under: QColor, opacity: float) -> QColor:
    """The opaque colour of ``top`` drawn at ``opacity`` over ``under``."""
    return QColor(
        round(top.red() * opacity + under.red() * (1 - opacity)),
        round(top.green() * opacity + under.green() * (1 - opacity)),
        round(top.blue() * opacity + under.blue() * (1 - opacity)),
    )


def _format(value: float, spec: TagSpec | None) -> str:
    if not math.isfinite(value):
        return NO_VALUE
    unit = f" {spec.unit}" if spec and spec.unit else ""
    if spec is not None and spec.type in ("int", "bool", "enum"):
        return f"{round(value)}{unit}"
    span = spec.eng_range.hi - spec.eng_range.lo if spec and spec.eng_range else abs(value)
    decimals = 0 if span >= 1000 else 1 if span >= 10 else 2 if span >= 1 else 3
    return f"{value:.{decimals}f}{unit}"


class _TimeAxis(pg.DateAxisItem):
    """Local wall-clock ticks an operator reads at once: HH:MM, HH:MM:SS or HH:MM:SS.f."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        """Labels for the ticks (the stock axis drops the hour and minute when zoomed in)."""
        out = []
        for value in values:
            try:
                stamp = datetime.fromtimestamp(value)
            except (OverflowError, OSError, ValueError):
                out.append("")
                continue
            if spacing >= 60:
                out.append(stamp.strftime("%H:%M"))
            elif spacing >= 1:
                out.append(stamp.strftime("%H:%M:%S"))
            else:
                out.append(stamp.strftime("%H:%M:%S.%f")[:-5])
        return out


def scroll_step(dt: float) -> int:
    """Columns a live dense view moves at once, for columns ``dt`` seconds wide."""
    if not dt > 0:
        return 1
    return max(1, min(SCROLL_MAX_PX, round(SCROLL_EVERY_S / dt)))


class _Grid(pg.GraphicsObject):
    """Grid lines at the axes' major ticks, each a 1-px opaque rectangle at whole pixels.

    pyqtgraph draws its grid as lines in the axes' pictures; the raster engine turns a line across
    the plot into one span per pixel row and hands large span counts to Qt's GUI thread pool, so
    every grid line of every full repaint waits for worker threads — on two busy cores 22 lines
    took p99 3 ms, the same as 1-px ``fillRect`` calls 0.18 ms (a plain memory fill).
    """

    def __init__(self, colour: QColor) -> None:
        super().__init__()
        self._colour = QColor(colour)
        self._bounds = QRectF()
        # The ticks of the last view range: a live trend repaints a few new columns up to 30
        # times a second, and the date axis takes ~1 ms of Python to work its ticks out.
        self._ticks: tuple[tuple[float, ...], tuple[float, ...], list[float], list[float]] = (
            (),
            (),
            [],
            [],
        )

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        """The whole view (as pyqtgraph's own region items do)."""
        view = self.viewRect()
        rect = QRectF(view) if view is not None else QRectF()
        if rect != self._bounds:
            self._bounds = rect
            self.prepareGeometryChange()
        return rect

    def paint(self, painter: QPainter, *_: object) -> None:
        """Vertical lines at the bottom axis' major ticks, horizontal ones at the left axis'."""
        vb = self.getViewBox()
        plot = vb.parentItem() if isinstance(vb, pg.ViewBox) else None
        if not isinstance(plot, pg.PlotItem):
            return
        (x0, x1), (y0, y1) = vb.viewRange()
        width, height = float(vb.width()), float(vb.height())
        if width < 2 or height < 2 or x1 <= x0 or y1 <= y0:
            return
        bottom_axis, left_axis = plot.getAxis("bottom"), plot.getAxis("left")
        if not hasattr(bottom_axis, "fontMetrics"):  # the date axis measures its labels first
            self.update()  # again once it has
            return
        xs, ys = self._major_ticks(bottom_axis, left_axis, (x0, x1, width), (y0, y1, height))
        transform = painter.transform()
        top_left = transform.map(QPointF(x0, y1))
        bottom_right = transform.map(QPointF(x1, y0))
        left, top = round(top_left.x()), round(top_left.y())
        right, bottom = round(bottom_right.x()), round(bottom_right.y())
        painter.save()
        painter.resetTransform()
        for x in xs:
            px = round(transform.map(QPointF(float(x), y0)).x())
            if left <= px < right:
                painter.fillRect(QRect(px, top, 1, bottom - top), self._colour)
        for y in ys:
            py = round(transform.map(QPointF(x0, float(y))).y())
            if top <= py < bottom:
                painter.fillRect(QRect(left, py, right - left, 1), self._colour)
        painter.restore()

    def _major_ticks(
        self,
        bottom: pg.AxisItem,
        left: pg.AxisItem,
        x: tuple[float, float, float],
        y: tuple[float, float, float],
    ) -> tuple[list[float], list[float]]:
        """The major ticks (the first level with any in view, as the axes label them)."""
        kx, ky, xs, ys = self._ticks
        if kx != x:
            levels = bottom.tickValues(*x)
            xs = next((list(v) for _, v in levels if len(v)), [])
        if ky != y:
            levels = left.tickValues(*y)
            ys = next((list(v) for _, v in levels if len(v)), [])
        self._ticks = (x, y, xs, ys)
        return xs, ys


class _Continuation(pg.GraphicsObject):
    """A projection on a plot: the dashed line to the limit over its band, and a small label.

    One item (plus its label) per projection: the wedge and the line are painted from the
    points :class:`copilot.anomaly.continuation.Continuation` gives, in data coordinates, with
    cosmetic 1-px pens.
    """

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self._line_pen = _pen(theme, "text_dim", Qt.PenStyle.DashLine)
        fill = theme.color("text_dim")
        fill.setAlpha(40)
        self._fill = fill
        self._wedge = QPolygonF()
        self._line = (QPointF(), QPointF())
        self._bounds = QRectF()
        self.label = pg.TextItem("", color=theme.color("text_dim"), anchor=(1, 1))
        self.label.setFont(value_font(16, bold=False))
        self.label.setZValue(12)
        self.setZValue(8)  # under the data line (z 10), over the bands and the grid

    def show_advice(self, advice: Advice, right: float) -> None:
        """Draw ``advice``; the label at the plot's right edge ``right``, by the limit line."""
        c = advice.continuation()
        (t0, t1), (v0, v1) = c.line()
        self.prepareGeometryChange()
        self._wedge = QPolygonF([QPointF(t, v) for t, v in c.wedge()])
        self._line = (QPointF(t0, v0), QPointF(t1, v1))
        self._bounds = self._wedge.boundingRect().united(QRectF(self._line[0], self._line[1]))
        self.update()
        rising = advice.projection.slope_per_s > 0
        self.label.setAnchor((1, 1) if rising else (1, 0))  # above a high limit, below a low one
        self.label.setText(f"{advice.arrow} {advice.words()}")
        self.label.setPos(right, c.limit)

    def text(self) -> str:
        """The label's words."""
        return str(self.label.toPlainText())

    def line(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The dashed line drawn: ``(t, v)`` at the last sample and at the limit."""
        a, b = self._line
        return (a.x(), a.y()), (b.x(), b.y())

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        """The wedge and the line (data coordinates)."""
        return QRectF(self._bounds)

    def paint(self, painter: QPainter, *_: object) -> None:
        """The band's light fill, then the dashed line."""
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._fill)
        painter.drawPolygon(self._wedge)
        painter.setPen(self._line_pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawLine(*self._line)


class QtTrend(QWidget):
    """A trend of one or several signals (see the module docstring)."""

    follows_theme = True  # connects ctx.theme_changed itself (the window need not rebuild it)

    def __init__(self, ctx: StationContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.theme = ctx.theme
        self._signals: list[_Signal] = []
        self._window = DEFAULT_WINDOW
        self._paused = False
        self._stacked = True
        self._cursor: float | None = None
        self._cursor_lines: list[pg.InfiniteLine] = []
        self._plots: list[pg.PlotItem] = []
        self._pending: dict[int, tuple[str, list[str], float]] = {}  # id -> (machine, tags, since)
        self.history_handled: list[int] = []  # request ids whose reply was merged (for tests)
        self._last_frame = 0.0
        self._last_scroll = 0.0  # live curves: the right edge last set
        self._setting_range = False
        self._syncing_cursor = False
        self._needs_rebuild = False
        self._dense: DenseLines | None = None
        self._dense_stale = True
        self._dense_samples = -1  # store.samples when the raster was last fed
        self._dense_right = 0.0  # live: the right edge last set
        self._dense_queued = False
        self._last_readout = 0.0
        self._last_materialise = 0.0
        self._full_scale = False
        self._compact = False
        self._tall = False  # tall enough for limit labels even when compact
        self._projector = Projector()
        self._ahead = 0.0  # seconds of future the live window shows (a projection is drawn)
        self.last_export: Path | None = None
        self._build()
        # Not the toolbar's full width: narrower than COMPACT_BELOW the trend turns compact.
        self.setMinimumSize(240, 160)
        ctx.frame.connect(self._on_frame)
        ctx.event.connect(self._on_event)
        ctx.theme_changed.connect(self.set_theme)

    # -- construction -------------------------------------------------------------------------

    def _button(self, text: str, checkable: bool = False) -> QPushButton:
        button = QPushButton(text, self)
        button.setCheckable(checkable)
        button.setMinimumSize(TOUCH, TOUCH)
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        return button

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(SPACING // 2, SPACING // 2, SPACING // 2, SPACING // 2)
        layout.setSpacing(SPACING // 2)

        bar = QHBoxLayout()
        bar.setSpacing(SPACING // 2)
        self.window_group = QButtonGroup(self)
        self.window_group.setExclusive(True)
        self.window_buttons: dict[float, QPushButton] = {}
        for text, seconds in WINDOWS:
            button = self._button(text, checkable=True)
            button.setChecked(seconds == self._window)
            button.clicked.connect(lambda _=False, s=seconds: self._on_window_button(s))
            self.window_group.addButton(button)
            self.window_buttons[seconds] = button
            bar.addWidget(button)
        bar.addSpacing(SPACING)
        self.pause_button = self._button("Pause", checkable=True)
        self.pause_button.setStyleSheet("min-width: 96px;")  # the style sheet wins over setMin…
        self.pause_button.clicked.connect(lambda checked: self.set_paused(bool(checked)))
        bar.addWidget(self.pause_button)
        self.mode_button = self._button("Overlay", checkable=True)
        self.mode_button.setStyleSheet("min-width: 96px;")
        self.mode_button.clicked.connect(lambda checked: self.set_stacked(not checked))
        bar.addWidget(self.mode_button)
        self.scale_button = self._button("Full scale", checkable=True)
        self.scale_button.setToolTip(
            "Y axis: the instrument's whole range (off: fitted to the data and its limits)"
        )
        self.scale_button.clicked.connect(lambda checked: self.set_full_scale(bool(checked)))
        bar.addWidget(self.scale_button)
        bar.addStretch(1)
        self.notice = QLabel(self)
        self.notice.setObjectName("notice")
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.notice.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar.addWidget(self.notice, 3)
        self.csv_button = self._button("Export CSV")
        self.csv_button.clicked.connect(lambda: self.export("csv"))
        bar.addWidget(self.csv_button)
        self.png_button = self._button("Export PNG")
        self.png_button.clicked.connect(lambda: self.export("png"))
        bar.addWidget(self.png_button)
        layout.addLayout(bar)

        # Readout + plots form the exported picture.
        self.canvas = QWidget(self)
        inner = QVBoxLayout(self.canvas)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.setSpacing(4)
        self.readout = QLabel(self.canvas)
        self.readout.setFont(value_font(18, bold=False))
        self.readout.setWordWrap(True)
        self.readout.setTextFormat(Qt.TextFormat.PlainText)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # Many signals at the cursor wrap onto several lines; past READOUT_LINES it scrolls.
        self.readout_area = QScrollArea(self.canvas)
        self.readout_area.setWidgetResizable(True)
        self.readout_area.setFrameShape(QFrame.Shape.NoFrame)
        self.readout_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.readout_area.setWidget(self.readout)
        self.readout_area.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        inner.addWidget(self.readout_area)
        self.graphics = pg.GraphicsLayoutWidget(self.canvas)
        self.graphics.setBackground(self.theme.panel)
        self.graphics.ci.setSpacing(2)
        viewport = self.graphics.viewport()
        viewport.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, True)
        viewport.grabGesture(Qt.GestureType.PinchGesture)
        viewport.installEventFilter(self)
        self.graphics.scene().sigMouseClicked.connect(self._on_click)
        inner.addWidget(self.graphics, 1)
        layout.addWidget(self.canvas, 1)
        self._update_readout()

    # -- public API ---------------------------------------------------------------------------

    def show_signals(self, machine: str, tags: list[str]) -> None:
        """Show these tags of one machine (replacing what was shown)."""
        self._signals = [_Signal(machine, tag, self._spec(machine, tag)) for tag in tags]
        self._rebuild()
        self._request_history(self._signals, time.time() - self._window)

    def add_signal(self, machine: str, tag: str) -> None:
        """Add one signal (any machine) to what is shown."""
        if any(s.machine == machine and s.tag == tag for s in self._signals):
            return
        sig = _Signal(machine, tag, self._spec(machine, tag))
        self._signals.append(sig)
        self._rebuild()
        self._request_history([sig], self._view_range()[0])

    def signals(self) -> list[str]:
        """Keys ``machine/tag`` of the shown signals, in order."""
        return [s.key for s in self._signals]

    def set_window(self, seconds: float) -> None:
        """Show the last ``seconds`` (while paused: that much up to the current right edge)."""
        self._window = float(seconds)
        self._check_window_button()
        right = time.time() if not self._paused else self._view_range()[1]
        self._set_x(right - self._window, right)
        self._request_history(self._signals, right - self._window)
        if not self._paused:
            self._refresh(time.time(), force=True)

    def _on_window_button(self, seconds: float) -> None:
        if self._compact and self._paused:
            self.set_paused(False)  # compact has no Pause button: a range button goes live
        self.set_window(seconds)

    def _check_window_button(self) -> None:
        """Exactly the button of the shown window looks selected (none for another span)."""
        button = self.window_buttons.get(self._window)
        if button is not None:
            button.setChecked(True)
        else:
            self._uncheck_windows()

    def _uncheck_windows(self) -> None:
        self.window_group.setExclusive(False)
        for other in self.window_buttons.values():
            other.setChecked(False)
        self.window_group.setExclusive(True)

    def selected_windows(self) -> list[str]:
        """Range buttons checked (one, or none after a zoom), by their full text."""
        return [text for text, s in WINDOWS if self.window_buttons[s].isChecked()]

    def set_full_scale(self, full: bool) -> None:
        """Stacked plots: Y over the whole engineering range, or fitted to data and limits."""
        self._full_scale = bool(full)
        self.scale_button.setChecked(self._full_scale)
        for sig in self._signals:
            self._apply_y(sig, force=True)

    def is_full_scale(self) -> bool:
        """Whether the Y axes show the whole engineering range."""
        return self._full_scale

    def y_range(self, key: str) -> tuple[float, float]:
        """The visible Y range of a stacked signal's plot."""
        for sig in self._signals:
            if sig.key == key and sig.plot is not None:
                _, (y0, y1) = sig.plot.getViewBox().viewRange()
                return float(y0), float(y1)
        raise KeyError(key)

    def window_seconds(self) -> float:
        """The selected time window."""
        return self._window

    def set_paused(self, paused: bool) -> None:
        """Freeze (X range and curves) or go back to live."""
        self._paused = bool(paused)
        self.pause_button.setChecked(self._paused)
        self.pause_button.setText("▶ Live" if self._paused else "Pause")
        self.pause_button.setToolTip(
            "Paused: tap to go back to live" if self._paused else "Freeze the trend"
        )
        if not self._paused:
            self._check_window_button()  # back to the live window's span
            self._refresh(time.time(), force=True)
        self._update_readout()

    def is_paused(self) -> bool:
        """Whether the trend is frozen."""
        return self._paused

    def set_stacked(self, stacked: bool) -> None:
        """One plot per signal (``True``) or all signals in one normalised plot."""
        self._stacked = bool(stacked)
        self.mode_button.setChecked(not self._stacked)
        self.mode_button.setText("Stack" if not self._stacked else "Overlay")
        x0, x1 = self._view_range()
        self._rebuild()
        self._set_x(x0, x1)

    def is_stacked(self) -> bool:
        """Whether each signal has its own plot."""
        return self._stacked

    def set_cursor(self, t: float | None) -> None:
        """Place the time cursor at ``t`` (Unix seconds), or remove it."""
        self._cursor = None if t is None else float(t)
        self._syncing_cursor = True
        try:
            for line in self._cursor_lines:
                line.setVisible(self._cursor is not None)
                if self._cursor is not None:
                    line.setValue(self._cursor)
        finally:
            self._syncing_cursor = False
        self._update_readout()

    def cursor(self) -> float | None:
        """Where the cursor is (``None`` when hidden)."""
        return self._cursor

    def cursor_values(self) -> dict[str, str]:
        """``machine/tag`` → value with unit at the cursor, ``"—"`` in a gap or without data.

        The value is that of the sample nearest the cursor; if the cursor sits between a
        sample and a gap marker (NaN), or before the first sample, it is a gap.
        """
        if self._cursor is None:
            return {}
        self._materialise()
        return {s.key: self._value_at(s, self._cursor) for s in self._signals}

    def point_counts(self) -> dict[str, int]:
        """Finite points currently plotted per signal."""
        self._materialise()
        return {s.key: int(np.count_nonzero(np.isfinite(s.v))) for s in self._signals}

    def plotted(self, key: str) -> tuple[F64, F64]:
        """Copies of the (time, value) arrays plotted for ``machine/tag`` (engineering units)."""
        self._materialise()
        for s in self._signals:
            if s.key == key:
                return s.t.copy(), s.v.copy()
        raise KeyError(key)

    def curves(self) -> dict[str, pg.PlotDataItem]:
        """The curve item of each signal (for tests and inspection)."""
        return {s.key: s.curve for s in self._signals if s.curve is not None}

    def x_range(self) -> tuple[float, float]:
        """The visible time range (Unix seconds)."""
        return self._view_range()

    def set_x_range(self, t0: float, t1: float) -> None:
        """Show ``t0..t1`` and pause, as a pan/zoom by the user would."""
        self._set_x(t0, t1)
        self._user_moved()

    def pinch_zoom(self, factor: float, center: float | None = None) -> None:
        """Scale the time axis by ``factor`` (> 1 zooms in) around ``center``; pauses."""
        if factor <= 0:
            return
        x0, x1 = self._view_range()
        c = (x0 + x1) / 2 if center is None else center
        self._set_x(c - (c - x0) / factor, c + (x1 - c) / factor)
        self._user_moved()

    def export(self, kind: str) -> Path | None:
        """Export the visible trend (``"csv"`` or ``"png"``) to the exports folder; say where.

        The file is named after the signal(s) and the local time, e.g.
        ``trend-press-01-barrel_temp_c-20261201-103000.csv``; the notice beside the buttons
        names it (and says so if it could not be written).
        """
        folder = exports_folder(self.ctx.settings)
        machines = sorted({s.machine for s in self._signals})
        if len(self._signals) == 1:
            what = f"{self._signals[0].machine}-{self._signals[0].tag}"
        else:
            what = f"{'+'.join(machines) or 'empty'}-{len(self._signals)}-signals"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = folder / f"trend-{_safe(what)}-{stamp}.{kind}"
        n = 1
        while path.exists():
            n += 1
            path = folder / f"trend-{_safe(what)}-{stamp}-{n}.{kind}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if kind == "csv":
                rows = self.export_csv(path)
                detail = f"{rows:,} rows"
            elif self.export_png(path):
                detail = "picture"
            else:
                raise OSError("the picture could not be encoded")
        except OSError as exc:
            self.notice.setText(f"✕ Not exported: {exc}")
            self.notice.setToolTip(str(folder))
            return None
        self.last_export = path
        self.notice.setText(f"✓ Saved {path.name} ({detail}) in {folder}")
        self.notice.setToolTip(str(path))
        return path

    def export_csv(self, path: str | Path) -> int:
        """Write the visible data as CSV; return the number of rows written.

        Long format, one row per sample and signal, header
        ``time_iso,unix_s,machine,tag,value,unit,quality``: ``time_iso`` is UTC ISO 8601 with
        milliseconds, ``unix_s`` the exact source time in seconds, ``value`` in engineering
        units. ``quality`` is ``good`` for a value and ``bad`` (empty value) for a gap, a Bad
        sample or an offline machine: the station's rings keep no per-sample quality, so an
        Uncertain sample reads ``good`` here. A signal's rows start at its first value within
        the current X range (no empty leading rows) and a run of gap markers is one row.
        """
        x0, x1 = self._view_range()
        self._materialise()
        rows = 0
        with Path(path).open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["time_iso", "unix_s", "machine", "tag", "value", "unit", "quality"])
            for s in self._signals:
                keep = (s.t >= x0) & (s.t <= x1)
                t, v = s.t[keep], s.v[keep]
                finite = np.isfinite(v)
                if not finite.any():
                    continue
                first = int(np.argmax(finite))
                t, v, finite = t[first:], v[first:], finite[first:]
                # one row per run of gap markers: the first of the run
                gap_start = ~finite & np.concatenate(([True], finite[:-1]))
                rows_kept = finite | gap_start
                for ts, value, good in zip(
                    t[rows_kept].tolist(),
                    v[rows_kept].tolist(),
                    finite[rows_kept].tolist(),
                    strict=True,
                ):
                    iso = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
                    out.writerow(
                        [
                            iso,
                            repr(ts),
                            s.machine,
                            s.tag,
                            repr(value) if good else "",
                            s.unit,
                            "good" if good else "bad",
                        ]
                    )
                    rows += 1
        return rows

    def is_dense(self) -> bool:
        """Whether the signals are drawn as one raster (more than 12 overlaid)."""
        return self._dense is not None

    def export_png(self, path: str | Path) -> bool:
        """Save the readout and the plots as a PNG."""
        return bool(self.canvas.grab().save(str(path), "PNG"))

    # -- layout -------------------------------------------------------------------------------

    def _spec(self, machine: str, tag: str) -> TagSpec | None:
        reading = self.ctx.store.reading(machine, tag)
        return reading.spec if reading is not None else None

    def _new_plot(self, row: int, bottom_axis: bool) -> pg.PlotItem:
        theme = self.theme
        axis = _TimeAxis(orientation="bottom")
        plot = self.graphics.addPlot(row=row, col=0, axisItems={"bottom": axis})
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        plot.showGrid(x=False, y=False)  # drawn by _Grid (see there)
        font = QFont("DejaVu Sans")
        font.setPixelSize(AXIS_PX)
        for name in ("left", "bottom"):
            ax = plot.getAxis(name)
            # Major ticks and grid lines only: the minor grid is most of a frame's paint time
            # (semi-transparent lines across the whole plot) and adds little to reading it.
            ax.setStyle(tickFont=font, tickTextOffset=6, maxTickLevel=0)
            ax.setTextPen(theme.color("text"))
            ax.setPen(theme.color("text_dim"))
        plot.showAxis("bottom", bottom_axis)
        vb = plot.getViewBox()
        # Grid lines opaque, in the colour a 15 % grey would have given: translucent lines
        # across the plot cost ~3 ms of every repaint on a CPU-rendered screen. Over the bands
        # (z -10), under the lines (z 10).
        grid = _Grid(_blend(theme.color("text_dim"), theme.color("panel"), 0.15))
        grid.setZValue(-5)
        plot.addItem(grid, ignoreBounds=True)
        vb.disableAutoRange()
        vb.setLimits(minXRange=MIN_SPAN_S)  # below that the time labels no longer fit
        vb.setMouseEnabled(x=True, y=True)
        vb.sigRangeChangedManually.connect(self._user_moved)
        vb.sigRangeChanged.connect(self._view_changed)
        vb.sigResized.connect(self._view_changed)
        if self._plots:
            plot.setXLink(self._plots[0])
        cursor = pg.InfiniteLine(
            pos=self._cursor or 0.0,
            angle=90,
            movable=True,
            pen=pg.mkPen(theme.focus, width=2),
            hoverPen=pg.mkPen(theme.focus, width=4),
            label="",
            labelOpts={
                "position": 0.8,  # moved to the value's height (see _update_cursor_labels)
                "color": theme.color("text"),
                "fill": pg.mkBrush(theme.color("panel")),
                "border": pg.mkPen(theme.color("focus")),
                "anchors": [(0, 0), (1, 0)],  # right of the line; left of it near the right edge
            },
        )
        if cursor.label is not None:
            cursor.label.setFont(value_font(16, bold=True))
        cursor.setZValue(20)
        cursor.setVisible(self._cursor is not None)
        cursor.sigPositionChanged.connect(self._on_cursor_dragged)
        plot.addItem(cursor, ignoreBounds=True)
        self._cursor_lines.append(cursor)
        self._plots.append(plot)
        return plot

    def _bands(self, plot: pg.PlotItem, sig: _Signal, normalise: bool) -> None:
        spec = sig.spec
        if spec is None:
            return
        theme = self.theme

        def y(value: float) -> float:
            return self._norm(sig, value) if normalise else value

        if spec.normal is not None:
            # Opaque, pre-blended over the plot's background: a translucent full-width rectangle
            # was the largest single cost of a repaint (Qt's raster engine blends it, on worker
            # threads the GUI thread then waits for); an opaque one is a plain fill. The grid
            # lines (_Grid) are drawn over it.
            color = _blend(theme.color("normal_band"), theme.color("panel"), 170 / 255)
            band = pg.LinearRegionItem(
                values=(y(spec.normal.lo), y(spec.normal.hi)),
                orientation="horizontal",
                movable=False,
                brush=pg.mkBrush(color),
                pen=pg.mkPen(None),
            )
            band.setZValue(-10)
            band.setAcceptHoverEvents(False)
            for line in band.lines:
                line.setPen(pg.mkPen(None))
            plot.addItem(band, ignoreBounds=True)
        limits = spec.limits
        if limits is not None:
            font = QFont("DejaVu Sans")
            font.setPixelSize(AXIS_PX)
            font.setBold(True)
            for value, colour, name in (
                (limits.lo, "warning", "lo"),
                (limits.hi, "warning", "hi"),
                (limits.lolo, "fault", "lolo"),
                (limits.hihi, "fault", "hihi"),
            ):
                if value is None:
                    continue
                # Shape (dash pattern) and text carry the meaning too, not only the colour.
                style = Qt.PenStyle.DashLine if colour == "warning" else Qt.PenStyle.DashDotLine
                pen = _pen(theme, colour, style)
                pen.setWidth(2)
                text = f"{LIMIT_GLYPHS[name]} {value:g}" + (
                    f" {spec.unit}" if spec.unit and not normalise else ""
                )
                line = pg.InfiniteLine(
                    pos=y(value),
                    angle=0,
                    movable=False,
                    pen=pen,
                    # a short compact plot is a few lines of text high: labels would pile up
                    # there; the dash pattern still tells H/L from HH/LL without colour
                    label=text if self._labelled() else None,
                    labelOpts={
                        # At the left, where the oldest data are: the newest (right) stay clear.
                        "position": 0.005,
                        "color": theme.color(colour),
                        # HH and L above their line, H and LL below: close pairs never overlap.
                        "anchors": [(0, 1), (0, 1)] if name in ("hihi", "lo") else [(0, 0), (0, 0)],
                    },
                )
                if self._labelled():
                    line.label.setFont(font)
                line.setZValue(-5)
                plot.addItem(line, ignoreBounds=True)

    def _rebuild(self) -> None:
        x0, x1 = self._view_range() if self._plots else (time.time() - self._window, time.time())
        self.graphics.clear()
        self._plots = []
        self._dense = None
        self._dense_stale = True
        self._cursor_lines = []
        if not self._stacked:  # projections are drawn on stacked plots only
            self._ahead = 0.0
            for sig in self._signals:
                sig.advice = None
        theme = self.theme
        label_style = {"color": theme.text, "font-size": f"{AXIS_PX}px"}
        if self._stacked:
            for i, sig in enumerate(self._signals):
                plot = self._new_plot(i, bottom_axis=i == len(self._signals) - 1)
                title = self._title(sig, short=self._compact)
                plot.setTitle(title, color=theme.text, size="16px", justify="left")
                plot.setLabel("left", sig.unit or "value", **label_style)
                plot.getAxis("left").setWidth(56 if self._compact else 80)
                self._bands(plot, sig, normalise=False)
                sig.plot = plot
                sig.curve = self._curve(plot, sig, _pen(theme, "text", width=self._line_px()))
        elif len(self._signals) >= DENSE_FROM:
            plot = self._new_plot(0, bottom_axis=True)
            plot.setLabel("left", "% of range", **label_style)
            plot.getAxis("left").setWidth(56 if self._compact else 80)
            plot.setTitle(
                f"{len(self._signals)} signals overlaid, each in % of its range · "
                "tap the plot to read every value",
                color=theme.text,
                size=f"{AXIS_PX + 1}px",
                justify="left",
            )
            self._bands(plot, self._signals[0], normalise=True)
            colours = [theme.color(_SHADES[i % len(_SHADES)]) for i in range(len(self._signals))]
            self._dense = DenseLines(colours)
            self._dense.setZValue(10)
            plot.addItem(self._dense, ignoreBounds=True)
            for sig in self._signals:
                sig.plot = plot
                sig.curve = None
            plot.getViewBox().setYRange(-2, 102, padding=0)
        elif self._signals:
            plot = self._new_plot(0, bottom_axis=True)
            plot.setLabel("left", "% of range", **label_style)
            plot.getAxis("left").setWidth(56 if self._compact else 80)
            legend = plot.addLegend(
                offset=(8, 8),
                labelTextColor=theme.color("text"),
                labelTextSize=f"{AXIS_PX + 1}px",
                brush=pg.mkBrush(theme.color("panel")),
                pen=pg.mkPen(theme.color("border")),
            )
            legend.setZValue(30)
            # Bands and limits of the first signal only: several sets would be unreadable.
            self._bands(plot, self._signals[0], normalise=True)
            for i, sig in enumerate(self._signals):
                shade = _SHADES[i % len(_SHADES)]
                dash = _DASHES[(i // len(_SHADES) + i) % len(_DASHES)] if i else _DASHES[0]
                if len(self._signals) > len(_SHADES) * len(_DASHES):
                    dash = _DASHES[0]  # too many to tell apart anyway; dashes cost paint time
                sig.plot = plot
                sig.curve = self._curve(plot, sig, _pen(theme, shade, dash, self._line_px()))
                name = f"{sig.key} ({sig.unit})" if sig.unit else sig.key
                legend.addItem(sig.curve, name + ("  · limits shown" if i == 0 else ""))
            plot.getViewBox().setYRange(-2, 102, padding=0)
        for sig in self._signals:
            sig.seen = (-1, 0.0, -1)
            sig.counted = (-2, -1)
            sig.projection = None  # the items went with the plots
            if sig.t.size:
                self._set_curve(sig)
        self._set_x(x0, x1)
        for sig in self._signals:
            self._show_projection(sig, sig.advice if self._stacked else None)
        for sig in self._signals:
            self._apply_y(sig, force=True)
        self._update_readout()
        self.graphics.ci.layout.activate()

    @staticmethod
    def _title(sig: _Signal, short: bool = False) -> str:
        """The tag's human name from its BIRTH metadata, with the id as secondary text."""
        name = sig.spec.description if sig.spec is not None else ""
        if short:
            return html.escape(name or sig.tag)
        return f"<b>{html.escape(name)}</b>  ·  {html.escape(sig.key)}" if name else sig.key

    def _line_px(self) -> int:
        """2 px lines while the frame budget allows it (see :data:`WIDE_LINES_UP_TO`)."""
        return 2 if len(self._signals) <= WIDE_LINES_UP_TO else 1

    def line_widths(self) -> dict[str, int]:
        """Pen width of each signal's curve in pixels (dense mode: 1)."""
        return {
            s.key: (int(s.curve.opts["pen"].width()) if s.curve is not None else 1)
            for s in self._signals
        }

    def _curve(self, plot: pg.PlotItem, sig: _Signal, pen: QPen) -> pg.PlotDataItem:
        curve = pg.PlotDataItem(
            pen=pen,
            antialias=False,
            connect="finite",
        )
        curve.setClipToView(True)
        # 'peak' keeps min and max of each bucket: ~2 points per pixel column are exact for a
        # 1 px line, where pyqtgraph's default (5 per pixel) paints 2.5× more for nothing.
        curve.opts["autoDownsampleFactor"] = 1.0
        curve.setDownsampling(auto=True, method="peak")
        curve.setZValue(10)
        plot.addItem(curve)
        return curve

    def _y_wanted(self, sig: _Signal) -> tuple[float, float] | None:
        """The Y range a stacked plot should show: fitted, or the whole engineering range."""
        spec = sig.spec
        if self._full_scale and spec is not None and spec.eng_range is not None:
            return spec.eng_range.lo, spec.eng_range.hi
        x0, x1 = self._view_range()
        i0, i1 = np.searchsorted(sig.t, (x0, x1))
        shown = sig.v[max(int(i0) - 1, 0) : int(i1) + 1]
        shown = shown[np.isfinite(shown)]
        lo = float(shown.min()) if shown.size else math.inf
        hi = float(shown.max()) if shown.size else -math.inf
        if spec is not None:
            marks = [spec.normal.lo, spec.normal.hi] if spec.normal is not None else []
            if spec.limits is not None:
                limits = spec.limits
                marks += [
                    x for x in (limits.lolo, limits.lo, limits.hi, limits.hihi) if x is not None
                ]
            if marks:
                lo, hi = min(lo, *marks), max(hi, *marks)
            if not math.isfinite(lo) and spec.eng_range is not None:
                lo, hi = spec.eng_range.lo, spec.eng_range.hi
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        span = hi - lo or max(abs(hi) * 0.1, 1.0)
        # Room for a limit's label above the top line and below the bottom one (~26 px).
        height = float(sig.plot.getViewBox().height()) if sig.plot is not None else 0.0
        margin = max(Y_FIT_MARGIN, 26.0 / (height - 52.0)) if height > 90 else 0.35
        lo, hi = lo - span * margin, hi + span * margin
        if spec is not None and spec.eng_range is not None:  # never beyond the instrument
            lo, hi = max(lo, spec.eng_range.lo), min(hi, spec.eng_range.hi)
        return (lo, hi) if hi > lo else None

    def _apply_y(self, sig: _Signal, force: bool = False) -> None:
        """Stacked: fit Y to data and limits (or full scale); move only when data leave it."""
        if sig.plot is None or not self._stacked:
            return
        wanted = self._y_wanted(sig)
        if wanted is None:
            return
        vb = sig.plot.getViewBox()
        (_, _), (y0, y1) = vb.viewRange()
        lo, hi = wanted
        span = hi - lo
        # Keep the axis still while the data stay inside it and it is not far too loose:
        # a scale that breathes with every sample is harder to read than one a little wide.
        inside = y0 <= lo + span * Y_FIT_MARGIN * 0.5 and hi - span * Y_FIT_MARGIN * 0.5 <= y1
        loose = (y1 - y0) > span * 1.6
        if force or not inside or loose:
            vb.setYRange(lo, hi, padding=0)

    def _norm(self, sig: _Signal, value: float | F64) -> float | F64:
        lo, span = self._scale(sig)
        return (value - lo) / span * 100.0

    def _scale(self, sig: _Signal) -> tuple[float, float]:
        if sig.spec is not None and sig.spec.eng_range is not None:
            lo, hi = sig.spec.eng_range.lo, sig.spec.eng_range.hi
            return lo, (hi - lo) or 1.0
        return sig.scale or (0.0, 1.0)

    # -- data ---------------------------------------------------------------------------------

    def _request_history(self, signals: list[_Signal], since: float) -> None:
        """Ask the hub for what is older than the station's ring holds, per machine."""
        by_machine: dict[str, list[str]] = {}
        for sig in signals:
            if since >= sig.hist_since - 1.0:
                continue  # already covered
            ring_t, _ = self.ctx.store.window(sig.machine, sig.tag)
            if ring_t.size and since >= ring_t[0] and sig.hist_since != math.inf:
                continue  # the ring holds it all (the first request is always made)
            if any(
                m == sig.machine and sig.tag in tags and s <= since + 1.0
                for m, tags, s in self._pending.values()
            ):
                continue
            by_machine.setdefault(sig.machine, []).append(sig.tag)
        for machine, tags in by_machine.items():
            request_id = self.ctx.station.request_history(machine, tags, since)
            self._pending[request_id] = (machine, tags, since)

    def _on_event(self, event: object) -> None:
        if not isinstance(event, HistoryArrived) or event.request_id not in self._pending:
            return
        machine, _tags, since = self._pending.pop(event.request_id)
        reply = event.reply
        if not isinstance(reply, HistoryReply):
            return
        for series in reply.series:
            for sig in self._signals:
                if sig.machine != machine or sig.tag != series.tag or since > sig.hist_since:
                    continue
                sig.hist_t = np.asarray(series.t, dtype=np.float64) * 1e-9
                sig.hist_v = np.asarray(series.v, dtype=np.float64)
                sig.hist_since = since
                sig.hist_version += 1
        self.history_handled.append(event.request_id)
        if self._dense is not None:  # one redraw for the replies of every machine
            self._dense_stale = True
            self._schedule_dense()
        elif not self._paused:
            self._refresh(time.time(), force=True)
        else:  # panned back while paused: show the older data where the view is
            self._redraw_history()

    def _pull(self, sig: _Signal) -> bool:
        """Merge history and ring for one signal; ``False`` if nothing changed."""
        count = self.ctx.store.sample_count(sig.machine, sig.tag)
        if count >= 0 and (count, sig.hist_version) == sig.counted:
            return False  # nothing new: skip copying the window
        sig.counted = (count, sig.hist_version)
        ring_t, ring_v = self.ctx.store.window(sig.machine, sig.tag)
        seen = (int(ring_t.size), float(ring_t[-1]) if ring_t.size else 0.0, sig.hist_version)
        if seen == sig.seen:
            return False
        sig.seen = seen
        if sig.spec is None:
            sig.spec = self._spec(sig.machine, sig.tag)
            self._needs_rebuild = sig.spec is not None
        cut = float(ring_t[0]) if ring_t.size else math.inf
        if ring_t.size and sig.live_t0 == math.inf:
            sig.live_t0 = cut
        # Samples seen in the ring that have left it since: kept (the history from the hub
        # only covers what is older than the first station sample), but not past the window.
        fallen = (sig.t >= sig.live_t0) & (sig.t < cut)
        keep_t, keep_v = sig.t[fallen], sig.v[fallen]
        horizon = time.time() - self._window - HISTORY_MARGIN_S
        if not self._paused and keep_t.size and keep_t[0] < horizon:
            stay = keep_t >= horizon
            keep_t, keep_v = keep_t[stay], keep_v[stay]
            sig.live_t0 = float(keep_t[0]) if keep_t.size else cut
            sig.hist_since = math.inf  # looking back there again needs the hub's history
        older = sig.hist_t < sig.live_t0
        sig.t = np.concatenate((sig.hist_t[older], keep_t, ring_t))
        sig.v = np.concatenate((sig.hist_v[older], keep_v, ring_v))
        if self._scale_from(sig, sig.v):
            self._apply_y(sig)
        return True

    @staticmethod
    def _scale_from(sig: _Signal, v: F64) -> bool:
        """Without an engineering range, take the first data's range; ``True`` if set now."""
        if sig.scale is not None or (sig.spec is not None and sig.spec.eng_range is not None):
            return False
        finite = v[np.isfinite(v)]
        if not finite.size:
            return False
        lo, hi = float(finite.min()), float(finite.max())
        sig.scale = (lo, (hi - lo) or 1.0)
        return True

    def _redraw_history(self) -> None:
        """Paused: merge newly arrived history into what is shown, without adding live data."""
        if self._dense is not None:
            self._dense_stale = True
            self._schedule_dense()
            return
        for sig in self._signals:
            if sig.hist_version == sig.seen[2]:
                continue
            ring = sig.t >= sig.live_t0
            older = sig.hist_t < sig.live_t0
            sig.t = np.concatenate((sig.hist_t[older], sig.t[ring]))
            sig.v = np.concatenate((sig.hist_v[older], sig.v[ring]))
            sig.seen = (sig.seen[0], sig.seen[1], sig.hist_version)
            self._set_curve(sig)
            self._apply_y(sig)
        self._update_readout()

    def _materialise(self) -> None:
        """Dense mode feeds the raster only new samples: bring ``t``/``v`` up to date."""
        if self._dense is not None:
            for sig in self._signals:
                self._pull(sig)

    # -- dense raster ---------------------------------------------------------------------------

    def _sync_dense(self, now: float, live: bool) -> bool:
        """Feed new samples to the raster (everything again if the grid changed)."""
        layer = self._dense
        if layer is None or not self._plots:
            return False
        vb = self._plots[0].getViewBox()
        width, height = float(vb.width()), float(vb.height())
        if width < 2 or height < 2:
            return False
        # One column and row per logical pixel: on a high-DPI screen the image is scaled up, so
        # a line is as wide as the other 1-px lines (one device pixel would be hard to see).
        columns = max(1, round(width))
        (x0, x1), (y0, y1) = vb.viewRange()
        span = self._window if live else x1 - x0
        if not (span > 0 and y1 > y0):
            return False
        grid = Grid(span / columns, y1, y0, max(1, round(height)), columns + 4)
        if live:
            # The right edge on a column boundary a few columns after now, so no data is ever
            # off-screen, moved a step of columns at a time: each move repaints the whole plot
            # and its time axis (~10 ms), so it happens about every SCROLL_EVERY_S, not every
            # pixel; between moves only the new samples' columns are drawn.
            step = scroll_step(grid.dt)
            edge = (grid.column(now) + 1) * grid.dt
            right = self._dense_right
            if (
                edge > right + grid.dt / 2
                or right - edge > (step - 0.5) * grid.dt
                or abs(x1 - right) > grid.dt / 2
            ):
                right = (grid.column(now) + step) * grid.dt
                self._dense_right = right
                self._set_x(right - span, right)
            x0, x1 = right - span, right
        last = grid.column(x1)
        c0 = grid.column(x0)
        if self._dense_stale or not grid.same(layer.grid) or c0 < layer.first:
            self._dense_stale = False
            self._dense_samples = self.ctx.store.samples
            layer.begin(grid, c0 - 1)
            for i, sig in enumerate(self._signals):
                sig.seen = (-1, 0.0, -1)
                sig.counted = (-2, -1)
                self._pull(sig)
                sig.dense_count = max(sig.counted[0], 0)
                sig.dense_t = float(sig.t[-1]) if sig.t.size else -math.inf
                start = max(0, int(np.searchsorted(sig.t, x0)) - 1)
                layer.add(i, sig.t[start:], self._dense_y(sig, sig.v[start:]), last)
            layer.commit(last)
            return True
        changed = False
        store = self.ctx.store
        samples = store.samples
        if samples == self._dense_samples:  # nothing arrived anywhere since the last frame
            return bool(layer.commit(last))
        self._dense_samples = samples
        # Two holds of the store's lock a frame, not two per signal (see StationStore.windows).
        counts = store.sample_counts([(sig.machine, sig.tag) for sig in self._signals])
        moved: list[int] = []
        for i, (sig, count) in enumerate(zip(self._signals, counts, strict=True)):
            if count == sig.dense_count:
                continue
            if count < sig.dense_count:  # the machine was born again: new rings
                self._dense_stale = True
                continue
            sig.dense_count = count
            moved.append(i)
        got = store.windows(
            [
                (self._signals[i].machine, self._signals[i].tag, self._signals[i].dense_t)
                for i in moved
            ]
        )
        items: list[tuple[int, F64, F64]] = []
        for i, (t, v) in zip(moved, got, strict=True):
            sig = self._signals[i]
            fresh = t > sig.dense_t
            if not fresh.all():
                t, v = t[fresh], v[fresh]
            if t.size:
                sig.dense_t = float(t[-1])
                items.append((i, t, self._dense_y(sig, v)))
                changed = True
            if sig.spec is None:
                sig.spec = self._spec(sig.machine, sig.tag)
                if sig.spec is not None:  # its range arrived: redraw in it
                    self._dense_stale = True
        layer.add_many(items, last)  # every signal in one pass (see copilot.pixels.RunSet)
        layer.commit(last)
        return changed

    def _dense_y(self, sig: _Signal, v: F64) -> F64:
        self._scale_from(sig, v)
        return np.asarray(self._norm(sig, v), dtype=np.float64)

    def _view_changed(self, *_: object) -> None:
        """Paused (or resized) dense view: redraw for the new range, once per event-loop pass."""
        if self._dense is not None and not self._setting_range:
            self._schedule_dense()

    def _schedule_dense(self) -> None:
        if not self._dense_queued:
            self._dense_queued = True
            QTimer.singleShot(0, self._run_dense)

    def _run_dense(self) -> None:
        self._dense_queued = False
        live = not self._paused
        if live and not self.isVisible():
            return
        self._sync_dense(time.time(), live)

    def _set_curve(self, sig: _Signal) -> None:
        if sig.curve is None:
            return
        y = sig.v if self._stacked else self._norm(sig, sig.v)
        finite = bool(np.isfinite(y).all())
        sig.curve.setData(sig.t, y, connect="finite", skipFiniteCheck=finite)

    def _refresh(self, now: float, force: bool = False) -> None:
        if self._dense is not None:
            self._dense_stale = self._dense_stale or force
            if (
                not self._dense_stale
                and now < self._dense_right
                and self.ctx.store.samples == self._dense_samples
            ):
                return  # nothing arrived and the view has not reached its next column
            changed = self._sync_dense(now, live=True)
            if now - self._last_materialise >= DENSE_KEEP_S:
                # The raster is fed only new samples; fold the rings into ``t``/``v`` before
                # samples leave them, so a later rebuild still has them.
                self._last_materialise = now
                self._materialise()
            if self._needs_rebuild:
                self._needs_rebuild = False
                self._rebuild()
            late = now - self._last_readout >= DENSE_READOUT_S
            if force or (changed and self._cursor is not None and late):
                self._last_readout = now
                self._update_readout()
            return
        if force:
            for sig in self._signals:
                sig.seen = (-1, 0.0, -1)
                sig.counted = (-2, -1)
        changed = False
        for sig in self._signals:
            if self._pull(sig):
                self._set_curve(sig)
                self._apply_y(sig)
                changed = True
        if self._needs_rebuild:  # a tag's metadata arrived after the trend opened
            self._needs_rebuild = False
            self._rebuild()
        self._project(now)
        # Scroll only when the view moves by a whole pixel, new data or not: the right edge is
        # the pixel boundary just after now, so a new sample is always on screen, and the time
        # axis (regenerated on every range change) is rebuilt once per pixel, not every frame.
        step = self._pixel_seconds()
        right = (math.floor(now / step) + 1) * step + self._ahead
        if force or right != self._last_scroll:
            self._last_scroll = right
            self._set_x(right - self._window, right)
        if changed or force:
            self._update_readout()

    def _project(self, now: float) -> None:
        """Each stacked signal's projection (live), drawn when it changed.

        Each is worked out at most once a second, and at most :data:`PROJECT_PER_FRAME` in one
        frame: a stacked trend of many signals spreads the work over frames.
        """
        store = self.ctx.store
        budget = PROJECT_PER_FRAME
        changed = False
        for sig in self._signals:
            advice = None
            if self._stacked and sig.spec is not None and projectable(sig.spec):
                if budget > 0 and self._projector.due(sig.machine, sig.tag, now):
                    budget -= 1
                    reading = store.reading(sig.machine, sig.tag, now)
                    good = reading is not None and reading.good
                    advice = self._projector.advise(sig.machine, sig.spec, now, store.window, good)
                else:
                    advice = self._projector.cached(sig.machine, sig.tag)
            if advice is not sig.advice:
                sig.advice, changed = advice, True
        ahead = self._window * AHEAD_FRACTION if any(s.advice for s in self._signals) else 0.0
        if ahead != self._ahead:  # the future margin comes and goes with the projections
            self._ahead = ahead
            step = self._pixel_seconds()
            right = (math.floor(now / step) + 1) * step + ahead
            self._last_scroll = right
            self._set_x(right - self._window, right)
        if not changed:
            return
        for sig in self._signals:
            if sig.advice is not None or sig.projection is not None:
                self._show_projection(sig, sig.advice)

    def _show_projection(self, sig: _Signal, advice: Advice | None) -> None:
        """Draw (or remove) ``sig``'s projection on its plot."""
        if advice is None or sig.plot is None:
            if sig.projection is not None and sig.plot is not None:
                sig.plot.removeItem(sig.projection.label)
                sig.plot.removeItem(sig.projection)
            sig.projection = None
            return
        if sig.projection is None:
            sig.projection = _Continuation(self.theme)
            sig.plot.addItem(sig.projection, ignoreBounds=True)
            sig.plot.addItem(sig.projection.label, ignoreBounds=True)
        sig.projection.show_advice(advice, self._view_range()[1])

    def projections(self) -> dict[str, str]:
        """``machine/tag`` → the label of each projection drawn (``↗ HI in ~7 min (5–10)``)."""
        return {s.key: s.projection.text() for s in self._signals if s.projection is not None}

    def continuation_items(self) -> dict[str, _Continuation]:
        """``machine/tag`` → the continuation item drawn (for tests and inspection)."""
        return {s.key: s.projection for s in self._signals if s.projection is not None}

    def _pixel_seconds(self) -> float:
        """How long the live window takes to scroll by one pixel."""
        width = self._plots[0].getViewBox().width() if self._plots else 0.0
        return self._window / max(float(width), 200.0)

    def _on_frame(self, now: float) -> None:
        if self._paused or not self.isVisible() or not self._signals:
            return
        # At most the frame rate; for long windows no faster than the view scrolls one pixel,
        # but never slower than 15 Hz, so a new value is painted within ~70 ms.
        if self._dense is not None:  # cheap: only new samples' columns are drawn
            self._refresh(now)
            return
        rate = self.ctx.settings.station.frame_hz
        if now - self._last_frame < min(max(self._pixel_seconds(), 1 / rate), 1 / 15):
            return
        self._last_frame = now
        self._refresh(now)

    # -- interaction --------------------------------------------------------------------------

    def _view_range(self) -> tuple[float, float]:
        if not self._plots:
            now = time.time()
            return now - self._window, now
        (x0, x1), _ = self._plots[0].getViewBox().viewRange()
        return float(x0), float(x1)

    def _set_x(self, x0: float, x1: float) -> None:
        if not self._plots or x1 <= x0:
            return
        self._setting_range = True
        try:
            self._plots[0].getViewBox().setXRange(x0, x1, padding=0)
        finally:
            self._setting_range = False

    def _user_moved(self, *_: object) -> None:
        if self._setting_range:
            return
        if not self._paused:
            self.set_paused(True)
        x0, x1 = self._view_range()
        if abs((x1 - x0) - self._window) > 0.01 * self._window:
            self._uncheck_windows()  # zoomed: no range button tells the span any more
        self._request_history(self._signals, x0)

    def _on_cursor_dragged(self, line: pg.InfiniteLine) -> None:
        if self._syncing_cursor:
            return
        self.set_cursor(float(line.value()))

    def _on_click(self, event: object) -> None:
        button = event.button()  # type: ignore[attr-defined]
        if button != Qt.MouseButton.LeftButton or not self._plots:
            return
        pos = event.scenePos()  # type: ignore[attr-defined]
        for plot in self._plots:
            vb = plot.getViewBox()
            if vb.sceneBoundingRect().contains(pos):
                self.set_cursor(float(vb.mapSceneToView(pos).x()))
                return

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        """Pinch on the plot area scales the time axis."""
        if event.type() == QEvent.Type.Gesture and isinstance(event, QGestureEvent):
            gesture = event.gesture(Qt.GestureType.PinchGesture)
            if isinstance(gesture, QPinchGesture) and self._plots:
                flags = gesture.changeFlags()
                if flags & QPinchGesture.ChangeFlag.ScaleFactorChanged:
                    center = self._view_x(gesture.centerPoint())
                    self.pinch_zoom(gesture.scaleFactor(), center)
                event.accept(gesture)
                return True
        return super().eventFilter(watched, event)

    def _view_x(self, global_pos: QPointF) -> float | None:
        if not self._plots:
            return None
        local = self.graphics.viewport().mapFromGlobal(global_pos.toPoint())
        scene = self.graphics.mapToScene(local)
        return float(self._plots[0].getViewBox().mapSceneToView(scene).x())

    # -- readout ------------------------------------------------------------------------------

    def _index_at(self, sig: _Signal, t: float | None) -> int | None:
        """The index of the sample nearest ``t`` (None in a gap or without data)."""
        if t is None or sig.t.size == 0:
            return None
        i = int(np.searchsorted(sig.t, t, side="right"))
        if i == 0:
            return None
        if i == sig.t.size:
            return i - 1 if math.isfinite(sig.v[i - 1]) else None
        if not (math.isfinite(sig.v[i - 1]) and math.isfinite(sig.v[i])):
            return None
        return i - 1 if t - sig.t[i - 1] <= sig.t[i] - t else i

    def _number_at(self, sig: _Signal, t: float | None) -> float:
        """The sample value nearest ``t`` (NaN in a gap or without data)."""
        i = self._index_at(sig, t)
        return math.nan if i is None else float(sig.v[i])

    def verdict_at(self, key: str, t: float | None) -> Verdict:
        """The core classifier's verdict on ``machine/tag``'s sample nearest ``t``.

        Judged like the tile and the machine view judge the latest value
        (:func:`copilot.limits.classify_latest`): unrounded, with the tag's deadband decided by
        the samples before it, in the machine's current state.
        """
        self._materialise()
        for sig in self._signals:
            if sig.key == key:
                return self._verdict(sig, t)
        raise KeyError(key)

    def _verdict(self, sig: _Signal, t: float | None) -> Verdict:
        i = self._index_at(sig, t)
        if sig.spec is None or i is None:
            return NORMAL
        r = self.ctx.store.reading(sig.machine, "state")
        state = r.value if r is not None and isinstance(r.value, str) else None
        v = sig.v
        return classify_latest(sig.spec, float(v[i]), state, lambda: v[: i + 1])

    def _value_at(self, sig: _Signal, t: float) -> str:
        return _format(self._number_at(sig, t), sig.spec)

    def _update_readout(self) -> None:
        # Compact: no readout, except to say how to go back to live after a pan paused it.
        self.readout_area.setVisible(not self._compact or self._paused)
        state = "PAUSED" if self._paused else "LIVE"
        if self._compact and self._paused:
            self.readout.setText("PAUSED  ·  tap a range to go live")
        elif self._cursor is None:
            self.readout.setText(f"{state}  ·  tap the plot to place the cursor")
        else:
            stamp = datetime.fromtimestamp(self._cursor).strftime("%H:%M:%S")
            values = self.cursor_values()
            parts = [f"{key}  {value}" for key, value in values.items()]
            self.readout.setText(f"{state}  ·  Cursor {stamp}    " + "    ".join(parts))
            self._update_cursor_labels(values)
        self._fit_readout()

    def _marked(self, sig: _Signal, text: str) -> str:
        """The value at the cursor with its severity's glyph when it is abnormal."""
        verdict = self._verdict(sig, self._cursor)
        return f"{verdict.glyph} {text}" if verdict.abnormal else text

    def _update_cursor_labels(self, values: dict[str, str]) -> None:
        """Beside the cursor line of each plot: its signals' values there."""
        if self._cursor is None:
            return
        groups: list[list[_Signal]]
        if self._stacked:
            groups = [[sig] for sig in self._signals]
        else:
            groups = [self._signals[:CURSOR_LABEL_LINES]]
        x0, x1 = self._view_range()
        right_half = self._cursor > x0 + (x1 - x0) * 0.6
        for line, group in zip(self._cursor_lines, groups, strict=False):
            label = line.label
            if label is None:
                continue
            if self._stacked:
                lines = [self._marked(sig, values.get(sig.key, NO_VALUE)) for sig in group]
            else:
                lines = [
                    f"{sig.tag}  {self._marked(sig, values.get(sig.key, NO_VALUE))}"
                    for sig in group
                ]
                if len(self._signals) > len(group):
                    lines.append(f"+{len(self._signals) - len(group)} more above")
            text = "\n".join(lines).replace("{", "{{").replace("}", "}}")
            # Stacked: beside the point where the cursor meets the line (above it, or below it
            # in the plot's upper part); overlaid: near the top, under the limits' labels.
            where = 0.8
            if self._stacked and group[0].plot is not None:
                value = self._number_at(group[0], self._cursor)
                (_, _), (y0, y1) = group[0].plot.getViewBox().viewRange()
                if math.isfinite(value) and y1 > y0:
                    where = min(max((value - y0) / (y1 - y0), 0.02), 0.98)
            # a text height clear of the point, so the label never hides the line it reads
            below = -1.0 if where > 0.6 else 2.0
            label.anchors = [(1, below), (1, below)] if right_half else [(0, below), (0, below)]
            label.setFormat(text)
            label.setPosition(where)
            label.valueChanged()

    def cursor_labels(self) -> list[str]:
        """What each plot shows beside its cursor line (for tests)."""
        return [
            line.label.toPlainText()
            for line in self._cursor_lines
            if line.label is not None and line.isVisible()
        ]

    def _fit_readout(self) -> None:
        width = max(self.readout_area.viewport().width(), 200)
        line = self.readout.fontMetrics().lineSpacing()
        lines = max(1, round(self.readout.heightForWidth(width) / line))
        self.readout_area.setFixedHeight(line * min(lines, READOUT_LINES) + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        """The readout wraps to the new width; a narrow trend turns compact."""
        super().resizeEvent(event)
        tall = event.size().height() >= LABELS_FROM_PX
        relabel = tall != self._tall
        self._tall = tall
        was = self._compact
        self.set_compact(event.size().width() < COMPACT_BELOW)
        if relabel and self._compact and was == self._compact:
            self._rebuild()  # limit labels appear or go
        self._fit_readout()

    def _labelled(self) -> bool:
        """Limit lines carry their labels, unless the trend is compact and short."""
        return not self._compact or self._tall

    def limit_labels(self) -> list[str]:
        """The texts on the limit lines, top plot first (for tests)."""
        texts: list[str] = []
        for plot in self._plots:
            for item in plot.items:
                limit = isinstance(item, pg.InfiniteLine) and item not in self._cursor_lines
                label = getattr(item, "label", None) if limit else None
                if label is not None:
                    texts.append(label.toPlainText())
        return texts

    def set_compact(self, compact: bool) -> None:
        """Compact (narrow): short range buttons and the plots; no pause/mode/scale/export."""
        if compact == self._compact:
            return
        self._compact = compact
        for seconds, button in self.window_buttons.items():
            long = next(text for text, s in WINDOWS if s == seconds)
            button.setText(SHORT_WINDOWS[seconds] if compact else long)
            # five touch-size buttons in a ~320 px side panel: less padding, never clipped
            button.setStyleSheet("padding: 0 4px;" if compact else "")
            button.setToolTip(f"Show the last {long}")
        for widget in (
            self.pause_button,
            self.mode_button,
            self.scale_button,
            self.notice,
            self.csv_button,
            self.png_button,
        ):
            widget.setVisible(not compact)
        self._update_readout()
        self._rebuild()

    def is_compact(self) -> bool:
        """Whether the trend shows only range buttons and plots (it is narrow)."""
        return self._compact

    def set_theme(self, theme: Theme) -> None:
        """Redraw with another palette."""
        self.theme = theme
        self.graphics.setBackground(theme.panel)
        self._rebuild()


__all__ = ["WINDOWS", "QtTrend"]
