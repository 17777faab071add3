"""Level 1 plant overview: a plant summary strip, then one band per line of custom-painted tiles.

ISA-101 style: a normal tile is entirely grey; colour appears only for something abnormal and
always comes with a shape (state icon, the marks of :func:`ui.theme.paint_mark`, hatching for bad
data). Every verdict comes from the core's one classifier, :func:`copilot.limits.classify_latest`,
on the unrounded value, with the tag's deadband and the machine's state.

Layout: one band per production line (a line never shares a row with another, and its tiles
wrap only within its own band when the window is too narrow for them); the tiles shrink to fit
the viewport so the whole default plant (12 machines, 2 lines) is on screen at 1280×800 and at
1920×1080 without scrolling. The summary strip above the tiles never scrolls away: machines in
fault, offline, out of range (and alarms, once they exist), each a touch target that opens the
first such machine.

Rendering discipline: nothing is done per message. On each ``ctx.frame`` tick, and only while
the overview is visible, tiles whose machine sent something re-read the store, each at most at
~4 Hz, and every tile at least once a second (values age into stale) and its sparkline at ~1 Hz
(sparklines of tiles scrolled out of view are refreshed lazily when they are painted). Frames
come at the steady rate or, as the window runs the overview, only when data arrive (the
``on_data`` pace of :class:`ui.context.StationContext`): a pass refreshes what ~4 Hz per tile
allows since the last one. A tile repaints only when what it shows changed. Tiles are re-ordered
(attention first, within their area) at most once a second.

Projections (advice, never an alarm): at most once a second and only while on screen, a tile
asks :class:`copilot.anomaly.advice.Projector` about its key tags (it answers from its cache
between its own work-outs), a few tiles a pass so that the work is spread over frames
(:data:`ADVICE_TILES`). The soonest is written on the caption line in the normal text colour,
"↗ zone1 temp HI in ~7 min (5–10)", and its row carries the arrow: the arrow's shape, not a
colour, says "projection". The caption's more urgent texts (stale data, other tags out of range)
take the line first.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFocusEvent,
    QFont,
    QFontMetrics,
    QHideEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QResizeEvent,
    QShowEvent,
    QStaticText,
    QTransform,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QScrollArea, QWidget

from copilot.anomaly.advice import Advice, Projector, overview_texts, soonest
from copilot.limits import NORMAL, Verdict, classify_latest
from copilot.protocol import PRIORITIES, PRIORITY_RANK, Quality, TagSpec, reason_of
from copilot.series import F64
from copilot.station import MachinesChanged, MachineSnapshot, StationStore
from ui.context import StationContext
from ui.tap import QtTappable
from ui.theme import (
    SPACING,
    TOUCH,
    Theme,
    hatch,
    icon_path,
    paint_mark,
    quality_look,
    value_font,
    verdict_color,
)

__all__ = [
    "QtMachineTile",
    "QtOverview",
    "QtPlantSummary",
    "format_value",
    "short_tag_label",
    "tag_label",
]

STATES = ("running", "idle", "setup", "fault", "maintenance")

# A tile's values are re-read at most once a second, the usual SCADA tag rate (FIELD_NOTES:
# Ignition's default scan class is 1 s; numbers changing faster are not read, only seen
# flickering); a change of the machine's state or of the link is shown at the next pass.
VALUE_HZ = 1.0
ADVICE_S = 2.0  # a tile's projections are worked out at most this often...
ADVICE_TILES = 3  # ...for at most this many tiles a pass (each up to 3 fits of ~0.3 ms)
SPARK_HZ = 0.5  # sparklines (one 2-px bucket of the 3-minute line is ~1.4 s: ~1.4 px a rebuild)
RECHECK_S = 1.0  # a tile with nothing new is still re-read this often (values age into stale)
PASS_HZ = 10.0  # refresh passes: tiles repainted together, not one paint pass per frame tick
ORDER_S = 1.0  # attention re-ordering
SPARK_WINDOW_S = 180.0
HISTORY_S = 300.0  # samples the classifier may look back on inside a deadband

TILE_MIN_W = 190
TILE_MAX_W = 340
WIDE_W = 250  # from this width a key row has its name and value on one line
MAX_KEYS = 3

# Tile geometry (px). Key rows are touch targets, so at least TOUCH tall.
PAD = 8
NAME_H = 26
STATE_H = 26
ROW_H = max(TOUCH, 50)
CAPTION_H = 22  # sparkline caption, "N more tags out of range", or the stale banner
SPARK_MIN_H = 18
SPARK_MAX_H = 110  # a taller sparkline where the screen has room (1080p)
TILE_MIN_H = PAD + NAME_H + STATE_H + 4 + MAX_KEYS * ROW_H + CAPTION_H + PAD
TILE_H = TILE_MIN_H + 30  # the preferred height, with a sparkline
TILE_MAX_H = TILE_MIN_H + SPARK_MAX_H
TITLE_H = 28  # a line's band title
SUMMARY_H = 56  # the plant summary strip (its chips are touch targets)

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


def tag_label(spec: TagSpec) -> str:
    """A tag's human name: its BIRTH description (``Spindle temperature``), else its id."""
    return spec.description.strip() or _pretty_tag(spec.name).capitalize()


def short_tag_label(spec: TagSpec) -> str:
    """A tag's name where room is short: ``barrel_temp_c`` → ``Barrel temp``."""
    return _pretty_tag(spec.name).capitalize()


def _line_title(line: str) -> str:
    return line.replace("-", " ").replace("_", " ").strip().capitalize() or "Plant"


def _section_title(line: str, area: str) -> str:
    return f"{_line_title(line)} · {area}" if area else _line_title(line)


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def _recent(store: StationStore, machine: str, tag: str, since: float) -> F64:
    """A tag's samples since ``since`` (the classifier's look-back inside a deadband)."""
    return store.window(machine, tag, since)[1]


def _by_keyboard(event: QFocusEvent) -> bool:
    return event.reason() in (
        Qt.FocusReason.TabFocusReason,
        Qt.FocusReason.BacktabFocusReason,
        Qt.FocusReason.ShortcutFocusReason,
    )


def _numeric(spec: TagSpec) -> bool:
    return spec.type in ("float", "int") and (spec.normal is not None or spec.limits is not None)


