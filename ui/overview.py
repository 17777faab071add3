"""Level 1 plant overview: one custom-painted tile per machine, grouped by line and area.

ISA-101 style: a normal tile is entirely grey; colour appears only for something abnormal and
always comes with a shape (state icon, ▲/▼ arrows beside a value, hatching for bad data).

Rendering discipline: nothing is done per message. On each ``ctx.frame`` tick, and only while
the overview is visible, a round-robin slice of tiles re-reads the store so that every tile
refreshes its values at ~4 Hz and its sparkline at ~2 Hz (sparklines of tiles scrolled out of
view are refreshed lazily when they are painted). A tile repaints only when what it shows
changed. Tiles are re-ordered (attention first) at most once a second.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFocusEvent,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QLabel, QScrollArea, QWidget

from copilot.protocol import Quality, TagSpec, reason_of
from copilot.station import MachinesChanged, MachineSnapshot, StationStore
from ui.context import StationContext
from ui.theme import SPACING, TOUCH, Theme, hatch, icon_path, quality_look, value_font

__all__ = ["QtMachineTile", "QtOverview", "format_value"]

STATES = ("running", "idle", "setup", "fault", "maintenance")

VALUE_HZ = 4.0  # tile values
SPARK_HZ = 1.0  # sparklines (one 2-px bucket of the 3-minute line is ~1.4 s)
PASS_HZ = 10.0  # refresh passes: tiles repainted together, not one paint pass per frame tick
ORDER_S = 1.0  # attention re-ordering
SPARK_WINDOW_S = 180.0

TILE_MIN_W = 300
TILE_MAX_W = 340
MAX_KEYS = 3

# Tile geometry (px). Key rows are touch targets, so at least TOUCH tall.
PAD = 9
NAME_H = 28
STATE_H = 30
ROW_H = max(TOUCH, 50)
CAPTION_H = 24  # sparkline caption, or the "No data since" banner when the data is stale
SPARK_H = 30
TILE_H = PAD + NAME_H + STATE_H + 6 + MAX_KEYS * ROW_H + CAPTION_H + SPARK_H + PAD
TITLE_H = 32

# Attention ranks (lower comes first).
RANK_FAULT, RANK_STALE, RANK_ABNORMAL, RANK_NORMAL = range(4)

_UNIT_TOKENS = {"c", "rpm", "bar", "pct", "mm", "s", "m", "min", "a", "kw", "kwh", "m3", "v"}


def format_value(value: float, unit: str = "") -> str:
    """A number as an operator reads it: ~3 significant digits, never ``-0.0``, with its unit."""
    if not math.isfinite(value):
        text = "—"
    elif value == 0:
        text = "0"
    else:
        a = abs(value)
        decimals = 0 if a >= 100 else 1 if a >= 10 else 2
        text = f"{value:.{decimals}f}"
        if float(text) == 0:
            text = f"{0.0:.{decimals}f}"
    return f"{text} {unit}" if unit else text


def _pretty_tag(name: str) -> str:
    """``spindle_temp_c`` → ``spindle temp``; ``items_per_min`` stays ``items per min``."""
    parts = name.split("_")
    while len(parts) > 1 and parts[-1] in _UNIT_TOKENS and parts[-2] != "per":
        parts.pop()
    return " ".join(parts)


def _section_title(line: str, area: str) -> str:
    line_title = line.replace("-", " ").replace("_", " ").strip().capitalize() or "Plant"
    return f"{line_title} · {area}" if area else line_title


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


@dataclass(frozen=True)
class _Colors:
    """A theme's colours as QColors, built once per theme (no per-paint allocation)."""

    panel: QColor
    panel_alt: QColor
    border: QColor
    text: QColor
    text_dim: QColor
    normal_band: QColor
    bar: QColor
    focus: QColor
    fault: QColor
    warning: QColor
    uncertain: QColor
    stale: QColor
    track: QColor


_COLORS: dict[str, _Colors] = {}


def _colors(theme: Theme) -> _Colors:
    found = _COLORS.get(theme.name)
    if found is None:
        track = QColor(theme.panel_alt)
        found = _Colors(
            panel=theme.color("panel"),
            panel_alt=theme.color("panel_alt"),
            border=theme.color("border"),
            text=theme.color("text"),
            text_dim=theme.color("text_dim"),
            normal_band=theme.color("normal_band").darker(115 if theme.name == "light" else 90),
            bar=theme.color("bar"),
            focus=theme.color("focus"),
            fault=theme.color("fault"),
            warning=theme.color("warning"),
            uncertain=theme.color("uncertain"),
            stale=theme.color("stale"),
            track=track,
        )
        _COLORS[theme.name] = found
    return found


