"""The always-visible alarm row: the alarm banner, the alarm-load meter and the flood banner.

:class:`QtAlarmBanner` shows the most urgent unacknowledged alarm (priority shape and word,
machine, message, time since), how many more need acknowledging, and the current alarms per
priority. While something unacknowledged and not silenced stands, its priority block flashes
gently (1 s on, 1 s off: 0.5 Hz) — driven by the window's frame clock, repainting only that
block when the phase turns, so an idle plant costs nothing. A tap opens the alarm table.

:class:`QtAlarmLoad` is the operator's live alarm load: the alarms raised in the last 10 min
against the 1 (acceptable) and 2 (manageable) marks. :class:`QtFloodBanner` appears only in a
flood: the meter's summary and each machine's first-out alarm. All three read one
:class:`~ui.alarms.watch.QtAlarmWatch`; colour appears only when something is abnormal.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QFont,
    QFontMetrics,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QHBoxLayout, QWidget

from copilot.alarms.board import (
    ACCEPTABLE_PER_10MIN,
    MANAGEABLE_PER_10MIN,
    short_message,
    since_text,
)
from copilot.protocol import PRIORITIES
from ui.alarms.look import paint_priority, priority_color, priority_path, priority_word
from ui.alarms.watch import QtAlarmWatch
from ui.context import StationContext
from ui.tap import QtTappable
from ui.theme import SPACING, TOUCH

FLASH_PERIOD_S = 2.0  # on for half of it: 0.5 Hz, well under the 1 Hz ceiling, and gentle
BANNER_H = TOUCH + 8
BLOCK_W = 150  # the flashing priority block at the left


def _font(px: int, bold: bool = False) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPixelSize(px)
    font.setBold(bold)
    return font


class _Tappable(QtTappable):
    """A widget that opens the alarm table on a tap, Enter or Space."""

    def __init__(self, ctx: StationContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)

    def activate(self) -> None:
        """Open the alarm table."""
        self.ctx.open_alarms.emit()


class QtAlarmBanner(_Tappable):
    """The most urgent unacknowledged alarm, the counts per priority; flashes while unacked."""

    def __init__(
        self, ctx: StationContext, watch: QtAlarmWatch, parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx, parent)
        self.setObjectName("alarmBanner")
        self.watch = watch
        self.setMinimumHeight(BANNER_H)
        self.setAccessibleName("Alarm banner: tap to open the alarm table")
        self.setToolTip("Open the alarm table (F2)")
        self.flash_on = True  # the flashing block's phase (True: filled)
        self.repaints = 0  # for tests: how often the banner painted
        self._phase = -1
        watch.changed.connect(self._on_changed)
        ctx.frame.connect(self._on_frame)

    # -- what it shows (tests read these) ----------------------------------------------------------

    @property
    def flashing(self) -> bool:
        """Whether the banner flashes (something unacknowledged and not silenced)."""
        return self.watch.facts.flashing

    def headline(self) -> str:
        """The top alarm in words: ``High · Press 1 · Hydraulic pressure low · 2 min``."""
        top = self.watch.facts.top
        if top is None:
            return "No alarms"
        when = since_text(top.raised_at, self.watch.now_ns)
        name = self.watch.machine_name(top.machine)
        message = short_message(top, name)
        return f"{priority_word(top.priority)} · {name} · {message} · {when}"

    def top_id(self) -> str | None:
        """The id of the alarm the banner leads with."""
        top = self.watch.facts.top
        return None if top is None else top.id

    def counts(self) -> dict[str, int]:
        """Current alarms per priority, as shown."""
        return dict(self.watch.facts.counts)

    def sizeHint(self) -> QSize:  # noqa: D102, N802
        return QSize(800, BANNER_H)

    # -- clock -------------------------------------------------------------------------------------

    def _on_changed(self) -> None:
        self.setAccessibleDescription(self.headline())
        self.update()

    def _on_frame(self, now: float) -> None:
        if not self.watch.facts.flashing:
            if not self.flash_on:
                self.flash_on = True
                self.update(self._block_rect().toAlignedRect())
            return
        phase = int(now / (FLASH_PERIOD_S / 2)) % 2
        if phase != self._phase:
            self._phase = phase
            self.flash_on = phase == 0
            self.update(self._block_rect().toAlignedRect())

    def _block_rect(self) -> QRectF:
        return QRectF(SPACING / 2, 4, BLOCK_W, self.height() - 8)

    # -- painting ----------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102, N802
        self.repaints += 1
        theme = self.ctx.theme
        facts = self.watch.facts
        top = facts.top
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), theme.color("panel"))
        p.setPen(QPen(theme.color("border"), 1))
        p.drawLine(0, self.height() - 1, self.width(), self.height() - 1)
        block = self._block_rect()
        unacked = top is not None and facts.unacked > 0
        if top is None:
            p.setFont(_font(18))
            p.setPen(theme.color("text_dim"))
            p.drawText(
                QRectF(SPACING, 0, self.width() / 2, self.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                "No alarms",
            )
        else:
            color = priority_color(theme, top.priority)
            filled = unacked and self.flash_on
            # The block: filled with the priority's colour while unacknowledged (flashing),
            # outlined once acknowledged, so the state reads without the colour too.
            p.setPen(QPen(color, 3))
            p.setBrush(color if filled else theme.color("panel"))
            p.drawRoundedRect(block.adjusted(1.5, 1.5, -1.5, -1.5), 6, 6)
            paint_priority(
                p,
                theme,
                top.priority,
                QPointF(block.left() + 24, block.center().y()),
                30,
                hollow=False,
            )
            p.setFont(_font(18, True))
            ink = theme.color("banner_text" if filled and top.priority != "medium" else "text")
            if filled and top.priority == "medium":
                ink = theme.color("warning_text")
            p.setPen(ink)
            word = "UNACK" if unacked else "ACK"
            p.drawText(
                block.adjusted(44, 0, -6, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"{priority_word(top.priority).upper()}\n{word}",
            )
            x = block.right() + SPACING
            right = self._counts_left()
            more = facts.unacked - (1 if unacked else 0)
            tail = f"  {since_text(top.raised_at, self.watch.now_ns)} ago"
            if more > 0:
                tail += f"   +{more} more"
            if facts.silenced:
                tail += f"   {facts.silenced} silenced"
            name = self.watch.machine_name(top.machine)
            p.setFont(_font(18, True))
            p.setPen(theme.color("text"))
            fm = QFontMetrics(p.font())
            tail_w = QFontMetrics(_font(16)).horizontalAdvance(tail) + 4
            head = fm.elidedText(
                f"{name} · {short_message(top, name)}",
                Qt.TextElideMode.ElideRight,
                int(max(40, right - x - tail_w - SPACING)),
            )
            p.drawText(
                QRectF(x, 0, right - x, self.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                head,
            )
            p.setFont(_font(16))
            p.setPen(theme.color("text_dim"))
            p.drawText(
                QRectF(x + fm.horizontalAdvance(head), 0, tail_w, self.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                tail,
            )
        self._paint_counts(p)
        if self.hasFocus():
            p.setPen(QPen(theme.color("focus"), 3))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(self.rect()).adjusted(2, 2, -2, -2))
        p.end()

    def _count_items(self) -> list[tuple[str, int]]:
        counts = self.watch.facts.counts
        return [(pr, counts.get(pr, 0)) for pr in PRIORITIES if pr != "diagnostic" or counts[pr]]

    def _counts_left(self) -> float:
        return self.width() - SPACING - 64 * len(self._count_items())

    def _paint_counts(self, p: QPainter) -> None:
        theme = self.ctx.theme
        x = self._counts_left()
        p.setFont(_font(18, True))
        for priority, n in self._count_items():
            center = QPointF(x + 14, self.height() / 2)
            if n:
                paint_priority(p, theme, priority, center, 26)
            else:  # nothing of this priority: a grey outline, no colour
                p.save()
                p.setPen(QPen(theme.color("border"), 2))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawPath(priority_path(priority, center, 22))
                p.restore()
            p.setFont(_font(18, True))
            p.setPen(theme.color("text" if n else "text_dim"))
            p.drawText(
                QRectF(x + 30, 0, 32, self.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                str(n),
            )
            x += 64


class QtAlarmLoad(_Tappable):
    """The alarms raised in the last 10 min against the 1 and 2 marks (small, always visible)."""

    SCALE = 12  # the bar's full length: past it, a flood

    def __init__(
        self, ctx: StationContext, watch: QtAlarmWatch, parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx, parent)
        self.setObjectName("alarmLoad")
        self.watch = watch
        self.setFixedSize(250, BANNER_H)
        self._shown: tuple[int, str] = (-1, "")
        watch.changed.connect(self._on_changed)

    def text(self) -> str:
        """``Load 3 / 10 min · high``."""
        words = {
            "acceptable": "acceptable",
            "manageable": "manageable",
            "overloaded": "too many",
            "flood": "FLOOD",
        }
        return f"{self.watch.rate} in 10 min · {words[self.watch.level]}"

    def _on_changed(self) -> None:
        shown = (self.watch.rate, self.watch.level)
        if shown != self._shown:
            self._shown = shown
            self.setToolTip(
                f"Alarm load: {self.text()}. Targets per operator: about "
                f"{ACCEPTABLE_PER_10MIN} per 10 min is acceptable, {MANAGEABLE_PER_10MIN} "
                "manageable; more than 10 is a flood."
            )
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102, N802
        theme = self.ctx.theme
        level = self.watch.level
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), theme.color("panel"))
        p.setPen(QPen(theme.color("border"), 1))
        p.drawLine(0, 6, 0, self.height() - 6)
        p.drawLine(0, self.height() - 1, self.width(), self.height() - 1)
        x0, x1 = 12.0, self.width() - 12.0
        track = QRectF(x0, self.height() - 22, x1 - x0, 10)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(theme.color("normal_band"))
        p.drawRect(track)
        fill = {
            "acceptable": theme.color("bar"),
            "manageable": theme.color("bar"),
            "overloaded": theme.color("warning"),
            "flood": theme.color("fault"),
        }[level]
        frac = min(1.0, self.watch.rate / self.SCALE)
        filled = QRectF(track.left(), track.top(), track.width() * frac, track.height())
        p.setBrush(fill)
        p.drawRect(filled)
        if level in ("overloaded", "flood"):  # a pattern as well as a colour when too many
            p.setBrush(QBrush(theme.color("panel"), Qt.BrushStyle.BDiagPattern))
            p.drawRect(filled)
        for mark in (ACCEPTABLE_PER_10MIN, MANAGEABLE_PER_10MIN, 10):
            mx = track.left() + track.width() * mark / self.SCALE
            p.setPen(QPen(theme.color("text"), 2))
            p.drawLine(QPointF(mx, track.top() - 4), QPointF(mx, track.bottom() + 2))
        p.setFont(_font(16, level in ("overloaded", "flood")))
        p.setPen(theme.color("text") if level != "acceptable" else theme.color("text_dim"))
        p.drawText(
            QRectF(x0, 2, x1 - x0, self.height() - 26),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            ("▲ " if level in ("overloaded", "flood") else "") + self.text(),
        )
        p.end()


class QtFloodBanner(_Tappable):
    """Shown only in an alarm flood: how many, from where, and the first-out alarm per machine."""

    def __init__(
        self, ctx: StationContext, watch: QtAlarmWatch, parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx, parent)
        self.setObjectName("floodBanner")
        self.watch = watch
        self.setMinimumHeight(BANNER_H + 8)
        self.hide()
        self._lines: tuple[str, list[str]] = ("", [])
        watch.changed.connect(self._on_changed)

    def summary(self) -> str:
        """``Alarm flood: 12 alarms in 10 min, 9 from Line 2`` (empty when not in flood)."""
        return f"Alarm flood: {self.watch.flood_summary}" if self.watch.in_flood else ""

    def first_out_texts(self) -> list[str]:
        """``Press 1: Hydraulic pressure low`` per machine with a first-out alarm."""
        return [
            f"{name}: {short_message(s, name)}"
            for s in self.watch.first_outs
            for name in [self.watch.machine_name(s.machine)]
        ]

    def _on_changed(self) -> None:
        lines = (self.summary(), self.first_out_texts())
        if lines == self._lines:
            return
        self._lines = lines
        self.setVisible(self.watch.in_flood)
        self.setAccessibleDescription(" — ".join([lines[0], *lines[1]]))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102, N802
        theme = self.ctx.theme
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), theme.color("panel"))
        warn = theme.color("warning")
        # A hatched amber edge: a flood reads as a pattern, not only as a hue.
        edge = QRectF(0, 0, 18, self.height())
        p.fillRect(edge, warn)
        p.fillRect(edge, QBrush(theme.color("panel"), Qt.BrushStyle.BDiagPattern))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(warn, 3))
        p.drawRect(QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5))
        p.setPen(theme.color("text"))
        p.setFont(_font(18, True))
        summary, firsts = self._lines
        p.drawText(
            QRectF(30, 4, self.width() - 40, 28),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            summary + " — deal with the first-out alarms first",
        )
        p.setFont(_font(16))
        text = "First out:  " + ("   ·   ".join(firsts) if firsts else "none marked")
        fm = QFontMetrics(p.font())
        p.drawText(
            QRectF(30, 32, self.width() - 40, self.height() - 36),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(text, Qt.TextElideMode.ElideRight, self.width() - 40),
        )
        p.end()


class QtAlarmRow(QWidget):
    """The window's alarm row above every view: the banner and the load meter side by side."""

    def __init__(self, ctx: StationContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.watch = QtAlarmWatch(ctx)
        self.banner = QtAlarmBanner(ctx, self.watch)
        self.load = QtAlarmLoad(ctx, self.watch)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner, 1)
        layout.addWidget(self.load)
        self.watch.refresh()