@dataclass(frozen=True)
class _Colors:
    """A theme's colours as QColors, built once per theme (no per-paint allocation)."""

    background: QColor
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
        found = _Colors(
            background=theme.color("background"),
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
            track=QColor(theme.panel_alt),
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


_FONTS: dict[tuple[int, bool], tuple[QFont, QFontMetrics]] = {}
_LEFT_V = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT_V = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _font_and_metrics(px: int, bold: bool) -> tuple[QFont, QFontMetrics]:
    found = _FONTS.get((px, bold))
    if found is None:
        font = value_font(px, bold)
        found = _FONTS[(px, bold)] = (font, QFontMetrics(font))
    return found


def _static(text: str, font: QFont) -> QStaticText:
    st = QStaticText(text)
    st.setTextFormat(Qt.TextFormat.PlainText)
    st.prepare(QTransform(), font)
    return st


def _left_v(rect: QRectF, text: QStaticText) -> QPointF:
    """Where ``text`` starts to sit left-aligned, centred vertically in ``rect``."""
    return QPointF(rect.left(), rect.center().y() - text.size().height() / 2)


def _right_v(rect: QRectF, text: QStaticText, advance: float) -> QPointF:
    """Where ``text`` (``advance`` px wide) starts right-aligned, centred vertically in ``rect``."""
    return QPointF(rect.right() - advance, rect.center().y() - text.size().height() / 2)


def _font(px: int, bold: bool = False) -> QFont:
    """The value font at ``px`` (one object per size: painting must not build fonts)."""
    return _font_and_metrics(px, bold)[0]


def _metrics(px: int, bold: bool = False) -> QFontMetrics:
    """Metrics of :func:`_font` (built once)."""
    return _font_and_metrics(px, bold)[1]


@dataclass
class _Row:
    """One key tag as drawn."""

    tag: str
    label: str
    unit: str
    text: str = "—"
    value: float = math.nan
    verdict: Verdict = NORMAL
    good: bool = True
    track: tuple[float, float] | None = None
    band: tuple[float, float] | None = None
    heading: str = ""  # the arrow of the projection the tile's caption tells ("" for none)

    # What paint laid out last (QStaticText: shaped once, drawn many times).
    _label: tuple[int, QStaticText | None] = field(default=(-1, None), repr=False)
    _value: tuple[object, QStaticText | None] = field(default=(None, None), repr=False)
    value_px: int = field(default=22, repr=False, compare=False)
    value_w: float = field(default=0.0, repr=False, compare=False)

    def signature(self) -> tuple[object, ...]:
        return (self.text, self.verdict.kind, self.good, self._pos(), self.heading)

    def label_text(self, width: int) -> QStaticText:
        """The label cut to ``width`` px (the width changes only with the value's)."""
        if self._label[0] != width or self._label[1] is None:
            text = _metrics(16).elidedText(self.label, Qt.TextElideMode.ElideRight, width)
            self._label = (width, _static(text, _font(16)))
        return self._label[1]  # type: ignore[return-value]

    def value_text(self, room: float, wide: bool) -> QStaticText:
        """The value in the largest font that fits ``room`` (else the number alone)."""
        key = (self.text, room, wide)
        if self._value[0] == key and self._value[1] is not None:
            return self._value[1]
        shown = self.text
        sizes = (22, 20, 18) if wide else (20, 18)
        for px in sizes:
            width = _metrics(px, True).horizontalAdvance(shown)
            if width <= room:
                break
        else:  # even the smallest does not fit: the number alone (the unit is in the detail)
            shown = shown.split(" ", 1)[0]
            width = _metrics(px, True).horizontalAdvance(shown)
        self.value_px, self.value_w = px, float(width)
        text = _static(shown, _font(px, True))
        self._value = (key, text)
        return text

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


class QtMachineTile(QWidget):
    """One machine, custom-painted: name, state, 2–3 key tags as bars, a sparkline, data quality.

    Click/tap opens the machine (``ctx.open_machine``); a click on a key-value row opens that
    tag's trend (``ctx.open_trend``). Enter or Space opens the machine when the tile has focus.
    Every numeric tag of the machine is classified (not only the key ones): the caption says
    how many others are out of range.
    """

    def __init__(
        self, ctx: StationContext, snapshot: MachineSnapshot, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setObjectName("tile")
        self.ctx = ctx
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(TILE_MIN_W, TILE_MIN_H)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._geo = _Geometry()
        self._press: QPointF | None = None
        self._keyboard_focus = False
        self._alarm: tuple[int, str | None] | None = None
        self._alarm_counts: dict[str, int] = {}  # per priority, from the station's alarms
        self._signature: tuple[object, ...] = ()
        self._row_signatures: list[tuple[object, ...]] = []
        self._base: QPixmap | None = None  # the chrome layer (see paintEvent)
        self._base_key_seen: tuple[object, ...] = ()
        self._spark_path = QPainterPath()
        self._spark_band: QRectF | None = None
        self._spark_dirty = True
        self.spark_at = 0.0  # when the sparkline was last rebuilt
        self.seen: tuple[float, int] = (-1.0, -1)  # (store.last_update, link quality) last read
        self.checked_at = 0.0
        self.advised_at = 0.0  # when the projections were last worked out
        self._spark_label = ""
        self._projector = Projector()
        self._advice: Advice | None = None
        self._advice_texts: tuple[str, ...] = ()  # what the caption may say, longest first
        self._advice_shown = ""  # what it said when last painted
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
        self._judged = [t for t in snapshot.tags if _numeric(t)]
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
        self._verdicts: dict[str, Verdict] = {}
        self._state = "unknown"
        self._last_state = ""  # the last state known from good data
        self._state_seen: tuple[str, bool] = ("", False)  # the state reading last shown
        self._state_stale = False
        self._stale = False
        self._stale_text = ""
        self._quality = 0
        self._rank = RANK_NORMAL
        self._others: list[str] = []  # non-key tags out of range
        self._signature = ()
        self._row_signatures = []
        self._spark_dirty = True
        self.spark_at = 0.0
        self._spark_label = f"{_pretty_tag(keys[0].name)} · last 3 min" if keys else ""
        self._projector.forget()
        self._advice, self._advice_texts = None, ()
        self.setAccessibleName(snapshot.info.name)

    def refresh(self, store: StationStore, now: float) -> bool:
        """Re-read the machine's state and values; repaint only if something changed."""
        mid = self.snapshot.info.id
        readings = {r.tag: r for r in store.readings(mid, now)}
        online = self.snapshot.online
        state_reading = readings.get("state")
        known = (
            str(state_reading.value)
            if state_reading is not None and isinstance(state_reading.value, str)
            else ""
        )
        if known and state_reading is not None and state_reading.good:
            self._last_state = known
        if state_reading is not None:
            self._state_seen = (str(state_reading.value), state_reading.good)
        if not online:
            state = "offline"
        elif not known:
            state = "unknown"
        else:
            state = known
        worst = 0 if online else int(Quality.BAD_STALE)
        if state_reading is not None and online and not state_reading.good:
            worst = max(worst, state_reading.quality)
        stale_since: float | None = None if online else self.snapshot.since
        if state_reading is not None and state_reading.stale_since is not None and online:
            stale_since = state_reading.stale_since
        bad_tags: list[str] = []
        # Judge every numeric tag with the one classifier, on the unrounded value.
        machine_state = known or None
        verdicts: dict[str, Verdict] = {}
        for spec in self._judged:
            reading = readings.get(spec.name)
            if reading is None:
                continue
            value = reading.value
            if not reading.good:  # no abnormal colour for a value that cannot be trusted
                verdicts[spec.name] = NORMAL
                continue
            recent = partial(_recent, store, mid, spec.name, now - HISTORY_S)
            verdicts[spec.name] = classify_latest(spec, value, machine_state, recent)
        self._verdicts = verdicts
        last_sample = 0.0  # newest sample of a key value gone stale: when its data stopped
        for row, spec in zip(self._rows, self._specs, strict=True):
            reading = readings.get(spec.name)
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
                    if reading.ts > last_sample:
                        last_sample = reading.ts
                else:
                    bad_tags.append(row.label)
            if isinstance(value, bool) or value is None or isinstance(value, str):
                row.value = math.nan
                row.text = "—" if value is None else str(value)
                row.verdict = NORMAL
                continue
            number = float(value)
            row.value = number
            row.text = format_value(number, row.unit)
            row.verdict = verdicts.get(spec.name, NORMAL)
        key_tags = {s.name for s in self._specs}
        others = [t for t, v in verdicts.items() if v.abnormal and t not in key_tags]
        abnormal = any(v.abnormal for v in verdicts.values())
        stale = not online or worst != 0 or state == "unknown"
        if online and last_sample and stale_since is not None and last_sample < stale_since:
            # The link or the values went stale seconds after the last sample arrived: say
            # when the data stopped (the banner says the same), not when that was noticed.
            stale_since = last_sample
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
        # The state line is "last known" only when the state itself is not current data.
        self._state_stale = not online or state_reading is None or not state_reading.good
        self._quality, self._rank, self._others = worst, rank, others
        chrome = (
            state,
            self._last_state,
            self._state_stale,
            stale,
            stale_text,
            worst,
            tuple(others),
            tuple(verdicts[t].kind for t in others),
        )
        rows = [r.signature() for r in self._rows]
        if chrome == self._signature and rows == self._row_signatures:
            return False
        if state != (self._signature[0] if self._signature else None):
            self.setAccessibleName(f"{self.snapshot.info.name}, {state}")
        if chrome != self._signature or len(rows) != len(self._row_signatures):
            self.update()
        else:  # only values moved: repaint only their rows
            for rect, new, old in zip(self._geo.rows, rows, self._row_signatures, strict=False):
                if new != old:
                    self.update(rect.toAlignedRect())
        self._signature, self._row_signatures = chrome, rows
        return True

    def state_moved(self, store: StationStore) -> bool:
        """Whether the machine's state reading differs from what the tile last showed."""
        reading = store.reading(self.snapshot.info.id, "state")
        if reading is None:
            return False
        return (str(reading.value), reading.good) != self._state_seen

    def refresh_spark(self, store: StationStore, now: float) -> None:
        """Rebuild the sparkline of the first key tag (only for tiles on screen)."""
        self.spark_at = now
        if self.visibleRegion().isEmpty():
            self._spark_dirty = True
            return
        self._build_spark(store, now)
        self.update(self._geo.spark.toAlignedRect())

    def advise(self, store: StationStore, now: float) -> None:
        """Work out the key tags' projections (on screen only; off screen none is kept)."""
        self.advised_at = now
        if self.visibleRegion().isEmpty():
            self._set_advice(None)
            return
        mid = self.snapshot.info.id
        found = [
            self._projector.advise(mid, spec, now, store.window, good=row.good and not self._stale)
            for row, spec in zip(self._rows, self._specs, strict=True)
        ]
        self._set_advice(soonest(found))

    def _set_advice(self, advice: Advice | None) -> None:
        label = ""
        for row in self._rows:
            mine = advice is not None and row.tag == advice.tag
            row.heading = advice.arrow if mine and advice is not None else ""
            label = row.label if mine else label
        texts = tuple(overview_texts(advice, label)) if advice is not None else ()
        self._advice = advice
        if texts != self._advice_texts:
            self._advice_texts = texts
            self.update()  # the caption is chrome (see paintEvent): at most once a second
        elif [r.signature() for r in self._rows] != self._row_signatures:
            for rect, new, old in zip(
                self._geo.rows,
                [r.signature() for r in self._rows],
                self._row_signatures,
                strict=False,
            ):
                if new != old:
                    self.update(rect.toAlignedRect())
        self._row_signatures = [r.signature() for r in self._rows]

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

    def last_known_state(self) -> str:
        """The state the machine was last seen in with good data ('' if never)."""
        return self._last_state

    def state_is_last_known(self) -> bool:
        """Whether the state drawn is the last known one (dimmed), not current data."""
        return self._state_stale

    def is_stale(self) -> bool:
        """Whether the tile shows data that cannot be trusted (offline, stale, bad)."""
        return self._stale

    def stale_text(self) -> str:
        """``No data since HH:MM:SS`` (or why the data is bad); '' when the data is good."""
        return self._stale_text

    def projection(self) -> Advice | None:
        """The projection the tile tells of (its key tags' soonest), or None."""
        return self._advice

    def projection_text(self) -> str:
        """What the caption said of it when last painted: ``↗ zone1 temp HI in ~7 min (5–10)``.

        The longest form that fits; '' when there is none or a more urgent text has the line.
        """
        return self._advice_shown

    def headings(self) -> dict[str, str]:
        """``tag → arrow`` drawn beside each key value (``↗``/``↘`` for the projected one)."""
        return {r.tag: r.heading for r in self._rows}

    def key_values(self) -> list[tuple[str, str]]:
        """``(tag, text)`` of each key value as drawn, e.g. ``("spindle_temp_c", "71.3 °C")``."""
        return [(r.tag, r.text) for r in self._rows]

    def deviations(self) -> list[tuple[str, str, str]]:
        """``(tag, "warning"|"fault"|"", glyph)`` of each key value: colour and shape cue."""
        return [
            (r.tag, ("", "warning", "fault")[r.verdict.severity], r.verdict.glyph)
            for r in self._rows
        ]

    def verdict(self, tag: str) -> Verdict | None:
        """The classifier's verdict on ``tag`` as this tile shows it (None if not judged)."""
        return self._verdicts.get(tag)

    def abnormal_tags(self) -> list[str]:
        """Every tag of the machine out of range right now (good data only)."""
        return [t for t, v in self._verdicts.items() if v.abnormal]

    def attention(self) -> int:
        """0 fault, 1 offline/stale, 2 a value outside normal, 3 normal."""
        return self._rank

    def sort_key(self) -> tuple[int, str, str]:
        """Attention first, then by name."""
        return (self._rank, self.snapshot.info.name.lower(), self.snapshot.info.id)

    def alarm_count(self) -> int | None:
        """Active alarms shown, or None before the alarm system fed the tile."""
        return None if self._alarm is None else self._alarm[0]

    def set_alarm_count(self, n: int, priority: str | None = None) -> None:
        """Show ``n`` active alarms, coded by the highest ``priority`` (urgent/high/medium/low)."""
        alarm = (max(0, int(n)), priority.lower() if priority else None)
        self._alarm_counts = {}  # one badge: the total, coded by the highest priority
        if alarm != self._alarm:
            self._alarm = alarm
            self.update(self._geo.alarms.toAlignedRect().adjusted(-2, -2, 2, 2))

    def set_alarm_counts(self, counts: dict[str, int]) -> None:
        """Show the machine's current alarms per priority (small shape + number for each)."""
        counts = {p: n for p, n in counts.items() if n > 0}
        top = min(counts, key=lambda p: PRIORITY_RANK.get(p, 99)) if counts else None
        alarm = (sum(counts.values()), top)
        if (counts, alarm) != (self._alarm_counts, self._alarm):
            self._alarm_counts, self._alarm = counts, alarm
            self.update(self._geo.alarms.toAlignedRect().adjusted(-2, -2, 2, 2))

    def alarm_counts(self) -> dict[str, int]:
        """The alarms per priority the tile shows (only priorities it has)."""
        return dict(self._alarm_counts)

    def row_rects(self) -> list[tuple[str, QRectF]]:
        """Hit areas of the key-value rows (tile coordinates)."""
        return [(r.tag, rect) for r, rect in zip(self._rows, self._geo.rows, strict=False)]

    def is_wide(self) -> bool:
        """Whether key rows put name and value on one line (else name above value)."""
        return self.width() >= WIDE_W

    # -- geometry and painting ---------------------------------------------------------------

    def sizeHint(self) -> QSize:  # noqa: D102, N802
        return QSize(320, TILE_H)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: D102, N802
        w = float(self.width())
        inner = w - 2 * PAD
        y = float(PAD)
        g = _Geometry()
        g.name = QRectF(PAD, y, inner, NAME_H)
        y += NAME_H
        g.state = QRectF(PAD, y, inner, STATE_H)
        # The alarm badge sits at the end of the state line: the name of a machine in alarm is
        # the one an operator must read whole.
        g.alarms = QRectF(w - PAD - 96, y, 96, STATE_H)
        y += STATE_H + 4
        for _ in range(MAX_KEYS):
            g.rows.append(QRectF(PAD / 2, y, w - PAD, ROW_H))
            y += ROW_H
        g.caption = QRectF(PAD / 2, y + 1, w - PAD, CAPTION_H - 2)
        y += CAPTION_H
        spark_h = min(float(SPARK_MAX_H), self.height() - PAD - y)
        g.spark = QRectF(PAD, y + 2, inner, spark_h - 4) if spark_h >= SPARK_MIN_H else QRectF()
        self._geo = g
        self._spark_dirty = True
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102, N802
        # Two layers: the tile's chrome (frame, name, state, labels' caption...) is painted once
        # into a pixmap and blitted; only the key values and the sparkline are drawn each time,
        # and a repaint of changed rows (refresh updates only those) draws only those rows.
        theme = self.ctx.theme
        c = _colors(theme)
        if self._spark_dirty:
            self._build_spark(self.ctx.store, time.time())
        exposed = QRectF(event.rect())
        base = self._base_layer(theme, c)
        p = QPainter(self)
        dpr = base.devicePixelRatio()
        source = QRectF(exposed.topLeft() * dpr, exposed.size() * dpr)
        p.drawPixmap(exposed, base, source)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        g = self._geo
        text = c.text_dim if self._stale else c.text
        wide = self.is_wide()
        for row, rect in zip(self._rows, g.rows, strict=False):
            if rect.intersects(exposed):
                self._paint_row(p, c, row, rect, text, wide)
        # Sparkline, under its caption or under the data-quality banner.
        if self._spark_label and not g.spark.isEmpty() and g.spark.intersects(exposed):
            if self._spark_band is not None:
                p.fillRect(self._spark_band.intersected(g.spark), c.track)
            p.setPen(QPen(c.bar, 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(self._spark_path)
        p.end()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: D102, N802
        self._base = None  # ~w×h×4 bytes a tile: not kept while the overview is not shown
        self._set_advice(None)  # not kept either: shown again, the tile asks afresh
        super().hideEvent(event)

    def _base_key(self, theme: Theme) -> tuple[object, ...]:
        """Everything the chrome layer shows; a new key repaints it (and the whole tile)."""
        return (
            self.width(),
            self.height(),
            self.dpr(),
            theme.name,
            self._state,
            self._last_state,
            self._state_stale,
            self._stale,
            self._quality,
            self._stale_text,
            tuple(self._others),
            tuple(self._verdicts[t].kind for t in self._others),
            self._alarm,
            tuple(sorted(self._alarm_counts.items())),
            self.hasFocus() and self._keyboard_focus,
            self.snapshot.info.name,
            self.snapshot.info.kind,
            self._spark_label,
            self._advice_texts,
        )

    def _base_layer(self, theme: Theme, c: _Colors) -> QPixmap:
        key = self._base_key(theme)
        if self._base is not None and key == self._base_key_seen:
            return self._base
        dpr = self.dpr()
        base = QPixmap(max(1, round(self.width() * dpr)), max(1, round(self.height() * dpr)))
        base.setDevicePixelRatio(dpr)
        p = QPainter(base)
        self._paint_chrome(p, theme, c)
        p.end()
        self._base, self._base_key_seen = base, key
        return base

    def _paint_chrome(self, p: QPainter, theme: Theme, c: _Colors) -> None:
        """Frame, name, alarms, state line and caption: what changes only with the state."""
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), c.background)
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
        if fault and not self._state_stale:
            p.setPen(QPen(c.fault, 4))
            p.drawRoundedRect(frame.adjusted(1, 1, -1, -1), 7, 7)
        elif fault:  # last known fault, data stale: a dashed, thinner red
            p.setPen(QPen(c.fault, 2, Qt.PenStyle.DashLine))
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
        if self.hasFocus() and self._keyboard_focus:  # no ring after a tap or at start-up
            p.setPen(QPen(c.focus, 3))
            p.drawRoundedRect(frame.adjusted(4, 4, -4, -4), 6, 6)

        g = self._geo
        # The name, whole; then the state line with the alarms at its end (nothing there until
        # the alarm system feeds the tile, nor while the machine has none).
        p.setFont(_font(20, True))
        p.setPen(c.text)
        name = _metrics(20, True).elidedText(
            self.snapshot.info.name, Qt.TextElideMode.ElideRight, int(g.name.width())
        )
        p.drawText(g.name, _LEFT_V, name)
        alarm_w = self._paint_alarms(p, c, g.alarms)
        state = g.state.adjusted(0, 0, -(alarm_w + 6) if alarm_w else 0, 0)
        self._paint_state(p, c, theme, state, fault)
        p.setPen(QPen(c.border, 1))
        p.drawLine(
            QPointF(PAD, g.state.bottom() + 2), QPointF(self.width() - PAD, g.state.bottom() + 2)
        )
        self._paint_caption(p, c, g.caption, c.text_dim)

    def _paint_state(self, p: QPainter, c: _Colors, theme: Theme, r: QRectF, fault: bool) -> None:
        """Icon, STATE and kind; while the data is stale the last known state, dimmed."""
        shown = self._state
        last = self._last_state
        stale = self._state_stale
        if stale and shown != "offline" and last:
            shown = last
        icon = _state_icon(shown if shown in STATES else "offline", theme, 22, self.dpr())
        p.save()
        if stale:
            p.setOpacity(0.45)
        p.drawPixmap(QPointF(r.left(), r.center().y() - 11), icon)
        p.restore()
        p.setFont(_font(16, True))
        if stale:
            p.setPen(c.text_dim)
        else:
            p.setPen(c.fault if fault else c.text)
        label = shown.upper()
        fm = QFontMetrics(p.font())
        room = int(r.width() - 30)
        if stale and self._state == "offline" and last:
            # A narrow tile keeps the last state in short form rather than cut it off.
            label = next(
                (
                    t
                    for t in (f"OFFLINE · was {last.upper()}", f"OFFLINE · {last.upper()}?")
                    if fm.horizontalAdvance(t) <= room
                ),
                "OFFLINE",
            )
        elif stale and last:
            label = f"{label}?"  # last known, not current
        label = fm.elidedText(label, Qt.TextElideMode.ElideRight, room)
        p.drawText(
            r.adjusted(30, 0, 0, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            label,
        )
        label_w = fm.horizontalAdvance(label)
        p.setFont(_font(16))
        p.setPen(c.text_dim)
        kind_rect = r.adjusted(30 + label_w + 6, 0, 0, 0)
        kind = f"· {self.snapshot.info.kind}"
        if QFontMetrics(p.font()).horizontalAdvance(kind) <= kind_rect.width():  # whole or not
            p.drawText(kind_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, kind)

    def dpr(self) -> float:
        """Device pixel ratio for the cached icons."""
        return self.devicePixelRatioF() or 1.0

    def _paint_caption(self, p: QPainter, c: _Colors, cap: QRectF, dim: QColor) -> None:
        self._advice_shown = ""  # set below when the projection has the line
        if self._stale:
            p.setPen(QPen(c.stale, 1))
            p.setBrush(c.panel)
            p.drawRoundedRect(cap, 4, 4)
            p.setPen(QPen(c.text, 2.5))
            cx, cy = cap.left() + 10, cap.center().y()
            p.drawLine(QPointF(cx - 4, cy - 4), QPointF(cx + 4, cy + 4))
            p.drawLine(QPointF(cx - 4, cy + 4), QPointF(cx + 4, cy - 4))
            room = int(cap.width() - 23)
            for px, bold in ((16, True), (15, True), (15, False), (14, False)):  # whole if it can
                p.setFont(_font(px, bold))
                if QFontMetrics(p.font()).horizontalAdvance(self._stale_text) <= room:
                    break
            msg = QFontMetrics(p.font()).elidedText(
                self._stale_text, Qt.TextElideMode.ElideRight, room
            )
            p.drawText(
                cap.adjusted(19, 0, -2, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                msg,
            )
            return
        if self._others:  # abnormal tags that are not on the tile: say so, with their mark
            worst = max((self._verdicts[t] for t in self._others), key=lambda v: v.severity)
            color = verdict_color(self.ctx.theme, worst)
            paint_mark(p, worst, QPointF(cap.left() + 12, cap.center().y()), 14, color)
            n = len(self._others)
            words = f"{n} more tag{'s' if n > 1 else ''} out of range"
            p.setFont(_font(16, True))
            p.setPen(color)
            p.drawText(
                cap.adjusted(24, 0, 0, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                QFontMetrics(p.font()).elidedText(
                    words, Qt.TextElideMode.ElideRight, int(cap.width() - 26)
                ),
            )
            return
        if self._advice_texts:  # a projection: advice, so the normal text colour and an arrow
            p.setFont(_font(16 if self.is_wide() else 15))
            fm = QFontMetrics(p.font())
            room = int(cap.width() - PAD)
            fits = [t for t in self._advice_texts if fm.horizontalAdvance(t) <= room]
            text = fits[0] if fits else self._advice_texts[-1]
            self._advice_shown = text
            p.setPen(c.text)
            p.drawText(
                cap.adjusted(PAD / 2, 0, 0, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                fm.elidedText(text, Qt.TextElideMode.ElideRight, room),
            )
            return
        if self._spark_label and not self._geo.spark.isEmpty():
            p.setFont(_font(16 if self.is_wide() else 15))
            p.setPen(dim)
            fm = QFontMetrics(p.font())
            room = int(cap.width() - PAD)
            # "spindle speed · last 3 min", else "spindle speed · 3 min": the name is never cut
            # for the sake of the window's words.
            name, _, window = self._spark_label.partition(" · ")
            text = next(
                (
                    t
                    for t in (self._spark_label, f"{name} · {window.removeprefix('last ')}")
                    if fm.horizontalAdvance(t) <= room
                ),
                name,
            )
            p.drawText(
                cap.adjusted(PAD / 2, 0, 0, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                fm.elidedText(text, Qt.TextElideMode.ElideRight, room),
            )

    def _paint_alarms(self, p: QPainter, c: _Colors, rect: QRectF) -> float:
        """The alarm badge; nothing before the alarm system feeds the tile. Returns its width."""
        if self._alarm is None:
            return 0.0
        n, priority = self._alarm
        if self._alarm_counts:
            return self._paint_alarm_counts(p, c, rect)
        if n == 0:
            return 0.0  # no alarms: nothing to read (high-performance HMI: no clutter)
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
        theme = self.ctx.theme
        on_red = priority in ("urgent", "critical", "high")
        on_amber = priority == "medium"
        p.setPen(
            theme.color("banner_text")
            if on_red
            else theme.color("warning_text")
            if on_amber
            else QColor("#000000")
        )
        p.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, label)
        return float(badge.width() + 8)

    def _paint_alarm_counts(self, p: QPainter, c: _Colors, rect: QRectF) -> float:
        """Per priority, right to left from the least urgent: its shape and its count."""
        from ui.alarms.look import paint_priority

        p.setFont(_font(16, True))
        fm = QFontMetrics(p.font())
        x = rect.right()
        for priority in reversed([q for q in PRIORITIES if q in self._alarm_counts]):
            label = str(min(99, self._alarm_counts[priority]))
            x -= fm.horizontalAdvance(label)
            p.setPen(c.text)
            p.drawText(
                QRectF(x, rect.top(), rect.right() - x, rect.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
            x -= 22
            paint_priority(
                p, self.ctx.theme, priority, QPointF(x + 10, rect.center().y()), 20, number=False
            )
            x -= 6
        return float(rect.right() - x)

    def _paint_row(
        self, p: QPainter, c: _Colors, row: _Row, rect: QRectF, text: QColor, wide: bool
    ) -> None:
        x0, x1 = rect.left() + PAD / 2, rect.right() - PAD / 2
        top = rect.top()
        verdict = row.verdict
        abnormal = verdict.abnormal and not self._stale
        accent = verdict_color(self.ctx.theme, verdict) if abnormal else text
        mark_w = 20.0
        room = x1 - x0 - mark_w - 2 - (0 if wide else 24)  # compact: leave a stub of track
        value = row.value_text(room, wide)
        value_w = row.value_w
        if wide:  # name left, value right on one line; the track beneath
            line = QRectF(x0, top + 2, x1 - x0 - mark_w - 2, 30)
            mark_at = QPointF(x1 - mark_w / 2, top + 17)
            bar = QRectF(x0, top + 35, x1 - x0, 9)
            name_rect = QRectF(x0, top + 2, max(20.0, line.width() - value_w - 8), 30)
            value_rect = line
        else:  # name on its own line; the track and the value beside each other beneath
            name_rect = QRectF(x0, top + 1, x1 - x0, 19)
            value_rect = QRectF(x0, top + 20, x1 - x0 - mark_w - 2, 28)
            mark_at = QPointF(x1 - mark_w / 2, top + 34)
            bar_w = max(0.0, value_rect.width() - value_w - 10)
            bar = QRectF(x0, top + 30, bar_w, 9)
        # Static texts: laid out once per text, not on every paint.
        p.setFont(_font(row.value_px, True))
        p.setPen(accent)
        p.drawStaticText(_right_v(value_rect, value, value_w), value)
        if abnormal and math.isfinite(row.value):
            paint_mark(p, verdict, mark_at, 15, accent)
        elif row.heading and row.good and not self._stale:  # this row's value is projected
            p.setFont(_font(16, True))
            p.setPen(text)
            p.drawText(
                QRectF(mark_at.x() - mark_w / 2, mark_at.y() - 12, mark_w, 24),
                Qt.AlignmentFlag.AlignCenter,
                row.heading,
            )
        p.setFont(_font(16))
        p.setPen(c.text_dim)
        label = row.label_text(int(name_rect.width()))
        p.drawStaticText(_left_v(name_rect, label), label)
        # Track with the normal band and a marker at the value.
        if row.track is None or bar.width() < 16:
            return
        lo, hi = row.track
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
        p.setBrush(accent)
        p.drawRect(QRectF(mx - 2, bar.top() - 5, 4, bar.height() + 10))

    # -- interaction ---------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: D102, N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.globalPosition()
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
        # Screen coordinates: a tile that moved under the finger (it scrolled) is still a tap.
        moved = (event.globalPosition() - press).manhattanLength()
        if moved > TOUCH / 2 or not self.rect().contains(pos.toPoint()):
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
        # Keyboard focus brings the tile into view; a tap must not scroll it from under the
        # finger (the tap opens the machine instead).
        self._keyboard_focus = _by_keyboard(event)
        if self._keyboard_focus:
            parent = self.parentWidget()
            while parent is not None and not isinstance(parent, QScrollArea):
                parent = parent.parentWidget()
            if isinstance(parent, QScrollArea):
                parent.ensureWidgetVisible(self, SPACING, SPACING)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: D102, N802
        super().focusOutEvent(event)
        self.update()


# -- the plant summary strip ------------------------------------------------------------------

SUMMARY_KINDS = ("fault", "offline", "out_of_range", "alarms")


class _SummaryChip(QtTappable):
    """One count of the summary strip: a shape, the number, the words; a tap opens the first."""

    def __init__(self, summary: QtPlantSummary, kind: str) -> None:
        super().__init__(summary)
        self.summary = summary
        self.kind = kind
        self.count = 0
        self.first: str | None = None
        self._keyboard_focus = False
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumHeight(TOUCH)

    def words(self) -> str:
        """``2 in fault``, ``0 offline``, ``1 out of range``, ``3 alarms``."""
        n = self.count
        return {
            "fault": f"{n} in fault",
            "offline": f"{n} offline",
            "out_of_range": f"{n} out of range",
            "alarms": f"{n} alarm{'' if n == 1 else 's'}",
        }[self.kind]

    def set_count(self, count: int, first: str | None) -> bool:
        if (count, first) == (self.count, self.first):
            return False
        self.count, self.first = count, first
        self.setAccessibleName(self.words())
        self.setToolTip(f"Open {first}" if first else "")
        self.setCursor(Qt.CursorShape.PointingHandCursor if first else Qt.CursorShape.ArrowCursor)
        self.update()
        return True

    def preferred_width(self) -> int:
        fm = QFontMetrics(_font(18, True))
        return 44 + fm.horizontalAdvance(self.words()) + 18

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        theme = self.summary.ctx.theme
        c = _colors(theme)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), c.background)
        frame = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        active = self.count > 0
        color = {
            "fault": c.fault,
            "offline": c.stale,
            "out_of_range": c.warning,
            "alarms": c.fault,
        }[self.kind]
        # Offline is dashed, like an offline tile's border; the text stays on a plain panel.
        style = Qt.PenStyle.DashLine if active and self.kind == "offline" else Qt.PenStyle.SolidLine
        p.setPen(QPen(color if active else c.border, 2 if active else 1, style))
        p.setBrush(c.panel)
        p.drawRoundedRect(frame, 6, 6)
        if self.hasFocus() and self._keyboard_focus:  # no ring after a tap or at start-up
            p.setPen(QPen(c.focus, 3))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(frame.adjusted(3, 3, -3, -3), 4, 4)
        ink = color if active else c.text_dim
        self._paint_shape(p, QPointF(24, self.height() / 2), ink, active)
        p.setFont(_font(18, True))
        p.setPen(c.text if active else c.text_dim)
        p.drawText(
            QRectF(44, 0, self.width() - 50, self.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self.words(),
        )
        p.end()

    def _paint_shape(self, p: QPainter, at: QPointF, color: QColor, active: bool) -> None:
        p.save()
        x, y = at.x(), at.y()
        if self.kind == "fault":  # the fault icon's triangle with "!"
            tri = QPolygonF([QPointF(x, y - 10), QPointF(x + 11, y + 9), QPointF(x - 11, y + 9)])
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawPolygon(tri)
            p.setPen(QPen(self.summary.ctx.theme.color("banner_text" if active else "panel"), 2))
            p.drawLine(QPointF(x, y - 3), QPointF(x, y + 3))
            p.drawPoint(QPointF(x, y + 6))
        elif self.kind == "offline":  # a crossed circle
            p.setPen(QPen(color, 2.5))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(at, 10, 10)
            p.drawLine(QPointF(x - 6, y - 6), QPointF(x + 6, y + 6))
        elif self.kind == "out_of_range":  # ▲ over ▼
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawPolygon(
                QPolygonF([QPointF(x, y - 11), QPointF(x + 8, y - 2), QPointF(x - 8, y - 2)])
            )
            p.drawPolygon(
                QPolygonF([QPointF(x - 8, y + 2), QPointF(x + 8, y + 2), QPointF(x, y + 11)])
            )
        else:  # alarms: a bell-ish rounded square
            p.setPen(QPen(color, 2.5))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(QRectF(x - 9, y - 9, 18, 18), 4, 4)
        p.restore()

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        super().focusInEvent(event)
        self._keyboard_focus = _by_keyboard(event)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        super().focusOutEvent(event)
        self.update()

    def activate(self) -> None:
        """Open the first machine this chip counts (nothing when it counts none)."""
        if self.first is not None:
            self.summary.ctx.open_machine.emit(self.first)


class QtPlantSummary(QWidget):
    """The strip above the tiles: machines in fault, offline, out of range, alarms; never scrolls.

    Counts come from the tiles (so they agree with what the tiles show); the alarms chip is
    hidden until the alarm system feeds any tile a count.
    """

    def __init__(self, ctx: StationContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("plantSummary")
        self.ctx = ctx
        self.setFixedHeight(SUMMARY_H)
        self.chips = {kind: _SummaryChip(self, kind) for kind in SUMMARY_KINDS}
        self.chips["alarms"].hide()
        self._plant_text = ""

    def counts(self) -> dict[str, int]:
        """``fault``, ``offline``, ``out_of_range`` (and ``alarms`` once shown) → count."""
        return {k: c.count for k, c in self.chips.items() if k != "alarms" or c.isVisible()}

    def first(self, kind: str) -> str | None:
        """The machine a tap on ``kind`` opens."""
        return self.chips[kind].first

    def chip_rect(self, kind: str) -> QRect:
        """Where the chip is (summary coordinates)."""
        return self.chips[kind].geometry()

    def update_from(self, tiles: list[QtMachineTile]) -> None:
        """Recount from the tiles, in display order (the first of each kind is what opens)."""
        lists: dict[str, list[str]] = {k: [] for k in SUMMARY_KINDS}
        alarms_known = False
        alarms = 0
        running = 0
        for tile in tiles:
            mid = tile.machine_id
            state = tile.state_text()
            if state == "fault" or (tile.is_stale() and tile.last_known_state() == "fault"):
                lists["fault"].append(mid)
            if state == "offline":
                lists["offline"].append(mid)
            elif not tile.is_stale() and tile.abnormal_tags():
                lists["out_of_range"].append(mid)
            running += state == "running"
            n = tile.alarm_count()
            if n is not None:
                alarms_known = True
                alarms += n
                if n:
                    lists["alarms"].append(mid)
        changed = False
        for kind, ids in lists.items():
            count = alarms if kind == "alarms" else len(ids)
            changed |= self.chips[kind].set_count(count, ids[0] if ids else None)
        if alarms_known != self.chips["alarms"].isVisible():
            self.chips["alarms"].setVisible(alarms_known)
            changed = True
        plant = f"{len(tiles)} machines · {running} running"
        if plant != self._plant_text:
            self._plant_text = plant
            changed = True
        if changed:
            self._place()
            self.update()

    def plant_text(self) -> str:
        """``12 machines · 9 running``."""
        return self._plant_text

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: D102, N802
        super().resizeEvent(event)
        self._place()

    def _place(self) -> None:
        x = SPACING
        y = (SUMMARY_H - TOUCH) // 2
        for chip in self.chips.values():
            if chip.isHidden():
                continue
            w = chip.preferred_width()
            chip.setGeometry(x, y, w, TOUCH)
            x += w + SPACING

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102, N802
        c = _colors(self.ctx.theme)
        p = QPainter(self)
        p.fillRect(self.rect(), c.background)
        p.setPen(QPen(c.border, 1))
        p.drawLine(0, self.height() - 1, self.width(), self.height() - 1)
        visible = [chip for chip in self.chips.values() if not chip.isHidden()]
        left = (visible[-1].geometry().right() + SPACING) if visible else SPACING
        p.setFont(_font(16))
        p.setPen(c.text_dim)
        p.drawText(
            QRectF(left, 0, self.width() - left - SPACING, self.height()),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            self._plant_text,
        )
        p.end()


# -- the board: band titles painted behind the tiles -------------------------------------------


class _Board(QWidget):
    """The scrolled widget: paints the background and each line's band title behind the tiles."""

    def __init__(self, ctx: StationContext) -> None:
        super().__init__()
        self.setObjectName("overviewTiles")
        self.ctx = ctx
        self.titles: list[tuple[QRectF, str, bool]] = []  # rect, text, is the line's title
        self.empty = True  # no machine known yet: say so instead of an empty grey screen

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        c = _colors(self.ctx.theme)
        p = QPainter(self)
        p.fillRect(event.rect(), c.background)
        if self.empty:
            p.setFont(_font(22, True))
            p.setPen(c.text_dim)
            p.drawText(
                QRectF(self.rect()).adjusted(0, 0, 0, -self.height() / 3),
                Qt.AlignmentFlag.AlignCenter,
                "No machines yet\nthey appear here once the hub sends them",
            )
        for rect, text, is_line in self.titles:
            if not rect.intersects(QRectF(event.rect())):
                continue
            font = _font(18 if is_line else 16, is_line)
            p.setFont(font)
            p.setPen(c.text if is_line else c.text_dim)
            p.drawText(
                rect,
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, int(rect.width())),
            )
        p.end()


class QtOverview(QWidget):
    """The plant at a glance: a summary strip, then one band of tiles per line, fitted."""

    def __init__(self, ctx: StationContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overview")
        self.ctx = ctx
        self.tiles: dict[str, QtMachineTile] = {}
        # (line, area) groups, in display order; a line's groups form its band.
        self._groups: list[tuple[tuple[str, str], list[str]]] = []
        self._version = -1
        self._needs_sync = True
        self._next = 0
        self._next_advice = 0  # the next tile whose projections may be due
        self._last_order = 0.0
        self._last_pass = 0.0
        self._layout_size = (-1, -1)
        self._columns = 1
        self._tile_size = QSize(0, 0)
        self._alarms_version = -1

        self.summary = QtPlantSummary(ctx, self)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(False)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.container = _Board(ctx)
        self.scroll.setWidget(self.container)

        ctx.frame.connect(self._on_frame)
        ctx.event.connect(self._on_event)
        self._sync()

    # -- public --------------------------------------------------------------------------------

    def ordered_ids(self) -> list[str]:
        """Machine ids in display order (line by line, area by area, attention first)."""
        return [mid for _key, ids in self._groups for mid in ids]

    def groups(self) -> list[tuple[str, list[str]]]:
        """Section titles (``Line 1 · Machining``) and their machine ids in display order."""
        return [(_section_title(*key), list(ids)) for key, ids in self._groups]

    def bands(self) -> list[tuple[str, list[str]]]:
        """Each line's title and its machine ids in display order (one band per line)."""
        out: list[tuple[str, list[str]]] = []
        for (line, _area), ids in self._groups:
            title = _line_title(line)
            if out and out[-1][0] == title:
                out[-1][1].extend(ids)
            else:
                out.append((title, list(ids)))
        return out

    def band_titles(self) -> list[str]:
        """What the band titles say: each line's name, then each area's, in order."""
        return [text for _rect, text, _is_line in self.container.titles]

    def columns(self) -> int:
        """How many tile columns the current width holds."""
        return self._columns

    def tile_size(self) -> QSize:
        """The size every tile has now (they shrink to fit the window)."""
        return QSize(self._tile_size)

    def viewport_rect(self) -> QRect:
        """The visible part of the tile area, in the overview's own coordinates."""
        vp = self.scroll.viewport()
        return QRect(vp.mapTo(self, vp.rect().topLeft()), vp.size())

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
        since = now - self._last_pass
        if since < 0.9 / pass_hz:
            return
        self._last_pass = now
        order = self.ordered_ids()
        n = len(order)
        if n == 0:
            return
        # Frames may come at the steady rate or only when data arrive (ctx pace "on_data"):
        # the budget is what VALUE_HZ a tile allows over the time since the last pass.
        budget = math.ceil(n * VALUE_HZ * min(max(since, 1 / pass_hz), 1.0))
        for _ in range(n):
            if budget <= 0:
                break
            self._next %= n
            mid = order[self._next]
            tile = self.tiles[mid]
            self._next += 1
            spark_due = now - tile.spark_at >= 0.9 / SPARK_HZ
            age = now - tile.checked_at
            seen = (store.last_update(mid), store.link_quality)
            fresh = seen != tile.seen and (
                age >= 0.9 / VALUE_HZ or seen[1] != tile.seen[1] or tile.state_moved(store)
            )
            if not spark_due and not fresh and age < 0.9 * RECHECK_S:
                continue  # nothing arrived and nothing can have aged: no work, no repaint
            budget -= 1
            tile.seen, tile.checked_at = seen, now
            tile.refresh(store, now)
            if spark_due:  # in the same pass: one repaint for both
                tile.refresh_spark(store, now)
        self._advise(order, now)
        self._feed_alarms()
        self.summary.update_from([self.tiles[mid] for mid in order])
        if now - self._last_order >= ORDER_S:
            self._last_order = now
            self._reorder()

    def _advise(self, order: list[str], now: float) -> None:
        """Projections, round-robin: each tile at most once per ADVICE_S, few tiles a pass.

        Spread over passes so that their cost never lands in one frame (all the tiles' first
        refreshes fall due together).
        """
        budget = ADVICE_TILES
        n = len(order)
        for _ in range(n):
            if budget <= 0:
                break
            self._next_advice %= n
            tile = self.tiles[order[self._next_advice]]
            self._next_advice += 1
            if now - tile.advised_at >= 0.9 * ADVICE_S:
                tile.advise(self.ctx.store, now)
                budget -= 1

    def showEvent(self, event: QShowEvent) -> None:  # noqa: D102, N802
        super().showEvent(event)
        self._relayout(force=True)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: D102, N802
        super().resizeEvent(event)
        self.summary.setGeometry(0, 0, self.width(), SUMMARY_H)
        self.scroll.setGeometry(0, SUMMARY_H, self.width(), max(0, self.height() - SUMMARY_H))
        self._relayout()

    # -- building ------------------------------------------------------------------------------

    def _sync(self) -> None:
        """Match the tiles to the store's machines: add, replace metadata, remove; then lay out."""
        store = self.ctx.store
        self._version = store.version
        self._needs_sync = False
        self._alarms_version = -1  # tiles made here need their alarm counts
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
        self._groups = [(key, grouped[key]) for key in sorted(grouped)]
        if self.container.empty != (not self.tiles):
            self.container.empty = not self.tiles
            self._relayout(force=True)
        self._reorder(force=True)
        self.summary.update_from([self.tiles[mid] for mid in self.ordered_ids()])

    def _feed_alarms(self) -> None:
        """Each tile's current alarms per priority, when the station's alarms changed."""
        from copilot.alarms.board import current

        alarms = self.ctx.station.alarms
        if alarms.version == self._alarms_version:
            return
        self._alarms_version = alarms.version
        counts: dict[str, dict[str, int]] = {mid: {} for mid in self.tiles}
        for s in alarms.all().values():
            if s.machine in counts and current(s):
                counts[s.machine][s.priority] = counts[s.machine].get(s.priority, 0) + 1
        for mid, tile in self.tiles.items():
            tile.set_alarm_counts(counts[mid])

    def _reorder(self, force: bool = False) -> None:
        changed = False
        for i, (key, ids) in enumerate(self._groups):
            ordered = sorted(ids, key=lambda mid: self.tiles[mid].sort_key())
            if ordered != ids:
                self._groups[i] = (key, ordered)
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
        """One band per line; tiles sized so that every band fits the viewport when it can.

        Columns: the longest line's machine count (so a line is one row), fewer when the width
        cannot hold them at their minimum width (a line then wraps within its own band). Tile
        height: what the viewport height leaves per row, between the tile's minimum and maximum;
        only when even the minimum does not fit does the area scroll.
        """
        gap = SPACING
        width = max(TILE_MIN_W + 2 * gap, self.scroll.width())
        height = max(1, self.scroll.height())
        if (width, height) == self._layout_size and not force:
            return
        self._layout_size = (width, height)
        bands = self.bands()
        longest = max((len(ids) for _t, ids in bands), default=1)
        fit_cols = max(1, (width - gap) // (TILE_MIN_W + gap))
        cols = max(1, min(longest, fit_cols))
        rows = sum(math.ceil(len(ids) / cols) for _t, ids in bands)
        title_total = len(bands) * TITLE_H
        per_row = (height - title_total - gap // 2) / max(1, rows) - gap
        tile_h = int(min(TILE_MAX_H, max(TILE_MIN_H, per_row)))
        scrolls = per_row < TILE_MIN_H
        # Only a plant that cannot fit gets a scroll bar (it would otherwise eat the width).
        policy = (
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if scrolls
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )
        if self.scroll.verticalScrollBarPolicy() != policy:
            self.scroll.setVerticalScrollBarPolicy(policy)
        bar_w = self.scroll.verticalScrollBar().sizeHint().width() if scrolls else 0
        inner = width - bar_w - 2 * gap
        tile_w = int(min(TILE_MAX_W, (inner - (cols - 1) * gap) // cols))
        self._columns = cols
        self._tile_size = QSize(tile_w, tile_h)
        titles: list[tuple[QRectF, str, bool]] = []
        band_line: str | None = None
        band_top = band_bottom = float(gap // 2)
        band_col = 0
        title_right = 0.0
        line_metrics = QFontMetrics(_font(18, True))
        for (line, area), ids in self._groups:
            if line != band_line:  # a new band starts under the previous one's last row
                band_line = line
                band_top = band_bottom + (gap // 2 if titles else 0)
                band_col = 0
                title = _line_title(line)
                line_rect = QRectF(
                    gap, band_top, line_metrics.horizontalAdvance(title) + 4, TITLE_H
                )
                titles.append((line_rect, title, True))
                band_bottom = band_top + TITLE_H
                title_right = line_rect.right()
            for i, mid in enumerate(ids):
                row, col = divmod(band_col + i, cols)
                x = gap + col * (tile_w + gap)
                ty = band_top + TITLE_H + row * (tile_h + gap)
                self.tiles[mid].setGeometry(int(x), int(ty), tile_w, tile_h)
                band_bottom = max(band_bottom, ty + tile_h)
            row0, col0 = divmod(band_col, cols)
            if area and ids and row0 == 0:  # the area's name over its first tiles
                ax = gap + col0 * (tile_w + gap)
                left = max(ax + 4.0, title_right + 14 if col0 == 0 else 0.0)
                right = ax + min(len(ids), cols - col0) * (tile_w + gap) - gap
                if right - left > 30:
                    titles.append((QRectF(left, band_top, right - left, TITLE_H), area, False))
            band_col += len(ids)
        bottom = int(band_bottom) + gap // 2
        self.container.titles = titles
        if not self.tiles:  # the "No machines yet" words need the whole viewport
            bottom = max(bottom, self.scroll.viewport().height())
        self.container.resize(width - bar_w, max(bottom, 1))
        self.container.update()