_ICONS: dict[tuple[str, str, int, float], QPixmap] = {}


def _state_icon(state: str, theme: Theme, size: int, dpr: float) -> QPixmap:
    """The state's SVG as a pixmap; grey icons are tinted to the theme so they read in dark."""
    key = (state, theme.name, size, dpr)
    pixmap = _ICONS.get(key)
    if pixmap is None:
        px = max(1, round(size * dpr))
        pixmap = QPixmap(px, px)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        QSvgRenderer(str(icon_path(state))).render(painter, QRectF(0, 0, px, px))
        if state != "fault":  # the fault icon keeps its red and white "!"
            tint = theme.stale if state in ("offline", "unknown") else theme.text_dim
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
            painter.fillRect(0, 0, px, px, QColor(tint))
        painter.end()
        pixmap.setDevicePixelRatio(dpr)
        _ICONS[key] = pixmap
    return pixmap


def _font(px: int, bold: bool = False) -> QFont:
    return value_font(px, bold)


@dataclass
class _Row:
    """One key tag as drawn."""

    tag: str
    label: str
    unit: str
    text: str = "—"
    value: float = math.nan
    severity: int = 0  # 0 normal, 1 warning (outside normal / hi-lo), 2 fault (hihi/lolo)
    direction: int = 0  # +1 above, -1 below
    good: bool = True
    track: tuple[float, float] | None = None
    band: tuple[float, float] | None = None

    def signature(self) -> tuple[object, ...]:
        return (self.text, self.severity, self.direction, self.good, self._pos())

    def _pos(self) -> int:
        if self.track is None or not math.isfinite(self.value):
            return -1
        lo, hi = self.track
        return round(1000 * (self.value - lo) / (hi - lo)) if hi > lo else -1


@dataclass
class _Geometry:
    name: QRectF = field(default_factory=QRectF)
    alarms: QRectF = field(default_factory=QRectF)
    state: QRectF = field(default_factory=QRectF)
    rows: list[QRectF] = field(default_factory=list)
    spark: QRectF = field(default_factory=QRectF)
    caption: QRectF = field(default_factory=QRectF)


def _track_of(spec: TagSpec) -> tuple[float, float] | None:
    if spec.eng_range is not None and spec.eng_range.hi > spec.eng_range.lo:
        return (spec.eng_range.lo, spec.eng_range.hi)
    if spec.normal is not None and spec.normal.hi > spec.normal.lo:
        span = spec.normal.hi - spec.normal.lo
        return (spec.normal.lo - span / 2, spec.normal.hi + span / 2)
    return None


def _judge(spec: TagSpec, value: float, running: bool = True) -> tuple[int, int]:
    """(severity, direction) of a value against its normal range and alarm limits.

    The normal range is the running band: a machine that is not running (idle, setup,
    maintenance) is expected to sit below it (0 rpm, cool), so only its high side counts then.
    Alarm limits always count.
    """
    severity, direction = 0, 0
    normal, limits = spec.normal, spec.limits
    if normal is not None:
        if value > normal.hi:
            severity, direction = 1, 1
        elif value < normal.lo and running:
            severity, direction = 1, -1
    if limits is not None:
        if limits.hihi is not None and value >= limits.hihi:
            return 2, 1
        if limits.lolo is not None and value <= limits.lolo:
            return 2, -1
        if limits.hi is not None and value >= limits.hi:
            severity, direction = 1, 1
        elif limits.lo is not None and value <= limits.lo:
            severity, direction = 1, -1
    return severity, direction


