"""The supervisor's alarm-load KPIs (view ``kpis``): the figures of ``copilot alarms report``.

The occurrences come from the hub's journal through ``station.query_alarms`` (paged while the
hub says ``more``), from one day before the period so that alarms raised earlier and still
standing count as standing/stale; :func:`copilot.alarms.board.occurrences` turns them back into
journal rows and :func:`copilot.alarms.kpi.compute_kpis` computes the report — the same code as
the command line. The view shows the figures against their targets, alarms per 10 min over the
period with the 1 and 2 lines, the priority mix, and the top-10 bad actors.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from copilot.alarms.board import occurrences
from copilot.alarms.journal import Occurrence
from copilot.alarms.kpi import TEN_MIN_NS, KpiReport, compute_kpis, figure_rows
from copilot.protocol import PRIORITIES, AlarmStatus
from copilot.station import AlarmHistoryArrived
from ui.alarms.look import priority_word
from ui.context import StationContext
from ui.theme import SPACING, TOUCH, Theme

NS = 1_000_000_000
PERIODS = (("Shift (8 h)", 8 * 3600), ("24 h", 24 * 3600), ("7 days", 7 * 86400))
LOOKBACK_S = 24 * 3600  # occurrences raised this long before the period may still be standing
PAGE = 500
REFRESH_S = 30.0  # asked again this often while the view is visible
MAX_PAGES = 100  # 50 000 occurrences at most: past it the view says it was cut


def _font(px: int, bold: bool = False) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPixelSize(px)
    font.setBold(bold)
    return font


def rate_series(occs: list[Occurrence], since_ns: int, until_ns: int) -> np.ndarray:
    """Alarms raised per 10-minute bin of the period (not suppressed), oldest bin first."""
    bins = max(1, -(-(until_ns - since_ns) // TEN_MIN_NS))
    raised = np.array(
        [o.raised_at for o in occs if not o.suppressed and since_ns <= o.raised_at < until_ns],
        dtype=np.int64,
    )
    counts = np.bincount((raised - since_ns) // TEN_MIN_NS, minlength=bins)
    return counts[:bins].astype(np.float64)


class QtKpiView(QWidget):
    """Alarm KPIs of the last shift, day or week, from the hub's journal."""

    follows_theme = False  # pyqtgraph caches its colours: the window rebuilds it on a change

    def __init__(self, ctx: StationContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("kpiView")
        self.ctx = ctx
        self.period_s = 24 * 3600
        self.report: KpiReport | None = None
        self.occurrences: list[Occurrence] = []
        self._statuses: list[AlarmStatus] = []
        self._request = 0
        self._pages = 0
        self._since = 0
        self._until = 0
        self.cut = False

        outer = QVBoxLayout(self)
        outer.setContentsMargins(SPACING, SPACING // 2, SPACING, SPACING // 2)
        top = QHBoxLayout()
        title = QLabel("Alarm load KPIs (ISA-18.2 / EEMUA 191)")
        title.setFont(_font(20, True))
        top.addWidget(title)
        top.addStretch(1)
        self.period_group = QButtonGroup(self)
        self.period_buttons: dict[int, QPushButton] = {}
        for text, seconds in PERIODS:
            b = QPushButton(text)
            b.setCheckable(True)
            b.setMinimumHeight(TOUCH)
            b.setMinimumWidth(150)  # the checked (bold) label must not be clipped
            b.clicked.connect(lambda _=False, s=seconds: self.set_period(s))
            self.period_group.addButton(b)
            self.period_buttons[seconds] = b
            top.addWidget(b)
        self.period_buttons[self.period_s].setChecked(True)
        refresh = QPushButton("Refresh")
        refresh.setMinimumHeight(TOUCH)
        refresh.clicked.connect(self.request)
        top.addWidget(refresh)
        outer.addLayout(top)
        self.status = QLabel("Asking the hub's journal…")
        self.status.setObjectName("kpiStatus")
        outer.addWidget(self.status)

        body = QHBoxLayout()
        body.setSpacing(SPACING)
        left = QVBoxLayout()
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(SPACING)
        self.grid.setVerticalSpacing(2)
        self.figure_labels: dict[str, QLabel] = {}
        for r, head in enumerate(("FIGURE", "VALUE", "TARGET")):
            label = QLabel(head)
            label.setFont(_font(14, True))
            self.grid.addWidget(label, 0, r)
        for r, (name, _v, target) in enumerate(figure_rows(compute_kpis([], 0, 1)), start=1):
            self.grid.addWidget(QLabel(name), r, 0)
            value = QLabel("—")
            value.setFont(_font(18, True))
            self.figure_labels[name] = value
            self.grid.addWidget(value, r, 1)
            dim = QLabel(target)
            dim.setObjectName("dim")
            self.grid.addWidget(dim, r, 2)
        left.addLayout(self.grid)
        actors = QLabel("Top-10 bad actors (the alarms raised most often)")
        actors.setFont(_font(16, True))
        left.addWidget(actors)
        self.actors = QTableWidget(0, 3)
        self.actors.setHorizontalHeaderLabels(["Alarm", "Count", "Share"])
        self.actors.verticalHeader().hide()
        self.actors.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.actors.setColumnWidth(0, 330)
        self.actors.setColumnWidth(1, 80)
        self.actors.setColumnWidth(2, 90)
        self.actors.verticalHeader().setDefaultSectionSize(30)
        self.actors.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        left.addWidget(self.actors, 1)
        body.addLayout(left, 5)

        right = QVBoxLayout()
        theme = ctx.theme
        self.rate_plot = pg.PlotWidget(background=theme.panel)
        self.rate_plot.setMenuEnabled(False)
        self.rate_plot.setMouseEnabled(x=False, y=False)
        self.rate_plot.hideButtons()
        self.rate_plot.setTitle("Alarms per 10 min", color=theme.text, size="12pt")
        self.rate_plot.setLabel("bottom", "hours before now", color=theme.text_dim)
        self.rate_bars = pg.BarGraphItem(x=[0], height=[0], width=1.0, brush=theme.bar, pen=None)
        self.rate_plot.addItem(self.rate_bars)
        for y, text, style in (
            (1, "1 acceptable", Qt.PenStyle.DashLine),
            (2, "2 manageable", Qt.PenStyle.SolidLine),
        ):
            line = pg.InfiniteLine(
                pos=y,
                angle=0,
                pen=pg.mkPen(theme.text, width=2, style=style),
                label=text,
                labelOpts={"position": 0.06, "color": theme.text, "anchors": [(0, 1), (0, 1)]},
            )
            self.rate_plot.addItem(line)
        right.addWidget(self.rate_plot, 3)
        self.mix_plot = pg.PlotWidget(background=theme.panel)
        self.mix_plot.setMenuEnabled(False)
        self.mix_plot.setMouseEnabled(x=False, y=False)
        self.mix_plot.hideButtons()
        self.mix_plot.setTitle(
            "Priority mix, % (target ~5 high, 15 medium, 80 low)", color=theme.text, size="12pt"
        )
        axis = self.mix_plot.getAxis("bottom")
        axis.setTicks([[(i, priority_word(p)) for i, p in enumerate(PRIORITIES)]])
        self.mix_bars = pg.BarGraphItem(
            x=list(range(len(PRIORITIES))),
            height=[0] * len(PRIORITIES),
            width=0.6,
            brushes=[self._priority_brush(theme, p) for p in PRIORITIES],
            pen=None,
        )
        self.mix_plot.addItem(self.mix_bars)
        self.mix_plot.setYRange(0, 100)
        right.addWidget(self.mix_plot, 2)
        for plot in (self.rate_plot, self.mix_plot):
            for name in ("left", "bottom"):
                ax = plot.getAxis(name)
                ax.setPen(pg.mkPen(theme.text_dim))
                ax.setTextPen(pg.mkPen(theme.text))
                ax.setStyle(tickFont=_font(14))
        body.addLayout(right, 6)
        outer.addLayout(body, 1)
        ctx.event.connect(self._on_event)
        ctx.frame.connect(self._on_frame)

    @staticmethod
    def _priority_brush(theme: Theme, priority: str) -> object:
        from ui.alarms.look import priority_color

        return pg.mkBrush(priority_color(theme, priority))

    # -- public ------------------------------------------------------------------------------------

    def set_period(self, seconds: int) -> None:
        """Show the last ``seconds`` (8 h, 24 h or 7 d) and ask the journal again."""
        self.period_s = int(seconds)
        button = self.period_buttons.get(self.period_s)
        if button is not None:
            button.setChecked(True)
        self.request()

    def request(self) -> None:
        """Ask the hub's journal for the period's occurrences (and the day before it)."""
        self._until = time.time_ns()
        self._since = self._until - self.period_s * NS
        self._statuses = []
        self._pages = 0
        self.cut = False
        self.status.setText("Asking the hub's journal…")
        self._ask(self._until)

    def figures(self) -> dict[str, str]:
        """The figures shown, by name (``—`` before the first report)."""
        return {name: label.text() for name, label in self.figure_labels.items()}

    def actor_rows(self) -> list[tuple[str, str, str]]:
        """The bad-actors table as shown."""
        return [
            tuple(self.actors.item(r, c).text() for c in range(3))  # type: ignore[misc]
            for r in range(self.actors.rowCount())
        ]

    def rate_heights(self) -> list[float]:
        """The alarms-per-10-min bars as drawn, oldest first."""
        return [float(h) for h in self.rate_bars.opts["height"]]

    def mix_heights(self) -> dict[str, float]:
        """The priority-mix bars as drawn, %."""
        return {p: float(h) for p, h in zip(PRIORITIES, self.mix_bars.opts["height"], strict=True)}

    # -- internals ---------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: D102, N802
        super().showEvent(event)
        self.request()

    def _on_frame(self, now: float) -> None:
        if self.isVisible() and not self._request and now - self._until / NS >= REFRESH_S:
            self.request()

    def _ask(self, until: int) -> None:
        self._pages += 1
        self._request = self.ctx.station.query_alarms(
            since=self._since - LOOKBACK_S * NS, until=until, limit=PAGE
        )

    def _on_event(self, event: object) -> None:
        if not isinstance(event, AlarmHistoryArrived):
            return
        history = event.history
        if history.request_id != self._request or not self._request:
            return
        self._statuses.extend(history.alarms)
        if history.more and history.alarms and self._pages < MAX_PAGES:
            oldest = min(s.raised_at for s in history.alarms)
            if oldest < self._until:  # newest first: go on from the oldest (inclusive)
                self._ask(oldest + 1)
                return
        self.cut = bool(history.more)
        self._show(occurrences(self._statuses))

    def _show(self, occs: list[Occurrence]) -> None:
        self._request = 0
        self.occurrences = occs
        report = compute_kpis(occs, self._since, self._until)
        self.report = report
        for name, value, _target in figure_rows(report):
            self.figure_labels[name].setText(value)
        self.actors.setRowCount(len(report.bad_actors))
        for r, actor in enumerate(report.bad_actors):
            for c, text in enumerate((actor.alarm, str(actor.count), f"{actor.share_pct:.1f} %")):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.actors.setItem(r, c, item)
        heights = rate_series(occs, self._since, self._until)
        hours = (np.arange(len(heights)) - len(heights) + 0.5) / 6.0  # bin centres, h before now
        self.rate_bars.setOpts(x=hours, height=heights, width=1 / 6.0 * 0.9)
        self.rate_plot.setYRange(0, max(3.0, float(heights.max(initial=0)) * 1.1))
        self.rate_plot.setXRange(float(hours[0]) - 0.1, 0.1, padding=0)
        self.mix_bars.setOpts(height=[report.priority_distribution.get(p, 0.0) for p in PRIORITIES])
        when = time.strftime("%H:%M:%S", time.localtime(self._until / NS))
        n = report.total_alarms
        cut = " — cut at the first 50 000: the figures are partial" if self.cut else ""
        self.status.setText(
            f"{n} alarm{'' if n == 1 else 's'} in the last {_span(self.period_s)}, from the "
            f"hub's journal at {when} (the same figures as copilot alarms report){cut}"
        )


def _span(seconds: int) -> str:
    return f"{seconds // 86400} days" if seconds >= 2 * 86400 else f"{seconds // 3600} h"
