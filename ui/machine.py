"""Level 2: one machine in detail — header, every tag with its range and quality, key trends.

ISA-101 style: everything normal is grey; colour appears only for abnormal values (outside the
normal band or beyond a limit) and always comes with a shape (arrow glyphs, hatching) so it also
reads without colour. The view pulls from ``ctx.store`` on ``ctx.frame`` (table throttled to
~4 Hz) and only while visible; rows are rebuilt on :meth:`QtMachineView.show_machine` or when
the machine's BIRTH changes (a ``MachinesChanged`` event).

The trend strip embeds ``ui.trend.QtTrend`` when it is importable (imported lazily); otherwise
a placeholder says so. The "Commands" panel is the command gate's (:mod:`ui.gate`); "Alarms" is a
reserved, read-only panel for now.

Anomaly detectors (:mod:`ui.anomaly`): while visible the view asks the hub every
:data:`ANOMALY_S` (and at once when one of the machine's anomaly alarms changes) what its
detectors learned and which alerts they raised. Active alerts are cards above the tag table —
explained, with the playbook's suggestion (a tap pre-fills the command's sheets, origin
``suggestion``; the person confirms, the hub's gate decides) and the verdict buttons. The
header says "◔ Learning normal: 14 min left" while the mode is still being learned; the
"Detectors" button swaps the tag table for the detector panel.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy.typing as npt
from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
)
from PySide6.QtGui import (
    QBrush,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from copilot.anomaly.playbooks import PlaybookError, Playbooks, Suggestion, load_playbooks
from copilot.anomaly.present import alert_card, learning_badge
from copilot.gate.panel import command_buttons
from copilot.limits import NORMAL, Verdict, classify_latest
from copilot.protocol import (
    AnomalyAlert,
    CommandSpec,
    MachineLearned,
    Scalar,
    TagSpec,
    quality_label,
    reason_of,
    severity_of,
)
from copilot.station import (
    AlarmsChanged,
    AnomalyStatusArrived,
    GateAnswered,
    MachinesChanged,
    MachineSnapshot,
    Reading,
)
from ui.anomaly import QtAnomalyAlerts, QtDetectorPanel
from ui.context import StationContext
from ui.gate import QtCommandPanel
from ui.gate.flow import QtGate
from ui.overview import short_tag_label, tag_label
from ui.theme import (
    SPACING,
    TOUCH,
    Look,
    Theme,
    icon_path,
    quality_look,
    state_look,
    style_sheet,
    verdict_color,
    verdict_text_color,
)
from ui.theme import value_font as _value_font

log = logging.getLogger(__name__)

ANOMALY_S = 5.0  # how often a visible machine view asks what its detectors know


def _playbooks() -> Playbooks:
    """The shipped playbooks; a bad file is logged (one sentence) and none are offered."""
    try:
        return load_playbooks()
    except PlaybookError as exc:
        log.error("station: no suggested actions: %s", exc)
        return Playbooks(())


COLUMNS = ("Tag", "Value", "Range", "Quality · updated")
COL_TAG, COL_VALUE, COL_RANGE, COL_QUALITY = range(4)
# Fixed columns' widths and the side panel's width, by window width (the tag column takes
# what is left): the 1024-px minimum, 1280-px panels, and from 1700 px (1080p).
# Quality needs ~232 px ("comm lost since 23:59:59" whole), the range bar ~80 px of track; the
# side panel yields, so a human name ("Hydraulic pump motor current") fits whole at 1280 px.
SHORT_VIEW_H = 760  # a machine view shorter than this leaves the trend's signal picker out
# The side trend panel below this (its range row and ~160 px of plot) is no use to read: it
# gives way to the commands (an 80-px plot with crowded axis labels showed at 1280×800).
TREND_MIN_H = 240
LAYOUTS = (
    (0, {COL_VALUE: 125, COL_RANGE: 125, COL_QUALITY: 232}, 300),
    (1200, {COL_VALUE: 140, COL_RANGE: 168, COL_QUALITY: 232}, 400),
    (1700, {COL_VALUE: 180, COL_RANGE: 240, COL_QUALITY: 250}, 640),
)
TREND_WINDOWS = (("10 min", 600.0), ("1 h", 3600.0), ("8 h", 28800.0))
ROW_HEIGHT = 60  # touch: at least TOUCH (48) px
TABLE_HZ = 4.0
TREND_WINDOW_S = 600.0
DASH = "—"


def _font(px: int, bold: bool = False) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPixelSize(px)
    font.setBold(bold)
    return font


def _hms(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def _decimals(spec: TagSpec) -> int:
    if spec.type != "float":
        return 0
    span = spec.eng_range.hi - spec.eng_range.lo if spec.eng_range else 100.0
    if span >= 1000:
        return 0
    if span >= 50:
        return 1
    return 2


def format_value(spec: TagSpec, value: object) -> tuple[str, str]:
    """``(number or label, unit)`` as an operator reads it; ``("—", "")`` when unknown."""
    if value is None:
        return DASH, ""
    if spec.type == "bool" or isinstance(value, bool):
        return ("on" if value else "off"), ""
    if spec.type == "enum" or isinstance(value, str):
        return str(value), ""
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number):
            return DASH, ""
        if spec.type == "int":
            return f"{int(number)}", spec.unit
        return f"{number:.{_decimals(spec)}f}", spec.unit
    return str(value), spec.unit


def _joined(number: str, unit: str) -> str:
    return f"{number} {unit}" if unit else number


def has_range(spec: TagSpec) -> bool:
    """Whether a bar indicator means anything (numeric, with a band narrower than the span)."""
    if spec.type not in ("float", "int") or spec.eng_range is None or spec.normal is None:
        return False
    eng, normal = spec.eng_range, spec.normal
    return eng.hi > eng.lo and (normal.lo > eng.lo or normal.hi < eng.hi)


@dataclass
class RowState:
    """What one row shows (texts for tests and painting, plus the range indicator's inputs)."""

    spec: TagSpec
    value: str = DASH  # full text, e.g. "8123 rpm" or "— (8123 rpm)"
    value_main: str = DASH
    value_unit: str = ""
    value_dim: str = ""  # last value of a Bad reading, shown dimmed in parentheses
    quality: str = ""
    quality_look: Look | None = None
    updated: str = DASH
    stale: str = ""  # "stale since HH:MM:SS"
    number: float | None = None
    good: bool = False
    verdict: Verdict = NORMAL

    def texts(self) -> dict[str, str]:
        updated = f"{self.updated} · {self.stale}" if self.stale else self.updated
        return {
            "Tag": self.spec.name,
            "Name": tag_label(self.spec),
            "Value": self.value,
            "Quality": self.quality,
            "Last update": updated,
        }


def row_state(
    reading: Reading,
    state: str | None = "running",
    recent: Callable[[], npt.ArrayLike] | None = None,
) -> RowState:
    """Turn a store reading into what the row shows (judged by :mod:`copilot.limits`).

    ``state`` is the machine's state word, ``recent`` the tag's recent samples for the
    classifier's deadband (see :func:`copilot.limits.classify_latest`).
    """
    spec = reading.spec
    row = RowState(spec=spec)
    number, unit = format_value(spec, reading.value)
    severity = severity_of(reading.quality)
    row.good = severity == 0
    if severity >= 2:
        row.value_main = DASH
        row.value_dim = f"({_joined(number, unit)})" if number != DASH else ""
        row.value = f"{DASH} {row.value_dim}".strip()
    else:
        row.value_main, row.value_unit = number, unit
        row.value = _joined(number, unit)
    row.quality = quality_label(reading.quality)
    look = quality_look(reading.quality)
    row.quality_look = look if look.abnormal else None
    row.updated = _hms(reading.ts) if reading.ts else DASH
    row.stale = f"stale since {_hms(reading.stale_since)}" if reading.stale_since else ""
    value = reading.value
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and spec.type in ("float", "int"):
        row.number = float(value)
        judged = spec.normal is not None or spec.limits is not None
        if row.good and judged:  # no abnormal colour for a value that cannot be trusted
            row.verdict = classify_latest(spec, row.number, state, recent)
    return row


def command_line(cmd: CommandSpec) -> str:
    """``start — confirm · blocked by: guard door open, fault active``."""
    parts = [f"{cmd.name} — {cmd.risk.replace('_', '-')}"]
    if cmd.interlocks:
        parts.append("blocked by: " + ", ".join(cmd.interlocks))
    if cmd.permissives:
        parts.append("needs: " + ", ".join(cmd.permissives))
    return " · ".join(parts)


def fit_value(
    fonts: Sequence[QFont], text: str, side: str, side_w: int, width: int
) -> tuple[QFont, str, int]:
    """The font, side text and room for a value cell: a number is never cut to fit.

    The largest of ``fonts`` in which ``text`` fits beside ``side`` (``side_w`` pixels with its
    gap); if none does, the side text is left out and the smallest font takes ``width``.
    """
    room = width - (side_w if side else 0)
    for font in fonts:
        if QFontMetrics(font).horizontalAdvance(text) <= room:
            return font, side, room
    return fonts[-1], "", width


class _RowDelegate(QStyledItemDelegate):
    """Paints every cell from the view's :class:`RowState` list (custom, arm's-length fonts)."""

    def __init__(self, view: QtMachineView) -> None:
        super().__init__(view)
        self._view = view
        self.name_font = _font(17, bold=True)
        self.name_font_small = _font(16, bold=True)
        self.small_font = _font(16)  # secondary text: at least 16 px
        self.text_font = _font(16)
        self.value_font = _value_font(24)
        self.value_fonts = (self.value_font, _value_font(20), _value_font(16))  # to fit a value
        self.unit_font = _font(15)
        self.glyph_font = _font(15, bold=True)

    def sizeHint(  # noqa: N802 (Qt API)
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return QSize(120, ROW_HEIGHT)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        rows = self._view._rows
        if not 0 <= index.row() < len(rows):
            return
        row = rows[index.row()]
        theme = self._view.theme
        rect: QRect = option.rect
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(rect, theme.color("panel_alt" if selected else "panel"))
        if selected and index.column() == COL_TAG:
            painter.fillRect(QRect(rect.left(), rect.top(), 5, rect.height()), theme.color("focus"))
        inner = rect.adjusted(12, 4, -12, -4)
        column = index.column()
        if column == COL_TAG:
            self._paint_tag(painter, inner, row, theme)
        elif column == COL_VALUE:
            self._paint_value(painter, inner, row, theme)
        elif column == COL_RANGE:
            self._paint_range(painter, inner, row, theme)
        elif column == COL_QUALITY:
            self._paint_quality(painter, inner, row, theme)
        painter.restore()

    def _paint_tag(self, p: QPainter, r: QRect, row: RowState, theme: Theme) -> None:
        top = QRect(r.left(), r.top(), r.width(), r.height() // 2 + 2)
        bottom = QRect(r.left(), r.top() + r.height() // 2 + 2, r.width(), r.height() // 2 - 2)
        p.setFont(self.name_font)
        p.setPen(theme.color("text"))
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom
        # The human name from BIRTH first; the tag id beneath it, as secondary text. A long name
        # steps down a size (never below the 16 px of secondary text) before it is cut.
        label = tag_label(row.spec)
        font = self.name_font
        if QFontMetrics(font).horizontalAdvance(label) > r.width():
            font = self.name_font_small
            p.setFont(font)
        name = QFontMetrics(font).elidedText(label, Qt.TextElideMode.ElideRight, r.width())
        p.drawText(top, align, name)
        p.setFont(self.small_font)
        p.setPen(theme.color("text_dim"))
        ident = QFontMetrics(self.small_font).elidedText(
            row.spec.name, Qt.TextElideMode.ElideRight, r.width()
        )
        p.drawText(bottom, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, ident)

    def _paint_value(self, p: QPainter, r: QRect, row: RowState, theme: Theme) -> None:
        middle = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        # Bad: "—" then the last value, dimmed, in parentheses; else the unit after the number.
        side = row.value_dim or row.value_unit
        side_w = QFontMetrics(self.unit_font).horizontalAdvance(side) if side else 0
        gap = 8 if row.value_dim else 6
        # A number is never cut: "50552" clipped at the column's edge read "0552". It steps
        # down a size or two to fit beside its unit; if even the smallest does not, the unit
        # (or the dimmed last value) is left out and the number takes the whole cell.
        font, side, room = fit_value(
            self.value_fonts, row.value_main, side, side_w + gap, r.width()
        )
        right = r.right()
        if side:
            p.setFont(self.unit_font)
            p.setPen(theme.color("text_dim"))
            p.drawText(QRect(right - side_w, r.top(), side_w + 1, r.height()), middle, side)
            right -= side_w + gap
        p.setFont(font)
        p.setPen(theme.color("text"))
        p.drawText(QRect(right - room + 1, r.top(), room, r.height()), middle, row.value_main)

    def _paint_range(self, p: QPainter, r: QRect, row: RowState, theme: Theme) -> None:
        spec = row.spec
        if not has_range(spec) or spec.eng_range is None or spec.normal is None:
            return
        glyph_w = 64
        lo, hi = spec.eng_range.lo, spec.eng_range.hi
        track = QRectF(r.left(), r.center().y() - 6, r.width() - glyph_w, 12)

        def x_of(v: float) -> float:
            f = min(max((v - lo) / (hi - lo), 0.0), 1.0)
            return track.left() + f * track.width()

        p.setPen(QPen(theme.color("border"), 1))
        if row.good:
            p.setBrush(theme.color("panel_alt"))
        else:  # no trustworthy value: the track itself is hatched
            p.setBrush(QBrush(theme.color("stale"), Qt.BrushStyle.BDiagPattern))
        p.drawRect(track)
        band = QRectF(
            x_of(spec.normal.lo), track.top(), x_of(spec.normal.hi) - x_of(spec.normal.lo), 12
        )
        p.fillRect(band, theme.color("normal_band"))
        lim = spec.limits
        if lim is not None:  # limit ticks: short for hi/lo, long for hihi/lolo
            p.setPen(QPen(theme.color("text_dim"), 2))
            for limit, long in (
                (lim.lo, False),
                (lim.hi, False),
                (lim.lolo, True),
                (lim.hihi, True),
            ):
                if limit is not None and lo <= limit <= hi:
                    x = x_of(limit)
                    reach = 9 if long else 5
                    p.drawLine(
                        int(x), int(track.top() - reach), int(x), int(track.bottom() + reach)
                    )
        if row.number is None:
            return
        x = x_of(row.number)
        marker = QRectF(x - 3, track.top() - 9, 6, track.height() + 18)
        if not row.good:
            p.setPen(QPen(theme.color("stale"), 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(marker)
            return
        verdict = row.verdict
        color = verdict_color(theme, verdict) if verdict.abnormal else theme.color("bar")
        p.setPen(QPen(theme.color("text") if verdict.abnormal else color, 1))
        p.setBrush(color)
        p.drawRect(marker)
        if verdict.glyph:
            glyph_rect = QRect(int(track.right()) + 6, r.top(), glyph_w - 6, r.height())
            badge = QRectF(glyph_rect).adjusted(0, r.height() / 2 - 13, 0, -(r.height() / 2 - 13))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawRoundedRect(badge, 4, 4)
            p.setFont(self.glyph_font)
            p.setPen(verdict_text_color(theme, verdict))
            p.drawText(glyph_rect, Qt.AlignmentFlag.AlignCenter, verdict.glyph)

    def _paint_quality(self, p: QPainter, r: QRect, row: RowState, theme: Theme) -> None:
        """Two lines, never cut off: the quality word, then why and since when (or the time)."""
        look = row.quality_look
        half = r.height() // 2
        top = QRect(r.left(), r.top(), r.width(), half + 2)
        bottom = QRect(r.left(), r.top() + half + 2, r.width(), half - 2)
        left = Qt.AlignmentFlag.AlignLeft
        word, _, why = row.quality.partition(" (")
        why = why.rstrip(")").replace("_", " ")
        if look is not None:  # shape + pattern swatch before the word; the detail runs full width
            swatch = QRect(r.left(), top.bottom() - 18, 18, 18)
            p.setPen(QPen(theme.color(look.color), 2))
            p.setBrush(QBrush(theme.color(look.color), look.pattern))
            p.drawRect(swatch)
            top.setLeft(r.left() + 26)
            font = _font(16, bold=True)
            p.setFont(font)
            p.setPen(theme.color("text"))
            glyph = look.label.split(" ", 1)[0]
            text = f"{glyph} {word}"
        else:
            font = self.text_font
            p.setFont(font)
            p.setPen(theme.color("text_dim"))
            text = word
        p.drawText(
            top,
            left | Qt.AlignmentFlag.AlignBottom,
            QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, top.width()),
        )
        if row.stale:
            detail = f"{why + ' ' if why else ''}since {row.stale.removeprefix('stale since ')}"
        else:
            detail = f"{why} · {row.updated}" if why else row.updated
        p.setFont(self.small_font)
        p.setPen(theme.color("text_dim"))
        p.drawText(
            bottom,
            left | Qt.AlignmentFlag.AlignTop,
            QFontMetrics(self.small_font).elidedText(
                detail, Qt.TextElideMode.ElideRight, bottom.width()
            ),
        )


class _TagTable(QTableWidget):
    """The tag list; Enter/Return on a row opens its trend, like a tap does."""

    def __init__(self, view: QtMachineView) -> None:
        super().__init__(0, len(COLUMNS), view)
        self._view = view

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentRow() >= 0:
            self._view._open_row(self.currentRow())
            event.accept()
            return
        super().keyPressEvent(event)


class _Header(QFrame):
    """Machine header: greyed and hatched (not just recoloured) while the machine is offline."""

    def __init__(self, theme: Theme, parent: QWidget) -> None:
        super().__init__(parent)
        self.theme = theme
        self.offline = False
        self.setObjectName("machineHeader")

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        rect = self.rect()
        p.fillRect(rect, self.theme.color("panel_alt" if self.offline else "panel"))
        if self.offline:
            hatch = self.theme.color("stale")
            hatch.setAlpha(70)
            p.fillRect(rect, QBrush(hatch, Qt.BrushStyle.BDiagPattern))
        p.setPen(QPen(self.theme.color("border"), 1))
        p.drawLine(rect.bottomLeft(), rect.bottomRight())
        p.end()


def _panel(title: str, theme: Theme, parent: QWidget) -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame(parent)
    frame.setObjectName("reservedPanel")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(SPACING, 8, SPACING, SPACING)
    layout.setSpacing(6)
    label = QLabel(title, frame)
    label.setObjectName("panelTitle")
    layout.addWidget(label)
    return frame, layout


LOCAL_QSS = """
#machineHeader QLabel { background: transparent; }
QLabel#machineName { font-size: 30px; font-weight: bold; color: @text@; }
QLabel#machineWhere { font-size: 17px; color: @text_dim@; }
QLabel#machineState { font-size: 20px; font-weight: bold; color: @text@; }
QLabel#machineState[fault="true"] { background: @fault@; color: @banner_text@;
                                    border-radius: 6px; padding: 2px 10px; }
QLabel#machineState[stale="true"] { color: @text_dim@; background: transparent;
    border: 2px dashed @text_dim@; border-radius: 6px; padding: 2px 10px; font-style: italic; }
QLabel#machineOnline { font-size: 16px; color: @text_dim@; }
QLabel#machineLearning { font-size: 18px; font-weight: bold; color: @text@; background: @panel@;
    border: 2px dashed @text@; border-radius: 6px; padding: 2px 12px; }
QPushButton#detectorsButton { font-size: 17px; padding: 0 14px; min-width: 130px; }
QPushButton#detectorsButton:checked { border: 3px solid @text@; }
QLabel#machineOnline[offline="true"] { font-size: 22px; font-weight: bold; color: @text@;
    background: @panel@; border: 3px solid @text@; border-radius: 6px; padding: 4px 12px; }
QFrame#reservedPanel { background: @panel@; border: 2px dashed @border@; border-radius: 8px; }
QFrame#reservedPanel QLabel { background: transparent; border: none; }
QFrame#trendPanel { background: @panel@; border: 1px solid @border@; border-radius: 8px; }
QFrame#trendPanel QLabel { background: transparent; border: none; }
QLabel#panelTitle { font-size: 18px; font-weight: bold; color: @text_dim@; }
QLabel#panelNote { font-size: 16px; color: @text_dim@; font-style: italic; }
QLabel#commandLine { font-size: 16px; color: @text@; }
QPushButton#trendSignal, QPushButton#trendRange { font-size: 16px; padding: 0 6px;
                                                  min-width: 0px; }
QTableWidget#tagTable QHeaderView::section { font-size: 16px; }
QTableWidget#tagTable { background: @panel@; border: 1px solid @border@;
                        gridline-color: @border@; }
"""

# The embedded trend's own tool bar (ranges, pause, overlay, export) does not fit a side panel:
# the panel has its own signal and range pickers and hides these when the trend has them.
_TREND_TOOLS = ("window_buttons", "pause_button", "mode_button", "csv_button", "png_button")


def _hide_trend_tools(trend: QWidget) -> None:
    for name in _TREND_TOOLS:
        tool = getattr(trend, name, None)
        tools = tool.values() if isinstance(tool, dict) else [tool]
        for widget in tools:
            if isinstance(widget, QWidget):
                widget.hide()


def _recent(ctx: StationContext, machine: str, tag: str, since: float) -> object:
    return ctx.store.window(machine, tag, since)[1]


class QtMachineView(QWidget):
    """Level 2 view of one machine. Call :meth:`show_machine`; reads the store on frames.

    The way back is the window's navigation (tool bar, Esc); the view has no button of its own.
    """

    def __init__(
        self, ctx: StationContext, parent: QWidget | None = None, gate: QtGate | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.theme: Theme = ctx.theme
        self._machine: str | None = None
        self._birth: tuple[object, ...] | None = None
        self._rows: list[RowState] = []
        self._last_table = 0.0
        self._trend: QWidget | None = None
        self._trend_tags: list[str] = []
        self._trend_machine: str | None = None
        self._trend_tag: str | None = None
        self._trend_window = TREND_WINDOW_S
        self._state_icon = ""
        self._header_texts: tuple[str, ...] = ()
        self._widths: dict[int, int] = {}
        self._short = False  # the view is too short for the signal picker (see resizeEvent)
        self.playbooks = _playbooks()
        self.learned: MachineLearned | None = None  # what this machine's detectors learned
        self.anomaly_alerts: list[AnomalyAlert] = []  # its alerts of the last hour
        self._anomaly_request = -1
        self._anomaly_due = 0.0
        self._feedback: dict[int, str] = {}  # feedback request id → alarm id

        self._standalone = False
        app = QApplication.instance()
        if isinstance(app, QApplication) and not app.styleSheet():
            self._standalone = True  # tests: no station style sheet, bring the same look
        self._apply_style()

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        # Embedded in the station's stack, not a window: never push size hints to a window.
        outer.setSizeConstraint(QVBoxLayout.SizeConstraint.SetNoConstraint)
        outer.addWidget(self._build_header())

        body = QHBoxLayout()
        body.setContentsMargins(SPACING, SPACING, SPACING, SPACING)
        body.setSpacing(SPACING)
        outer.addLayout(body, 1)

        # The machine's explained anomaly alerts above its tags; the detector panel in the
        # tags' place while "Detectors" is pressed.
        main = QVBoxLayout()
        main.setSpacing(SPACING)
        body.addLayout(main, 1)
        self.alerts = QtAnomalyAlerts(self.theme, self)
        self.alerts.suggestion_pressed.connect(self._on_suggestion)
        self.alerts.verdict_given.connect(self._on_verdict)
        main.addWidget(self.alerts, 0)
        self.table = self._build_table()
        main.addWidget(self.table, 1)
        self.detectors = QtDetectorPanel(self.theme, self)
        self.detectors.hide()
        main.addWidget(self.detectors, 1)

        side_box = QWidget(self)
        side_box.setFixedWidth(400)  # widened in resizeEvent where the window has room
        side = QVBoxLayout(side_box)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(SPACING)
        body.addWidget(side_box, 0)
        self.side_box = side_box

        # One larger trend with a signal picker and a range picker that fit the panel.
        self.trend_panel = QFrame(self)
        self.trend_panel.setObjectName("trendPanel")
        # The trend takes what the command buttons leave (never the other way round): its own
        # minimum must not squeeze the buttons together; too little left, it hides (_fit_side).
        self.trend_panel.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        trend_layout = QVBoxLayout(self.trend_panel)
        trend_layout.setContentsMargins(SPACING, 8, SPACING, SPACING)
        trend_layout.setSpacing(6)
        self.signal_bar = QHBoxLayout()
        self.signal_bar.setSpacing(6)
        self.signal_group = QButtonGroup(self)
        self.signal_group.setExclusive(True)
        self.signal_buttons: dict[str, QPushButton] = {}
        range_bar = QHBoxLayout()
        range_bar.setSpacing(6)
        # The title shares the range row: every line of height goes to the plot.
        title = QLabel("Trends", self.trend_panel)
        title.setObjectName("panelTitle")
        range_bar.addWidget(title, 0)
        self.trend_title = title  # hidden in the narrowest panel: the range buttons need it
        self.range_group = QButtonGroup(self)
        self.range_group.setExclusive(True)
        self.range_buttons: dict[float, QPushButton] = {}
        for text, seconds in TREND_WINDOWS:
            button = QPushButton(text, self.trend_panel)
            button.setObjectName("trendRange")
            button.setCheckable(True)
            button.setChecked(seconds == self._trend_window)
            button.setMinimumHeight(TOUCH)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _=False, s=seconds: self.set_trend_window(s))
            self.range_group.addButton(button)
            self.range_buttons[seconds] = button
            range_bar.addWidget(button)
        trend_layout.addLayout(range_bar)
        trend_layout.addLayout(self.signal_bar)
        self._trend_layout = trend_layout
        self.trend_placeholder = QLabel("Trends not available yet", self.trend_panel)
        self.trend_placeholder.setObjectName("panelNote")
        self.trend_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.trend_placeholder.setMinimumHeight(180)
        trend_layout.addWidget(self.trend_placeholder, 1)
        side.addWidget(self.trend_panel, 1)

        # The command gate's panel (ui.gate): big buttons, why one is disabled, pending commands,
        # control authority. Driven by the window's gate; without one it lists the commands.
        self.gate = gate
        # The panel takes the height its buttons need (never scrolled); the trend the rest. This
        # machine's alarms are on the alarm row above every view (and F2), not repeated here.
        self.commands_panel = QtCommandPanel(self.theme, self)
        side.addWidget(self.commands_panel, 0, Qt.AlignmentFlag.AlignTop)
        self.commands_panel.installEventFilter(self)  # its buttons change: fit the side again
        if gate is not None:
            gate.attach(self.commands_panel, lambda: self._machine)

        ctx.frame.connect(self._on_frame)
        ctx.event.connect(self._on_event)

    # -- construction -----------------------------------------------------------------------

    def _apply_style(self) -> None:
        qss = LOCAL_QSS
        if self._standalone:
            qss = style_sheet(self.theme) + qss
        for name in ("text", "text_dim", "panel", "border", "fault", "banner_text"):
            qss = qss.replace(f"@{name}@", str(getattr(self.theme, name)))
        self.setStyleSheet(qss)

    def _follow_theme(self) -> None:
        """Take up the station's theme if it changed (Ctrl+T) since this view last looked."""
        if self.ctx.theme is self.theme:
            return
        self.theme = self.ctx.theme
        self.header.theme = self.theme
        self._apply_style()
        self.name_label.setStyleSheet("")
        self._header_texts = ()
        self._state_icon = ""
        self.header.update()
        self.table.viewport().update()
        self._refresh(time.time())

    def _build_header(self) -> QWidget:
        header = _Header(self.theme, self)
        self.header = header
        layout = QHBoxLayout(header)
        layout.setContentsMargins(2 * SPACING, SPACING, 2 * SPACING, SPACING)
        layout.setSpacing(2 * SPACING)

        names = QVBoxLayout()
        names.setSpacing(2)
        self.name_label = QLabel("", header)
        self.name_label.setObjectName("machineName")
        self.where_label = QLabel("", header)
        self.where_label.setObjectName("machineWhere")
        names.addWidget(self.name_label)
        names.addWidget(self.where_label)
        layout.addLayout(names, 1)

        self.state_icon = QLabel(header)
        self.state_icon.setFixedSize(40, 40)
        layout.addWidget(self.state_icon, 0, Qt.AlignmentFlag.AlignVCenter)
        self.state_label = QLabel("", header)
        self.state_label.setObjectName("machineState")
        layout.addWidget(self.state_label, 0, Qt.AlignmentFlag.AlignVCenter)
        self.online_label = QLabel("", header)
        self.online_label.setObjectName("machineOnline")
        for label in (self.state_label, self.online_label):
            label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
            label.setMinimumHeight(TOUCH)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.online_label, 0, Qt.AlignmentFlag.AlignVCenter)
        self.learning_label = QLabel("", header)
        self.learning_label.setObjectName("machineLearning")
        self.learning_label.setMinimumHeight(TOUCH)
        self.learning_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.learning_label.setToolTip(
            "The anomaly detectors are still learning this mode's normal: no alerts until then."
        )
        self.learning_label.hide()
        layout.addWidget(self.learning_label, 0, Qt.AlignmentFlag.AlignVCenter)
        self.detectors_button = QPushButton("Detectors", header)
        self.detectors_button.setObjectName("detectorsButton")
        self.detectors_button.setCheckable(True)
        self.detectors_button.setMinimumHeight(TOUCH)
        self.detectors_button.setToolTip("What the anomaly detectors learned (the tags come back)")
        self.detectors_button.toggled.connect(self.show_detectors)
        layout.addWidget(self.detectors_button, 0, Qt.AlignmentFlag.AlignVCenter)
        return header

    def _build_table(self) -> QTableWidget:
        table = _TagTable(self)
        table.setObjectName("tagTable")
        table.setHorizontalHeaderLabels(list(COLUMNS))
        table.setItemDelegate(_RowDelegate(self))
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        vh = table.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(ROW_HEIGHT)
        hh = table.horizontalHeader()
        hh.setMinimumHeight(36)
        hh.setHighlightSections(False)
        hh.setSectionResizeMode(COL_TAG, QHeaderView.ResizeMode.Stretch)
        for column in LAYOUTS[0][1]:
            hh.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
        self._set_widths(LAYOUTS[1][1], table)
        table.cellClicked.connect(lambda row, _column: self._open_row(row))
        return table

    def _set_widths(self, widths: dict[int, int], table: QTableWidget | None = None) -> None:
        if widths == self._widths:
            return
        self._widths = dict(widths)
        for column, width in widths.items():
            (table or self.table).setColumnWidth(column, width)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        """Wider columns (and a wider trend panel) where the window has the room."""
        super().resizeEvent(event)
        widths, side_w = next((w, sw) for at, w, sw in reversed(LAYOUTS) if self.width() >= at)
        self._set_widths(widths)
        # A short panel (1280×800) keeps the command buttons whole and the plot readable by
        # leaving out the signal picker: the table's rows open any tag's trend.
        short = self.height() < SHORT_VIEW_H
        if short != self._short:
            self._short = short
            for button in self.signal_buttons.values():
                button.setVisible(not short)
        if self.side_box.width() != side_w:
            self.side_box.setFixedWidth(side_w)
            self.trend_title.setVisible(side_w >= 350)
            layout = self.layout()
            if layout is not None:
                layout.activate()  # now, so the table's columns are right on the first paint
        self._fit_side()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        """The command panel's layout changed (other buttons, a pending line): fit it again."""
        if watched is self.commands_panel and event.type() == QEvent.Type.LayoutRequest:
            QTimer.singleShot(0, self, self._fit_side)
        return super().eventFilter(watched, event)

    def _fit_side(self) -> None:
        """The command buttons stay whole: too short for both, the side panel drops the trend.

        A bar above the views (the voice read-back, a banner) can take the height the trend
        and the buttons shared at 1280×800; the buttons matter more (an operator is about to
        act), and the tag table still opens any tag's trend.
        """
        need = self.commands_panel.sizeHint().height() + SPACING + TREND_MIN_H
        fits = self.side_box.height() >= need
        if self.trend_panel.isVisibleTo(self) != fits:
            self.trend_panel.setVisible(fits)

    # -- public API -------------------------------------------------------------------------

    @property
    def current_machine(self) -> str | None:
        """The machine shown, or ``None`` before :meth:`show_machine`."""
        return self._machine

    def show_machine(self, machine_id: str) -> None:
        """Show ``machine_id``: rebuild header, rows, commands and trends, then fill them now."""
        if machine_id != self._machine:
            self.learned, self.anomaly_alerts = None, []
            self.alerts.set_cards([])
            self.detectors.set_status(None, [])
            self.learning_label.hide()
        self._machine = machine_id
        self._birth = None
        self._anomaly_due = 0.0
        self._sync_birth()
        self._refresh(time.time())

    def show_detectors(self, on: bool) -> None:
        """The detector panel in the tag table's place (``on``), or the tags again."""
        if self.detectors_button.isChecked() != on:
            self.detectors_button.setChecked(on)
        self.detectors.setVisible(on)
        self.table.setVisible(not on)
        self._anomaly_due = 0.0

    def ask_detectors(self) -> None:
        """Ask the hub now what this machine's detectors know (the answer fills the view)."""
        if self._machine is not None:
            self._anomaly_request = self.ctx.station.query_anomaly_status(self._machine)
            self._anomaly_due = time.monotonic() + ANOMALY_S

    def learning_text(self) -> str:
        """The header's learning state as shown ("" when hidden)."""
        return self.learning_label.text() if not self.learning_label.isHidden() else ""

    # -- anomaly alerts ---------------------------------------------------------------------

    def _on_anomaly(self, event: AnomalyStatusArrived) -> None:
        mine = [m for m in event.machines if m.machine == self._machine]
        self.learned = mine[0] if mine else None
        self.anomaly_alerts = [a for a in event.alerts if a.machine == self._machine]
        snap = self._snapshot()
        self.detectors.set_status(self.learned, snap.tags if snap is not None else [])
        badge = learning_badge(self.learned)
        self._set_text(self.learning_label, badge)
        self.learning_label.setVisible(bool(badge))
        self._show_cards()

    def _show_cards(self) -> None:
        snap = self._snapshot()
        if snap is None or self._machine is None:
            self.alerts.set_cards([])
            return
        machine = self._machine

        def current(tag: str) -> Scalar | None:
            r = self.ctx.store.reading(machine, tag)
            ok = r is not None and severity_of(r.quality) == 0
            return r.value if ok and r is not None and not isinstance(r.value, list) else None

        now_ns = time.time_ns()
        known = self.ctx.station.alarms.all()
        # Shown while its alarm is active and not set aside (shelved, suppressed, removed).
        live = {
            aid
            for aid, a in known.items()
            if a.active and a.shelf is None and a.removed is None and not a.suppressed
        }
        cards = [
            alert_card(
                a,
                machine_name=snap.info.name or snap.info.id,
                kind=snap.info.kind,
                tags=snap.tags,
                commands=snap.commands,
                current=current,
                playbooks=self.playbooks,
                now_ns=now_ns,
            )
            for a in self.anomaly_alerts
            # Active by the detector and, once the station has it, by the alarm too.
            if a.active and (a.alarm in live or a.alarm not in known)
        ]
        self.alerts.set_cards(cards)

    def _on_suggestion(self, alarm: str, suggestion: Suggestion) -> None:
        if self.gate is None or self._machine is None:
            return
        # The argument sheet's title says "suggested" (a note would squeeze its number pad on
        # an 800-px panel); a command without arguments goes straight to the confirmation,
        # which also says why, from the playbook.
        snap = self._snapshot()
        spec = (
            next((c for c in snap.commands if c.name == suggestion.command), None) if snap else None
        )
        note = ""
        if spec is not None and not spec.args:
            card = self.alerts.cards.get(alarm)
            why = card.card.explanation if card is not None and card.card is not None else ""
            note = f"Suggested by the co-pilot. {why}".strip()
        self.gate.suggest(self._machine, suggestion.command, dict(suggestion.args), note=note)

    def _on_verdict(self, alarm: str, verdict: str) -> None:
        request = self.ctx.station.anomaly_feedback(alarm, verdict)  # type: ignore[arg-type]
        self._feedback[request] = alarm

    def row_texts(self) -> dict[str, dict[str, str]]:
        """``tag → {"Tag", "Name", "Value", "Quality", "Last update" → text}`` as shown."""
        return {row.spec.name: row.texts() for row in self._rows}

    def verdicts(self) -> dict[str, Verdict]:
        """``tag → verdict`` of every numeric tag with a normal range or limits, as shown."""
        return {
            row.spec.name: row.verdict
            for row in self._rows
            if row.number is not None and (row.spec.normal or row.spec.limits)
        }

    def header_state_text(self) -> str:
        """The header's state and online/offline texts, e.g. ``RUNNING · Online``."""
        return f"{self.state_label.text()} · {self.online_label.text()}"

    def embedded_trend(self) -> QWidget | None:
        """The trend in the side panel (``ui.trend.QtTrend``), once there is one."""
        return self._trend

    def trend_tag(self) -> str | None:
        """The key tag the embedded trend shows."""
        return self._trend_tag

    def set_trend_tag(self, tag: str) -> None:
        """Show ``tag`` (one of the key tags) in the embedded trend."""
        button = self.signal_buttons.get(tag)
        if button is not None:
            button.setChecked(True)
        self._trend_tag = tag
        self._point_trend()

    def set_trend_window(self, seconds: float) -> None:
        """The embedded trend's time window."""
        self._trend_window = seconds
        button = self.range_buttons.get(seconds)
        if button is not None:
            button.setChecked(True)
        if self._trend is not None:
            setter = getattr(self._trend, "set_window", None)
            if callable(setter):
                setter(seconds)

    # -- updates ----------------------------------------------------------------------------

    def _snapshot(self) -> MachineSnapshot | None:
        for snap in self.ctx.store.machines():
            if snap.info.id == self._machine:
                return snap
        return None

    def _sync_birth(self) -> MachineSnapshot | None:
        """Rebuild rows/commands/trends if the machine's BIRTH differs from what is shown."""
        snap = self._snapshot()
        birth = (snap.info, snap.tags, snap.commands) if snap else None
        if birth == self._birth and self._rows:
            return snap
        self._birth = birth
        tags = snap.tags if snap else []
        self._rows = [RowState(spec=t) for t in tags]
        self.table.clearSelection()
        self.table.setRowCount(len(tags))
        for r, spec in enumerate(tags):
            for c in range(len(COLUMNS)):
                item = QTableWidgetItem()
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                if c == COL_TAG:
                    item.setText(tag_label(spec))
                    item.setToolTip(f"{spec.name} — {spec.description}".strip(" —"))
                self.table.setItem(r, c, item)
        if snap is None:
            self.name_label.setText(self._machine or "")
            self.where_label.setText("Unknown machine")
        else:
            info = snap.info
            self.name_label.setText(info.name or info.id)
            self.where_label.setText(" · ".join(p for p in (info.kind, info.line, info.area) if p))
        self._sync_commands(snap)
        self._sync_trend(tags)
        self._last_table = 0.0
        return snap

    def _sync_commands(self, snap: MachineSnapshot | None) -> None:
        """The command panel: the gate's when there is one, else the BIRTH's commands, locked."""
        if self.gate is not None:
            self.gate.refresh_panel(self.commands_panel)
        elif snap is not None:
            name = snap.info.name or snap.info.id
            self.commands_panel.set_buttons(
                command_buttons(
                    name, snap.commands, logged_in=False, grants={}, online=snap.online, checks={}
                )
            )

    def _sync_trend(self, tags: list[TagSpec]) -> None:
        numeric = [t for t in tags if t.type in ("float", "int")]
        keys = [t for t in numeric if t.key] or numeric[:3]
        names = [t.name for t in keys]
        if self._machine is None or not keys:
            return
        if names != self._trend_tags or self._trend_machine != self._machine:
            self._build_signal_picker(keys)
            self._trend_tags = names
            self._trend_machine = self._machine
            self._trend_tag = names[0]
            self.signal_buttons[names[0]].setChecked(True)
        if self._trend is None:
            self._trend = self._make_trend()
            if self._trend is None:
                return
            self.trend_placeholder.hide()
            self._trend_layout.addWidget(self._trend, 1)
        self._point_trend()

    def _build_signal_picker(self, keys: list[TagSpec]) -> None:
        for button in self.signal_buttons.values():
            self.signal_group.removeButton(button)
            button.deleteLater()
        self.signal_buttons = {}
        for spec in keys:
            button = QPushButton(self.trend_panel)
            button.setObjectName("trendSignal")
            button.setCheckable(True)
            button.setMinimumHeight(TOUCH)
            button.setMinimumWidth(TOUCH)
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            label = short_tag_label(spec)
            button.setProperty("fullText", label)
            button.setText(label)
            button.setToolTip(f"{tag_label(spec)} ({spec.name})")
            button.clicked.connect(lambda _=False, tag=spec.name: self.set_trend_tag(tag))
            self.signal_group.addButton(button)
            self.signal_buttons[spec.name] = button
            button.setVisible(not self._short)
            self.signal_bar.addWidget(button, 1)
        self._elide_signal_buttons()

    def _elide_signal_buttons(self) -> None:
        for button in self.signal_buttons.values():
            full = str(button.property("fullText") or "")
            room = max(20, button.width() - 18)
            # Measured in bold: the checked button is bold (style sheet) and must not clip.
            bold = QFont(button.font())
            bold.setBold(True)
            text = QFontMetrics(bold).elidedText(full, Qt.TextElideMode.ElideRight, room)
            if button.text() != text:
                button.setText(text)

    def _point_trend(self) -> None:
        """Point the embedded trend at the chosen key tag and window."""
        if self._trend is None or self._machine is None or self._trend_tag is None:
            return
        try:
            show = self._trend.show_signals  # type: ignore[attr-defined]
            show(self._machine, [self._trend_tag])
            setter = getattr(self._trend, "set_window", None)
            if callable(setter):
                setter(self._trend_window)
        except Exception:  # a broken trend must not take the machine view down
            log.exception("embedded trend failed")
            self._trend.hide()
            self.trend_placeholder.setText("Trends unavailable (error)")
            self.trend_placeholder.show()

    def _make_trend(self) -> QWidget | None:
        try:
            from ui.trend import QtTrend  # lazy: the machine view works without it
        except ImportError:
            return None
        try:
            trend = QtTrend(self.ctx)
        except Exception:
            log.exception("could not build the embedded trend")
            self.trend_placeholder.setText("Trends unavailable (error)")
            return None
        trend.setParent(self.trend_panel)
        trend.setMinimumHeight(120)
        _hide_trend_tools(trend)
        return trend

    def _open_row(self, row: int) -> None:
        if self._machine is not None and 0 <= row < len(self._rows):
            self.ctx.open_trend.emit(self._machine, self._rows[row].spec.name)

    def _on_event(self, event: object) -> None:
        if self._machine is None:
            return
        match event:
            case AnomalyStatusArrived() if event.request_id == self._anomaly_request:
                self._on_anomaly(event)
                return
            case AnomalyStatusArrived():
                return
            case GateAnswered() if event.request_id in self._feedback:
                alarm = self._feedback.pop(event.request_id)
                self.alerts.set_answer(alarm, event.ok, event.message)
                if event.ok:
                    self._anomaly_due = 0.0  # the verdict is in the hub's alert: show it
                return
            case AlarmsChanged():
                prefix = f"{self._machine}/"
                if any(i.startswith(prefix) and "/anomaly:" in i for i in event.ids):
                    self._anomaly_due = 0.0
                return
            case GateAnswered():
                return
        if isinstance(event, MachinesChanged) and self._machine not in event.machine_ids:
            return
        self._sync_birth()
        self._last_table = 0.0  # online/offline may have changed: show it on the next frame

    def _on_frame(self, now: float) -> None:
        if self._machine is None or not self.isVisible():
            return
        self._follow_theme()
        self._elide_signal_buttons()
        if time.monotonic() >= self._anomaly_due:
            self.ask_detectors()
        if now - self._last_table < 1.0 / TABLE_HZ:
            return
        self._refresh(now)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt API)
        """Fill the view at once when it appears (no stale frame from when it was hidden)."""
        super().showEvent(event)
        self._follow_theme()
        if self._machine is not None:
            self._refresh(time.time())

    def _refresh(self, now: float) -> None:
        self._last_table = now
        if self._machine is None:
            return
        snap = self._snapshot()
        readings = {r.tag: r for r in self.ctx.store.readings(self._machine, now)}
        state_reading = readings.get("state")
        state = (
            state_reading.value
            if state_reading is not None and isinstance(state_reading.value, str)
            else None
        )
        changed = False
        for index, old in enumerate(self._rows):
            reading = readings.get(old.spec.name)
            if reading is None:
                continue
            recent = partial(_recent, self.ctx, self._machine, old.spec.name, now - 300.0)
            new = row_state(reading, state, recent)  # type: ignore[arg-type]
            if new != old:
                self._rows[index] = new
                changed = True
                texts = new.texts()
                for column, key in ((COL_VALUE, "Value"), (COL_QUALITY, "Quality")):
                    item = self.table.item(index, column)
                    if item is not None:
                        item.setText(texts[key])
        if changed:
            self.table.viewport().update()
        self._refresh_header(snap, state_reading)

    def _refresh_header(self, snap: MachineSnapshot | None, state: Reading | None) -> None:
        online = bool(snap and snap.online)
        last_known = False  # the state shown is the last known one, not current data
        if not online:
            name = "offline"
        elif state is not None and isinstance(state.value, str):
            name = state.value
            last_known = not state.good
        else:
            name = "unknown"
        look = state_look(name)
        icon_key = f"{name}{'~' if last_known else ''}"
        if icon_key != self._state_icon:
            self._state_icon = icon_key
            self.state_icon.setPixmap(self._icon(name, 0.4 if last_known else 1.0))
        label = f"{look.label}?" if last_known else look.label
        self._set_text(self.state_label, label)
        self.state_label.setToolTip("Last known state: the data is stale" if last_known else "")
        fault = "true" if name == "fault" and not last_known else "false"
        stale = "true" if last_known else "false"
        for prop, value in (("fault", fault), ("stale", stale)):
            if self.state_label.property(prop) != value:
                self.state_label.setProperty(prop, value)
                self.state_label.style().polish(self.state_label)
        if online or snap is None:
            online_text = "Online" if online else "Unknown"
            if last_known and state is not None:
                reason = reason_of(state.quality).replace("_", " ")
                since = f" since {_hms(state.stale_since)}" if state.stale_since else ""
                online_text = f"Data {reason or 'uncertain'}{since}"
        else:
            online_text = f"Offline since {_hms(snap.since)}"
        self._set_text(self.online_label, online_text)
        offline = "false" if online else "true"
        if self.online_label.property("offline") != offline:
            self.online_label.setProperty("offline", offline)
            self.online_label.style().polish(self.online_label)
        name_color = self.theme.text_dim if not online else self.theme.text
        sheet = f"color: {name_color};"
        if self.name_label.styleSheet() != sheet:
            self.name_label.setStyleSheet(sheet)
        if self.header.offline != (not online):
            self.header.offline = not online
            self.header.update()
        texts = (self.state_label.text(), self.online_label.text(), fault, stale, offline)
        if texts != self._header_texts:  # re-lay the header out for the new texts and fonts
            self._header_texts = texts
            for label in (self.state_label, self.online_label):
                label.ensurePolished()  # the badge's font, border and padding (QSS) first
                text_w = label.fontMetrics().horizontalAdvance(label.text())
                label.setMinimumWidth(text_w + 40)
                label.updateGeometry()
            layout = self.header.layout()
            if layout is not None:
                layout.invalidate()
                layout.activate()

    @staticmethod
    def _set_text(label: QLabel, text: str) -> None:
        if label.text() != text:
            label.setText(text)

    def _icon(self, state: str, opacity: float = 1.0) -> QPixmap:
        ratio = self.devicePixelRatioF() or 1.0
        size = 40
        pixmap = QPixmap(int(size * ratio), int(size * ratio))
        pixmap.fill(Qt.GlobalColor.transparent)
        renderer = QSvgRenderer(str(icon_path(state)))
        painter = QPainter(pixmap)
        painter.setOpacity(opacity)
        renderer.render(painter)
        painter.end()
        pixmap.setDevicePixelRatio(ratio)
        return pixmap


__all__ = ["COLUMNS", "QtMachineView", "command_line", "format_value", "row_state"]