class QtMachineTile(QWidget):
    """One machine, custom-painted: name, state, 2–3 key tags as bars, a sparkline, data quality.

    Click/tap opens the machine (``ctx.open_machine``); a click on a key-value row opens that
    tag's trend (``ctx.open_trend``). Enter or Space opens the machine when the tile has focus.
    """

    def __init__(
        self, ctx: StationContext, snapshot: MachineSnapshot, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setObjectName("tile")
        self.ctx = ctx
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(TILE_MIN_W, TILE_H)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._geo = _Geometry()
        self._press: QPointF | None = None
        self._alarm: tuple[int, str | None] | None = None
        self._signature: tuple[object, ...] = ()
        self._spark_path = QPainterPath()
        self._spark_band: QRectF | None = None
        self._spark_dirty = True
        self.spark_at = 0.0  # when the sparkline was last rebuilt
        self._spark_label = ""
        self.set_snapshot(snapshot)

    # -- data --------------------------------------------------------------------------------

    @property
    def machine_id(self) -> str:
        """The machine's id."""
        return self.snapshot.info.id

    def set_snapshot(self, snapshot: MachineSnapshot) -> None:
        """New metadata or session state (BIRTH, DEATH): keeps the tile, resets its rows."""
        self.snapshot = snapshot
        keys = [t for t in snapshot.tags if t.key and t.name != "state"][:MAX_KEYS]
        self._specs = keys
        self._rows = [
            _Row(
                tag=t.name,
                label=_pretty_tag(t.name),
                unit=t.unit,
                track=_track_of(t),
                band=(t.normal.lo, t.normal.hi) if t.normal is not None else None,
            )
            for t in keys
        ]
        self._state = "unknown"
        self._stale = False
        self._stale_text = ""
        self._quality = 0
        self._rank = RANK_NORMAL
        self._signature = ()
        self._spark_dirty = True
        self.spark_at = 0.0  # when the sparkline was last rebuilt
        self._spark_label = f"{_pretty_tag(keys[0].name)} · last 3 min" if keys else ""
        self.setAccessibleName(snapshot.info.name)

    def refresh(self, store: StationStore, now: float) -> bool:
        """Re-read the machine's state and key values; repaint only if something changed."""
        mid = self.snapshot.info.id
        state_reading = store.reading(mid, "state", now)
        online = self.snapshot.online
        if not online:
            state = "offline"
        elif state_reading is None or state_reading.value is None:
            state = "unknown"
        else:
            state = str(state_reading.value)
        worst = 0 if online else int(Quality.BAD_STALE)
        stale_since: float | None = None if online else self.snapshot.since
        bad_tags: list[str] = []
        abnormal = False
        for row, spec in zip(self._rows, self._specs, strict=True):
            reading = store.reading(mid, spec.name, now)
            if reading is None:
                continue
            value = reading.value
            row.good = reading.good
            if not reading.good:
                if reading.quality > worst:
                    worst = reading.quality
                if reading.stale_since is not None:
                    if stale_since is None or reading.stale_since < stale_since:
                        stale_since = reading.stale_since
                else:
                    bad_tags.append(row.label)
            if isinstance(value, bool) or value is None or isinstance(value, str):
                row.value = math.nan
                row.text = "—" if value is None else str(value)
                row.severity, row.direction = 0, 0
                continue
            number = float(value)
            row.value = number
            row.text = format_value(number, row.unit)
            shown = float(format_value(number)) if math.isfinite(number) else number
            row.severity, row.direction = _judge(spec, shown, state == "running")  # as drawn
            abnormal = abnormal or row.severity > 0
        stale = not online or worst != 0 or state == "unknown"
        if stale:
            if stale_since is not None:
                stale_text = f"No data since {_clock(stale_since)}"
            elif bad_tags:
                reason = reason_of(worst).replace("_", " ") or "bad"
                stale_text = f"Bad: {', '.join(bad_tags)} ({reason})"
            else:
                stale_text = "No data yet"
        else:
            stale_text = ""
        if state == "fault":
            rank = RANK_FAULT
        elif stale:
            rank = RANK_STALE
        elif abnormal:
            rank = RANK_ABNORMAL
        else:
            rank = RANK_NORMAL
        self._state, self._stale, self._stale_text = state, stale, stale_text
        self._quality, self._rank = worst, rank
        signature = (state, stale, stale_text, worst, *(r.signature() for r in self._rows))
        if signature == self._signature:
            return False
        if state != (self._signature[0] if self._signature else None):
            self.setAccessibleName(f"{self.snapshot.info.name}, {state}")
        self._signature = signature
        self.update()
        return True

    def refresh_spark(self, store: StationStore, now: float) -> None:
        """Rebuild the sparkline of the first key tag (only for tiles on screen)."""
        self.spark_at = now
        if self.visibleRegion().isEmpty():
            self._spark_dirty = True
            return
        self._build_spark(store, now)
        self.update(self._geo.spark.toAlignedRect())

    def _build_spark(self, store: StationStore, now: float) -> None:
        self._spark_dirty = False
        path = QPainterPath()
        self._spark_path, self._spark_band = path, None
        if not self._specs:
            return
        spec = self._specs[0]
        t, v = store.window(self.snapshot.info.id, spec.name, now - SPARK_WINDOW_S)
        rect = self._geo.spark
        w, h = rect.width(), rect.height()
        if len(t) < 2 or w < 4 or h < 4:
            return
        buckets = max(2, int(w // 2))
        idx = np.clip(
            ((t - (now - SPARK_WINDOW_S)) / SPARK_WINDOW_S * buckets).astype(np.int64),
            0,
            buckets - 1,
        )
        counts = np.bincount(idx, minlength=buckets)
        sums = np.bincount(idx, weights=v, minlength=buckets)  # a NaN in a bucket → a gap
        have = counts > 0
        means = np.full(buckets, np.nan)
        means[have] = sums[have] / counts[have]
        finite = means[np.isfinite(means)]
        if finite.size == 0:
            return
        lo, hi = float(finite.min()), float(finite.max())
        if spec.normal is not None:
            lo, hi = min(lo, spec.normal.lo), max(hi, spec.normal.hi)
        track = _track_of(spec)
        min_span = (track[1] - track[0]) * 0.05 if track else 1e-9
        if hi - lo < min_span:
            mid = (hi + lo) / 2
            lo, hi = mid - min_span / 2, mid + min_span / 2
        margin = (hi - lo) * 0.08
        lo, hi = lo - margin, hi + margin

        def y_of(x: float) -> float:
            return rect.bottom() - (x - lo) / (hi - lo) * h

        if spec.normal is not None:
            y1, y2 = y_of(spec.normal.hi), y_of(spec.normal.lo)
            self._spark_band = QRectF(rect.left(), y1, w, y2 - y1)
        step = w / buckets
        pen_down = False
        for i in np.flatnonzero(have).tolist():
            value = means[i]
            if math.isnan(value):
                pen_down = False
                continue
            point = QPointF(rect.left() + (i + 0.5) * step, y_of(value))
            if pen_down:
                path.lineTo(point)
            else:
                path.moveTo(point)
                pen_down = True

    # -- what tests and other views read ------------------------------------------------------

    def state_text(self) -> str:
        """``running``, ``idle``, ``setup``, ``fault``, ``maintenance``, or ``offline``."""
        return self._state

    def is_stale(self) -> bool:
        """Whether the tile shows data that cannot be trusted (offline, stale, bad)."""
        return self._stale

    def stale_text(self) -> str:
        """``No data since HH:MM:SS`` (or why the data is bad); '' when the data is good."""
        return self._stale_text

    def key_values(self) -> list[tuple[str, str]]:
        """``(tag, text)`` of each key value as drawn, e.g. ``("spindle_temp_c", "71.3 °C")``."""
        return [(r.tag, r.text) for r in self._rows]

    def deviations(self) -> list[tuple[str, str, str]]:
        """``(tag, "warning"|"fault"|"", "▲"|"▼"|"")`` of each key value: colour and shape cue."""
        return [
            (r.tag, ("", "warning", "fault")[r.severity], {1: "▲", -1: "▼"}.get(r.direction, ""))
            for r in self._rows
        ]

    def attention(self) -> int:
        """0 fault, 1 offline/stale, 2 a value outside normal, 3 normal."""
        return self._rank

    def sort_key(self) -> tuple[int, str, str]:
        """Attention first, then by name."""
        return (self._rank, self.snapshot.info.name.lower(), self.snapshot.info.id)

    def set_alarm_count(self, n: int, priority: str | None = None) -> None:
        """Show ``n`` active alarms, coded by the highest ``priority`` (urgent/high/medium/low)."""
        alarm = (max(0, int(n)), priority.lower() if priority else None)
        if alarm != self._alarm:
            self._alarm = alarm
            self.update(self._geo.alarms.toAlignedRect().adjusted(-2, -2, 2, 2))

    def row_rects(self) -> list[tuple[str, QRectF]]:
        """Hit areas of the key-value rows (tile coordinates)."""
        return [(r.tag, rect) for r, rect in zip(self._rows, self._geo.rows, strict=False)]

    # -- geometry and painting ---------------------------------------------------------------

    def sizeHint(self) -> QSize:  # noqa: D102, N802
        return QSize(320, TILE_H)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: D102, N802
        w = float(self.width())
        inner = w - 2 * PAD
        y = float(PAD)
        g = _Geometry()
        g.alarms = QRectF(w - PAD - 96, y, 96, NAME_H)
        g.name = QRectF(PAD, y, inner - 100, NAME_H)
        y += NAME_H
        g.state = QRectF(PAD, y, inner, STATE_H)
        y += STATE_H + 6
        for _ in range(MAX_KEYS):
            g.rows.append(QRectF(PAD / 2, y, w - PAD, ROW_H))
            y += ROW_H
        g.caption = QRectF(PAD / 2, y + 1, w - PAD, CAPTION_H - 2)
        y += CAPTION_H
        g.spark = QRectF(PAD, y + 2, inner, SPARK_H - 4)
        self._geo = g
        self._spark_dirty = True
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102, N802
        theme = self.ctx.theme
        c = _colors(theme)
        if self._spark_dirty:
            self._build_spark(self.ctx.store, time.time())
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), theme.color("background"))
        frame = QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5)
        fault = self._state == "fault"
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(c.panel_alt if self._stale else c.panel)
        p.drawRoundedRect(frame, 8, 8)
        if self._stale:
            look = quality_look(self._quality or int(Quality.BAD_STALE))
            brush = QBrush(hatch(theme, look))
            color = QColor(brush.color())
            color.setAlpha(90)
            brush.setColor(color)
            p.setBrush(brush)
            p.drawRoundedRect(frame, 8, 8)
        p.setBrush(Qt.BrushStyle.NoBrush)
        if fault:
            p.setPen(QPen(c.fault, 4))
            p.drawRoundedRect(frame.adjusted(1, 1, -1, -1), 7, 7)
        else:
            p.setPen(
                QPen(
                    c.stale if self._stale else c.border,
                    2 if self._stale else 1,
                    Qt.PenStyle.DashLine if self._stale else Qt.PenStyle.SolidLine,
                )
            )
            p.drawRoundedRect(frame, 8, 8)
        if self.hasFocus():
            p.setPen(QPen(c.focus, 3))
            p.drawRoundedRect(frame.adjusted(4, 4, -4, -4), 6, 6)

        g = self._geo
        dim = c.text_dim
        text = dim if self._stale else c.text
        # Name and alarms.
        p.setFont(_font(20, True))
        p.setPen(c.text)
        name = QFontMetrics(p.font()).elidedText(
            self.snapshot.info.name, Qt.TextElideMode.ElideRight, int(g.name.width())
        )
        p.drawText(g.name, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        self._paint_alarms(p, c, g.alarms)
        # State: icon + label + kind.
        icon = _state_icon(self._state, theme, 26, self.devicePixelRatioF())
        p.drawPixmap(QPointF(g.state.left(), g.state.center().y() - 13), icon)
        p.setFont(_font(16, True))
        p.setPen(c.fault if fault else c.stale if self._state == "offline" else c.text)
        label = self._state.upper()
        p.drawText(
            g.state.adjusted(34, 0, 0, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            label,
        )
        label_w = QFontMetrics(p.font()).horizontalAdvance(label)
        p.setFont(_font(14))
        p.setPen(dim)
        p.drawText(
            g.state.adjusted(34 + label_w + 8, 0, 0, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            f"· {self.snapshot.info.kind}",
        )
        p.setPen(QPen(c.border, 1))
        p.drawLine(
            QPointF(PAD, g.state.bottom() + 4), QPointF(self.width() - PAD, g.state.bottom() + 4)
        )
        # Key rows.
        for row, rect in zip(self._rows, g.rows, strict=False):
            self._paint_row(p, c, row, rect, text)
        # Sparkline, under its caption or under the data-quality banner.
        if self._spark_label:
            if self._spark_band is not None:
                p.fillRect(self._spark_band.intersected(g.spark), c.track)
            p.setPen(QPen(c.bar, 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(self._spark_path)
        cap = g.caption
        if self._stale:
            p.setPen(QPen(c.stale, 1))
            p.setBrush(c.panel)
            p.drawRoundedRect(cap, 4, 4)
            p.setPen(QPen(c.text, 2.5))
            cx, cy = cap.left() + 14, cap.center().y()
            p.drawLine(QPointF(cx - 5, cy - 5), QPointF(cx + 5, cy + 5))
            p.drawLine(QPointF(cx - 5, cy + 5), QPointF(cx + 5, cy - 5))
            p.setFont(_font(15, True))
            msg = QFontMetrics(p.font()).elidedText(
                self._stale_text, Qt.TextElideMode.ElideRight, int(cap.width() - 34)
            )
            p.drawText(
                cap.adjusted(28, 0, -4, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                msg,
            )
        elif self._spark_label:
            p.setFont(_font(13))
            p.setPen(dim)
            p.drawText(
                cap.adjusted(PAD / 2, 0, 0, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                self._spark_label,
            )
        p.end()

    def _paint_alarms(self, p: QPainter, c: _Colors, rect: QRectF) -> None:
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if self._alarm is None:
            p.setFont(_font(13))
            p.setPen(c.text_dim)
            p.drawText(rect, right, "— alarms")
            return
        n, priority = self._alarm
        if n == 0:
            p.setFont(_font(13))
            p.setPen(c.text_dim)
            p.drawText(rect, right, "0 alarms")
            return
        # Shape and colour by priority: triangle urgent/high, diamond medium, square low.
        color = {
            "urgent": c.fault,
            "critical": c.fault,
            "high": c.fault,
            "medium": c.warning,
            "low": c.uncertain,
        }.get(priority or "", c.text_dim)
        p.setFont(_font(16, True))
        label = str(n) if n < 100 else "99+"
        tw = QFontMetrics(p.font()).horizontalAdvance(label)
        size = 24.0
        badge = QRectF(
            rect.right() - max(size, tw + 12),
            rect.center().y() - size / 2,
            max(size, tw + 12),
            size,
        )
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        shape = QPolygonF()
        if priority in ("urgent", "critical", "high"):
            shape.append(QPointF(badge.center().x(), badge.top()))
            shape.append(QPointF(badge.right() + 4, badge.bottom() + 1))
            shape.append(QPointF(badge.left() - 4, badge.bottom() + 1))
            p.drawPolygon(shape)
            text_rect = badge.adjusted(0, 8, 0, 0)
        elif priority == "medium":
            cx, cy, r = badge.center().x(), badge.center().y(), badge.width() / 2 + 3
            for dx, dy in ((0, -r), (r, 0), (0, r), (-r, 0)):
                shape.append(QPointF(cx + dx, cy + dy))
            p.drawPolygon(shape)
            text_rect = badge
        else:
            p.drawRoundedRect(
                badge, 3 if priority == "low" else size / 2, 3 if priority == "low" else size / 2
            )
            text_rect = badge
        p.setPen(
            QColor("#ffffff") if priority in ("urgent", "critical", "high") else QColor("#000000")
        )
        p.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, label)
        p.setFont(_font(13))
        p.setPen(c.text_dim)
        p.drawText(
            QRectF(rect.left(), rect.top(), badge.left() - rect.left() - 6, rect.height()),
            right,
            "alarms",
        )

    def _paint_row(self, p: QPainter, c: _Colors, row: _Row, rect: QRectF, text: QColor) -> None:
        x0, x1 = rect.left() + PAD / 2, rect.right() - PAD / 2
        top = rect.top()
        abnormal = row.severity > 0 and not self._stale
        accent = c.fault if row.severity >= 2 else c.warning
        # Value (right) with the arrow column at the far right.
        arrow_w = 18.0
        p.setFont(_font(22, True))
        p.setPen(accent if abnormal else text)
        value_rect = QRectF(x0, top + 2, x1 - x0 - arrow_w - 2, 30)
        p.drawText(
            value_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, row.text
        )
        value_w = QFontMetrics(p.font()).horizontalAdvance(row.text)
        if row.direction and row.severity and math.isfinite(row.value):
            self._paint_arrows(
                p,
                accent if abnormal else text,
                QPointF(x1 - arrow_w / 2, top + 17),
                row.direction,
                row.severity,
            )
        # Tag name (left, small).
        p.setFont(_font(14))
        p.setPen(c.text_dim)
        name_w = int(max(20.0, value_rect.width() - value_w - 8))
        p.drawText(
            QRectF(x0, top + 2, name_w, 30),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(p.font()).elidedText(row.label, Qt.TextElideMode.ElideRight, name_w),
        )
        # Track with the normal band and a marker at the value.
        if row.track is None:
            return
        lo, hi = row.track
        bar = QRectF(x0, top + 34, x1 - x0, 10)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(c.track)
        p.drawRect(bar)

        def x_of(v: float) -> float:
            return bar.left() + (min(max(v, lo), hi) - lo) / (hi - lo) * bar.width()

        if row.band is not None:
            p.setBrush(c.normal_band)
            bx0, bx1 = x_of(row.band[0]), x_of(row.band[1])
            p.drawRect(QRectF(bx0, bar.top(), max(1.0, bx1 - bx0), bar.height()))
        p.setPen(QPen(c.border, 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(bar)
        if not math.isfinite(row.value):
            return
        mx = x_of(row.value)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(accent if abnormal else text)
        p.drawRect(QRectF(mx - 2, bar.top() - 5, 4, bar.height() + 10))

    @staticmethod
    def _paint_arrows(
        p: QPainter, color: QColor, at: QPointF, direction: int, severity: int
    ) -> None:
        """▲ or ▼ toward the violated side; two of them beyond a hi-hi/lo-lo limit."""
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        n = 2 if severity >= 2 else 1
        size = 8.0 if n == 2 else 10.0
        span = size * n + (2 if n == 2 else 0)
        y = at.y() - span / 2
        for _ in range(n):
            tri = QPolygonF()
            if direction > 0:
                tri.append(QPointF(at.x(), y))
                tri.append(QPointF(at.x() + size * 0.8, y + size))
                tri.append(QPointF(at.x() - size * 0.8, y + size))
            else:
                tri.append(QPointF(at.x() - size * 0.8, y))
                tri.append(QPointF(at.x() + size * 0.8, y))
                tri.append(QPointF(at.x(), y + size))
            p.drawPolygon(tri)
            y += size + 2

    # -- interaction ---------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: D102, N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position()
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: D102, N802
        press, self._press = self._press, None
        pos = event.position()
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        event.accept()
        if (pos - press).manhattanLength() > TOUCH / 2 or not self.rect().contains(pos.toPoint()):
            return  # a drag (e.g. scrolling), not a tap
        for tag, rect in self.row_rects():
            if rect.contains(pos):
                self.ctx.open_trend.emit(self.machine_id, tag)
                return
        self.ctx.open_machine.emit(self.machine_id)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: D102, N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            event.accept()
            self.ctx.open_machine.emit(self.machine_id)
            return
        super().keyPressEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: D102, N802
        super().focusInEvent(event)
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QScrollArea):
            parent = parent.parentWidget()
        if isinstance(parent, QScrollArea):
            parent.ensureWidgetVisible(self, SPACING, SPACING)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: D102, N802
        super().focusOutEvent(event)
        self.update()


class QtOverview(QWidget):
    """The plant at a glance: machine tiles grouped by line and area, attention first."""

    def __init__(self, ctx: StationContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overview")
        self.ctx = ctx
        self.tiles: dict[str, QtMachineTile] = {}
        self._groups: list[tuple[tuple[str, str], QLabel, list[str]]] = []
        self._version = -1
        self._needs_sync = True
        self._next = 0
        self._last_order = 0.0
        self._last_pass = 0.0
        self._layout_width = -1
        self._columns = 1

        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(False)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.container = QWidget()
        self.container.setObjectName("overviewTiles")
        self.container.setAutoFillBackground(True)
        self.scroll.setWidget(self.container)
        self._apply_palette()

        ctx.frame.connect(self._on_frame)
        ctx.event.connect(self._on_event)
        self._sync()

    # -- public --------------------------------------------------------------------------------

    def ordered_ids(self) -> list[str]:
        """Machine ids in display order (group by group, attention first within a group)."""
        return [mid for _key, _label, ids in self._groups for mid in ids]

    def groups(self) -> list[tuple[str, list[str]]]:
        """Section titles and their machine ids in display order."""
        return [(label.text(), list(ids)) for _key, label, ids in self._groups]

    # -- events --------------------------------------------------------------------------------

    def _on_event(self, event: object) -> None:
        if isinstance(event, MachinesChanged):
            self._needs_sync = True
            if self.isVisible():
                self._sync()

    def _on_frame(self, now: float) -> None:
        if not self.isVisible():
            return
        store = self.ctx.store
        if self._needs_sync or store.version != self._version:
            self._sync()
        frame_hz = 1000.0 / max(1, self.ctx.timer.interval())
        pass_hz = min(frame_hz, PASS_HZ)
        if now - self._last_pass < 0.9 / pass_hz:
            return
        self._last_pass = now
        order = self.ordered_ids()
        n = len(order)
        if n == 0:
            return
        for _ in range(min(n, math.ceil(n * VALUE_HZ / pass_hz))):
            self._next %= n
            tile = self.tiles[order[self._next]]
            tile.refresh(store, now)
            if now - tile.spark_at >= 1 / SPARK_HZ:  # in the same pass: one repaint for both
                tile.refresh_spark(store, now)
            self._next += 1
        if now - self._last_order >= ORDER_S:
            self._last_order = now
            self._reorder()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: D102, N802
        super().showEvent(event)
        self._relayout(force=True)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: D102, N802
        super().resizeEvent(event)
        self.scroll.setGeometry(self.rect())
        self._relayout()

    # -- building ------------------------------------------------------------------------------

    def _apply_palette(self) -> None:
        theme = self.ctx.theme
        palette = self.container.palette()
        palette.setColor(QPalette.ColorRole.Window, theme.color("background"))
        palette.setColor(QPalette.ColorRole.WindowText, theme.color("text_dim"))
        self.container.setPalette(palette)
        self.scroll.viewport().setPalette(palette)
        self.scroll.viewport().setAutoFillBackground(True)

    def _sync(self) -> None:
        """Match the tiles to the store's machines: add, replace metadata, remove; then lay out."""
        store = self.ctx.store
        self._version = store.version
        self._needs_sync = False
        snapshots = {s.info.id: s for s in store.machines()}
        for mid in list(self.tiles):
            if mid not in snapshots:
                tile = self.tiles.pop(mid)
                tile.hide()
                tile.deleteLater()
        now = time.time()
        for mid, snap in snapshots.items():
            tile = self.tiles.get(mid)
            if tile is None:
                tile = QtMachineTile(self.ctx, snap, self.container)
                self.tiles[mid] = tile
                tile.show()
            elif (tile.snapshot.info, tile.snapshot.tags) != (snap.info, snap.tags):
                tile.set_snapshot(snap)
            else:
                tile.snapshot = snap  # online/since changed (DEATH, rebirth): keep the rows
            tile.refresh(store, now)
        grouped: dict[tuple[str, str], list[str]] = {}
        for mid, snap in snapshots.items():
            grouped.setdefault((snap.info.line, snap.info.area), []).append(mid)
        old = {key: label for key, label, _ids in self._groups}
        groups = []
        for key in sorted(grouped):
            label = old.pop(key, None)
            if label is None:
                label = QLabel(_section_title(*key), self.container)
                label.setObjectName("sectionTitle")
                font = _font(18, True)
                label.setFont(font)
                label.show()
            groups.append((key, label, grouped[key]))
        for label in old.values():
            label.hide()
            label.deleteLater()
        self._groups = groups
        self._reorder(force=True)

    def _reorder(self, force: bool = False) -> None:
        changed = False
        for i, (key, label, ids) in enumerate(self._groups):
            ordered = sorted(ids, key=lambda mid: self.tiles[mid].sort_key())
            if ordered != ids:
                self._groups[i] = (key, label, ordered)
                changed = True
        if changed or force:
            self._relayout(force=True)
            previous: QWidget | None = None
            for mid in self.ordered_ids():
                tile = self.tiles[mid]
                if previous is not None:
                    QWidget.setTabOrder(previous, tile)
                previous = tile

    def _relayout(self, force: bool = False) -> None:
        """Place the groups and their tiles in a responsive grid for the available width.

        Groups flow like words on shelves: a small group (say two tiles) sits beside the next
        one when both fit in the row, so a wide screen is not mostly empty section rows.
        """
        bar = self.scroll.verticalScrollBar()
        width = max(TILE_MIN_W + 2 * SPACING, self.scroll.width() - bar.sizeHint().width())
        if width == self._layout_width and not force:
            return
        self._layout_width = width
        gap = SPACING
        inner = width - 2 * gap
        cols = max(1, (inner + gap) // (TILE_MIN_W + gap))
        tile_w = min(TILE_MAX_W, (inner - (cols - 1) * gap) // cols)
        self._columns = cols
        title_h = TITLE_H
        x_col, y, shelf_h = 0, gap // 2, 0
        for _key, label, ids in self._groups:
            span = max(1, min(len(ids), cols))
            rows = math.ceil(len(ids) / span) if ids else 0
            if x_col and x_col + span > cols:
                y += shelf_h
                x_col, shelf_h = 0, 0
            x = gap + x_col * (tile_w + gap)
            label.setGeometry(x, y, span * (tile_w + gap) - gap, title_h)
            for i, mid in enumerate(ids):
                row, col = divmod(i, span)
                self.tiles[mid].setGeometry(
                    x + col * (tile_w + gap), y + title_h + row * (TILE_H + gap), tile_w, TILE_H
                )
            shelf_h = max(shelf_h, title_h + rows * (TILE_H + gap) + gap // 2)
            x_col += span
        self.container.resize(width, max(y + shelf_h, 1))

    def columns(self) -> int:
        """How many tile columns the current width holds."""
        return self._columns
