"""The alarm table (view ``alarms``): active and recent alarms in one list, and the acts on them.

Rows are the station's alarms merged with the hub journal's recent occurrences
(``station.query_alarms``, the last :data:`HISTORY_S`), one row per occurrence
(:func:`copilot.alarms.board.merge`). Every decision — the state words, the filter, the sort
order — is :mod:`copilot.alarms.board`'s; this module only shows it and turns taps into calls
on the station: ``station.act_on_alarms(action, ids, who, …)``. The hub answers once its journal
holds the act (:class:`~copilot.station.AlarmActed`); the answer — done, or the hub's refusal
sentence — is shown under the table. New states arrive on the update stream like every other
station's, so the table shows what the hub decided, never what the station hoped.

Touch: every button and row is at least 48 px; the first column is the selection box (a tap
there selects), a tap anywhere else on a row opens its machine. Acknowledging more than one
alarm, and shelving, ask first in a bar under the table that names how many.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from copilot.alarms.board import (
    STATE_KIND_WORDS,
    STATE_KINDS,
    AlarmFilter,
    SortKey,
    hidden,
    merge,
    operator_name,
    row_key,
    short_message,
    sort_alarms,
    state_kind,
    state_text,
    unacknowledged,
    value_text,
    who_text,
)
from copilot.protocol import PRIORITIES, AlarmAction, AlarmStatus
from copilot.station import AlarmActed, AlarmHistoryArrived, SessionChanged
from ui.alarms.look import paint_priority, priority_word
from ui.context import StationContext
from ui.theme import SPACING, TOUCH, Theme

HISTORY_S = 8 * 3600  # recent occurrences from the journal: one shift
HISTORY_EVERY_S = 30.0  # asked again this often while the table is visible
HISTORY_LIMIT = 500
REFRESH_S = 0.25  # rows rebuilt at most 4 times a second, only when something changed
ROW_H = 52
NS = 1_000_000_000

COLUMNS = ("", "Priority", "State", "Machine", "Message", "Value / limit", "Raised", "Who")
SORTS: dict[int, SortKey] = {1: "priority", 2: "state", 3: "machine", 4: "message", 6: "raised"}

SHELVE_REASONS = (
    "Nuisance: chattering or fleeting",
    "Instrument fault, repair requested",
    "Maintenance under way",
    "Known condition, being handled",
    "Other (say why)",
)
SHELVE_DURATIONS = (  # label, seconds (0: one-shot, until it clears)
    ("15 min", 15 * 60),
    ("30 min", 30 * 60),
    ("1 h", 3600),
    ("2 h", 2 * 3600),
    ("4 h", 4 * 3600),
    ("8 h (the hub's longest)", 8 * 3600),
    ("Until it clears (one-shot)", 0),
)
ACT_WORDS: dict[str, tuple[str, str]] = {  # action → (done, refused) words
    "ack": ("Acknowledged", "acknowledge"),
    "shelve": ("Shelved", "shelve"),
    "unshelve": ("Unshelved", "unshelve"),
    "reset": ("Reset", "reset"),
    "claim": ("Claimed", "claim"),
    "note": ("Noted", "note"),
}


def _font(px: int, bold: bool = False) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPixelSize(px)
    font.setBold(bold)
    return font


def _clock(ns: int) -> str:
    if not ns:
        return ""
    t = ns / NS
    same_day = time.localtime(t)[:3] == time.localtime()[:3]
    return time.strftime("%H:%M:%S" if same_day else "%d %b %H:%M", time.localtime(t))


def priority_icon(theme: Theme, priority: str, size: int = 24) -> QIcon:
    """The priority's shape as an icon (for filter buttons)."""
    pix = QPixmap(size, size)
    pix.fill(QColor(0, 0, 0, 0))
    p = QPainter(pix)
    paint_priority(p, theme, priority, QPointF(size / 2, size / 2), size - 2)
    p.end()
    return QIcon(pix)


@dataclass
class _Pending:
    action: AlarmAction
    ids: list[str]
    detail: str


class AlarmTableModel(QAbstractTableModel):
    """The rows shown, in order; which are selected (by occurrence, so a refresh keeps them)."""

    def __init__(self, view: QtAlarmTable) -> None:
        super().__init__()
        self.view = view
        self.rows: list[AlarmStatus] = []
        self.selected: set[tuple[str, int]] = set()

    def set_rows(self, rows: list[AlarmStatus]) -> None:
        """Replace the rows (the selection keeps the rows that are still there)."""
        self.beginResetModel()
        self.rows = rows
        keys = {row_key(s) for s in rows}
        self.selected &= keys
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, D102, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, D102, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: D102, N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def text(self, row: int, column: int) -> str:
        """The text of one cell, as shown."""
        s = self.rows[row]
        match column:
            case 0:
                return "selected" if row_key(s) in self.selected else ""
            case 1:
                return priority_word(s.priority)
            case 2:
                return state_text(s)
            case 3:
                return self.view.machine_name(s.machine)
            case 4:
                return short_message(s, self.view.machine_name(s.machine))
            case 5:
                return value_text(s)
            case 6:
                return _clock(s.raised_at)
            case 7:
                return who_text(s)
        return ""

    def data(  # noqa: D102
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if not index.isValid():
            return None
        s = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return "" if index.column() in (0, 1) else self.text(index.row(), index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{s.id}\n{state_text(s)}"
            return tip + (f"\nnote: {s.note}" if s.note else "")
        if role == Qt.ItemDataRole.FontRole:
            return _font(16, unacknowledged(s))
        if role == Qt.ItemDataRole.ForegroundRole:
            theme = self.view.ctx.theme
            return theme.color("text_dim" if hidden(s) or s.state == "normal" else "text")
        return None


class _Delegate(QStyledItemDelegate):
    """Paints the selection box (column 0) and the priority's shape and word (column 1)."""

    def __init__(self, view: QtAlarmTable) -> None:
        super().__init__(view)
        self.view = view

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        super().paint(painter, option, index)
        column = index.column()
        if column not in (0, 1):
            return
        model = self.view.model
        s = model.rows[index.row()]
        theme = self.view.ctx.theme
        rect = QRectF(option.rect)  # type: ignore[attr-defined]
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if column == 0:
            box = QRectF(rect.center().x() - 14, rect.center().y() - 14, 28, 28)
            chosen = row_key(s) in model.selected
            painter.setPen(QPen(theme.color("focus" if chosen else "border"), 2))
            painter.setBrush(theme.color("focus") if chosen else theme.color("panel"))
            painter.drawRoundedRect(box, 4, 4)
            if chosen:
                painter.setPen(QPen(theme.color("banner_text"), 3))
                painter.drawPolyline(
                    [
                        QPointF(box.left() + 6, box.center().y()),
                        QPointF(box.left() + 12, box.bottom() - 7),
                        QPointF(box.right() - 6, box.top() + 7),
                    ]
                )
        else:
            # Filled while it needs acknowledging, outlined once acknowledged or hidden.
            paint_priority(
                painter,
                theme,
                s.priority,
                QPointF(rect.left() + 22, rect.center().y()),
                28,
                hollow=not unacknowledged(s),
            )
            painter.setFont(_font(16, unacknowledged(s)))
            painter.setPen(theme.color("text"))
            painter.drawText(
                rect.adjusted(44, 0, -4, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                priority_word(s.priority),
            )
        painter.restore()


def _button(text: str, tip: str = "") -> QPushButton:
    b = QPushButton(text)
    b.setMinimumHeight(TOUCH)
    b.setToolTip(tip)
    return b


class QtAlarmTable(QWidget):
    """Active and recent alarms; filter, sort, select; acknowledge, shelve, reset, claim, note."""

    follows_theme = True  # reads ctx.theme when it paints: no rebuild on a theme change

    def __init__(self, ctx: StationContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alarmTable")
        self.ctx = ctx
        self._fallback_who = operator_name(ctx.settings.station.operator)
        self.filter = AlarmFilter()
        self.sort_key: SortKey = "urgency"
        self.descending = False
        self.history: list[AlarmStatus] = []
        self.result = ""
        self._history_request = 0
        self._history_at = 0.0
        self._pending: dict[int, _Pending] = {}
        self._confirm: tuple[AlarmAction, list[str]] | None = None
        self._version = -1
        self._dirty = True
        self._refreshed = 0.0
        self._names: dict[str, str] = {}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(SPACING, SPACING // 2, SPACING, SPACING // 2)
        layout.setSpacing(SPACING // 2)
        layout.addLayout(self._build_filters())

        self.model = AlarmTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("alarmRows")
        self.table.setModel(self.model)
        self.table.setItemDelegate(_Delegate(self))
        self.table.setSelectionMode(QTableView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(ROW_H)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setMinimumHeight(TOUCH)
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.sectionClicked.connect(self._on_header)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)  # the message takes the rest
        for column, width in enumerate((56, 130, 262, 150, 0, 130, 100, 150)):
            if width:
                header.resizeSection(column, width)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # urgency until a column is tapped
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.clicked.connect(self._on_click)
        layout.addWidget(self.table, 1)

        self.confirm_bar = self._build_confirm()
        self.shelve_bar = self._build_shelve()
        self.note_bar = self._build_note()
        for bar in (self.confirm_bar, self.shelve_bar, self.note_bar):
            bar.hide()
            layout.addWidget(bar)
        layout.addLayout(self._build_actions())
        self.result_label = QLabel("")
        self.result_label.setObjectName("alarmResult")
        self.result_label.setFont(_font(16, True))
        self.result_label.setWordWrap(True)
        self.result_label.setMinimumHeight(28)
        layout.addWidget(self.result_label)

        ctx.frame.connect(self._on_frame)
        ctx.event.connect(self._on_event)
        ctx.theme_changed.connect(self._on_theme)
        self._update_actions()

    # -- building ----------------------------------------------------------------------------------

    def _build_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(SPACING // 2)
        label = QLabel("Show:")
        row.addWidget(label)
        self.priority_buttons: dict[str, QPushButton] = {}
        for priority in PRIORITIES:
            b = _button(priority_word(priority), f"Show only {priority} alarms (tap again: all)")
            b.setCheckable(True)
            b.setIcon(priority_icon(self.ctx.theme, priority))
            b.toggled.connect(self._on_filters)
            self.priority_buttons[priority] = b
            row.addWidget(b)
        self.place_box = QComboBox()
        self.place_box.setMinimumHeight(TOUCH)
        self.place_box.setMinimumWidth(170)
        self.place_box.addItem("All machines", "")
        self.place_box.currentIndexChanged.connect(self._on_filters)
        row.addWidget(self.place_box)
        self.state_box = QComboBox()
        self.state_box.setMinimumHeight(TOUCH)
        self.state_box.addItem("Any state", "")
        self.state_box.addItem("Needs action", "unack,rtn_unack")
        self.state_box.addItem("Active or unacknowledged", "unack,rtn_unack,ack,latched")
        for kind in STATE_KINDS:
            self.state_box.addItem(STATE_KIND_WORDS[kind], kind)
        self.state_box.currentIndexChanged.connect(self._on_filters)
        row.addWidget(self.state_box)
        self.text_box = QLineEdit()
        self.text_box.setPlaceholderText("Filter: machine, message, who…")
        self.text_box.setMinimumHeight(TOUCH)
        self.text_box.setClearButtonEnabled(True)
        self.text_box.textChanged.connect(self._on_filters)
        row.addWidget(self.text_box, 1)
        return row

    def _build_actions(self) -> QVBoxLayout:
        rows = QVBoxLayout()
        rows.setSpacing(SPACING // 2)
        row = QHBoxLayout()
        row.setSpacing(SPACING // 2)
        second = QHBoxLayout()
        second.setSpacing(SPACING // 2)
        rows.addLayout(row)
        rows.addLayout(second)
        self.select_all_button = _button("Select all shown", "Select every row the filter shows")
        self.select_all_button.clicked.connect(self.select_all)
        self.clear_button = _button("Clear", "Clear the selection")
        self.clear_button.clicked.connect(self.clear_selection)
        self.ack_button = _button("✓ Acknowledge", "Acknowledge the selected alarms")
        self.ack_button.clicked.connect(lambda: self.ask("ack", self.selected_ids()))
        self.ack_all_button = _button("Acknowledge all shown", "Every unacknowledged row shown")
        self.ack_all_button.clicked.connect(
            lambda: self.ask("ack", [s.id for s in self.model.rows if unacknowledged(s)])
        )
        self.shelve_button = _button("Shelve…", "Put the selected alarms aside for a while")
        self.shelve_button.clicked.connect(self._open_shelve)
        self.unshelve_button = _button("Unshelve", "Bring the selected shelved alarms back")
        self.unshelve_button.clicked.connect(lambda: self.act("unshelve", self.selected_ids()))
        self.reset_button = _button("Reset", "Reset latched alarms whose condition has cleared")
        self.reset_button.clicked.connect(lambda: self.act("reset", self.selected_ids()))
        self.claim_button = _button("I'm on it", "Claim the selected alarms: others see your name")
        self.claim_button.clicked.connect(lambda: self.act("claim", self.selected_ids()))
        self.note_button = _button("Note…", "Add a note to the selected alarms")
        self.note_button.clicked.connect(self._open_note)
        self.trend_button = _button("Trend at raise", "The tag's trend around the raise time")
        self.trend_button.clicked.connect(self.open_trend)
        for b in (self.ack_button, self.ack_all_button, self.select_all_button, self.clear_button):
            row.addWidget(b)
        row.addStretch(1)
        self.who_label = QLabel(self._who_text())
        self.who_label.setObjectName("alarmWho")
        self.who_label.setFont(_font(16, True))
        self.who_label.setToolTip(
            "The hub records the person logged in on this station (Ctrl+L to log in or switch)"
        )
        row.addWidget(self.who_label)
        for b in (
            self.claim_button,
            self.shelve_button,
            self.unshelve_button,
            self.reset_button,
            self.note_button,
            self.trend_button,
        ):
            second.addWidget(b)
        second.addStretch(1)
        return rows

    def _bar(self) -> tuple[QFrame, QHBoxLayout]:
        bar = QFrame()
        bar.setObjectName("alarmAsk")
        bar.setFrameShape(QFrame.Shape.StyledPanel)
        row = QHBoxLayout(bar)
        row.setContentsMargins(SPACING // 2, 4, SPACING // 2, 4)
        row.setSpacing(SPACING // 2)
        return bar, row

    def _build_confirm(self) -> QFrame:
        bar, row = self._bar()
        self.confirm_label = QLabel("")
        self.confirm_label.setFont(_font(18, True))
        row.addWidget(self.confirm_label, 1)
        self.confirm_yes = _button("Yes")
        self.confirm_yes.clicked.connect(self.confirm)
        row.addWidget(self.confirm_yes)
        no = _button("Cancel")
        no.clicked.connect(self.cancel)
        row.addWidget(no)
        return bar

    def _build_shelve(self) -> QFrame:
        bar, row = self._bar()
        self.shelve_label = QLabel("Shelve")
        self.shelve_label.setFont(_font(18, True))
        row.addWidget(self.shelve_label)
        self.reason_box = QComboBox()
        self.reason_box.setMinimumHeight(TOUCH)
        self.reason_box.addItems(list(SHELVE_REASONS))
        row.addWidget(self.reason_box)
        self.reason_text = QLineEdit()
        self.reason_text.setPlaceholderText("Details (required for Other)")
        self.reason_text.setMinimumHeight(TOUCH)
        row.addWidget(self.reason_text, 1)
        self.duration_box = QComboBox()
        self.duration_box.setMinimumHeight(TOUCH)
        for text, seconds in SHELVE_DURATIONS:
            self.duration_box.addItem(text, seconds)
        row.addWidget(self.duration_box)
        self.shelve_yes = _button("Shelve")
        self.shelve_yes.clicked.connect(self._shelve_confirmed)
        row.addWidget(self.shelve_yes)
        no = _button("Cancel")
        no.clicked.connect(self.cancel)
        row.addWidget(no)
        return bar

    def _build_note(self) -> QFrame:
        bar, row = self._bar()
        label = QLabel("Note")
        label.setFont(_font(18, True))
        row.addWidget(label)
        self.note_text = QLineEdit()
        self.note_text.setPlaceholderText("What you found or did")
        self.note_text.setMinimumHeight(TOUCH)
        row.addWidget(self.note_text, 1)
        self.note_yes = _button("Add note")
        self.note_yes.clicked.connect(self._note_confirmed)
        row.addWidget(self.note_yes)
        no = _button("Cancel")
        no.clicked.connect(self.cancel)
        row.addWidget(no)
        return bar

    # -- public API (tests and the window) ---------------------------------------------------------

    def machine_name(self, machine: str) -> str:
        """The machine's name from its BIRTH (its id until then)."""
        return self._names.get(machine, machine)

    def rows(self) -> list[AlarmStatus]:
        """The rows shown, in order."""
        return list(self.model.rows)

    def row_texts(self) -> list[dict[str, str]]:
        """Every shown row's cells as words, by column title."""
        return [
            {COLUMNS[c] or "Selected": self.model.text(r, c) for c in range(len(COLUMNS))}
            for r in range(len(self.model.rows))
        ]

    def set_filter(self, flt: AlarmFilter) -> None:
        """Show only what ``flt`` accepts (the filter widgets follow)."""
        self.filter = flt
        self._dirty = True
        self.refresh()

    def set_sort(self, key: SortKey, descending: bool = False) -> None:
        """Order the rows by ``key``."""
        self.sort_key, self.descending = key, descending
        self._dirty = True
        self.refresh()

    def select(self, ids: list[str]) -> None:
        """Select the shown rows of these alarm ids."""
        wanted = set(ids)
        self.model.selected = {row_key(s) for s in self.model.rows if s.id in wanted}
        self._selection_changed()

    def select_all(self) -> None:
        """Select every row shown."""
        self.model.selected = {row_key(s) for s in self.model.rows}
        self._selection_changed()

    def clear_selection(self) -> None:
        """Select nothing."""
        self.model.selected = set()
        self._selection_changed()

    def selected_ids(self) -> list[str]:
        """The alarm ids of the selected rows, in display order."""
        return [s.id for s in self.model.rows if row_key(s) in self.model.selected]

    def row_rect(self, row: int, column: int = 4) -> QRect:
        """Where a cell is, in the table viewport's coordinates."""
        return self.table.visualRect(self.model.index(row, column))

    def ask(self, action: AlarmAction, ids: list[str]) -> None:
        """Act on ``ids``; more than one alarm is confirmed first, naming how many."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            self._say("Select the alarms first (the box at the left of each row).")
            return
        if len(ids) == 1:
            self.act(action, ids)
            return
        self._hide_bars()
        self._confirm = (action, ids)
        verb = ACT_WORDS[action][1]
        self.confirm_label.setText(f"{verb.capitalize()} {len(ids)} alarms?")
        self.confirm_yes.setText(f"Yes, {verb} {len(ids)}")
        self.confirm_bar.show()

    def confirm(self) -> None:
        """Do what the confirmation bar asks."""
        if self._confirm is not None:
            action, ids = self._confirm
            self.act(action, ids)
        self.cancel()

    def cancel(self) -> None:
        """Close the confirmation, shelve or note bar."""
        self._confirm = None
        self._hide_bars()

    def shelve(self, ids: list[str], reason: str, duration_s: float) -> int:
        """Shelve ``ids`` for ``duration_s`` (0: one-shot) because of ``reason``."""
        return self.act(
            "shelve",
            ids,
            note=reason,
            duration_s=duration_s,
            oneshot=duration_s == 0,
            detail="until it clears" if duration_s == 0 else f"for {_span(duration_s)}",
        )

    @property
    def who(self) -> str:
        """Who acts: the person logged in through the hub.

        Nobody logged in: the station's own setting, which only a hub without the gate believes.
        """
        session = self.ctx.station.session
        return session.name if session is not None else self._fallback_who

    def _who_text(self) -> str:
        if self.ctx.station.session is None:
            return "Nobody logged in — Ctrl+L to log in and act"
        return f"Acting as {self.who}"

    def act(
        self,
        action: AlarmAction,
        ids: list[str],
        *,
        note: str = "",
        duration_s: float = 0.0,
        oneshot: bool = False,
        detail: str = "",
    ) -> int:
        """Ask the hub to do ``action``; the answer is shown when it comes. Returns its id."""
        if not ids:
            self._say("Select the alarms first (the box at the left of each row).")
            return 0
        request = self.ctx.station.act_on_alarms(
            action, ids, self.who, note=note, duration_s=duration_s, oneshot=oneshot
        )
        self._pending[request] = _Pending(action, list(ids), detail)
        n = len(ids)
        self._say(f"Asking the hub to {ACT_WORDS[action][1]} {n} alarm{'' if n == 1 else 's'}…")
        return request

    def open_trend(self) -> None:
        """The first selected alarm's tag, 5 min either side of its raise."""
        ids = self.selected_ids()
        chosen = [s for s in self.model.rows if row_key(s) in self.model.selected]
        if not ids or chosen[0].tag in ("", "-"):
            self._say("Select an alarm on a measured tag to see its trend.")
            return
        s = chosen[0]
        t = s.raised_at / NS
        self.ctx.open_trend_at.emit(s.machine, s.tag, t - 300, min(time.time(), t + 300))

    def refresh(self, now: float | None = None) -> None:
        """Rebuild the rows from the station's alarms and the journal's recent ones."""
        now = time.time() if now is None else now
        self._refreshed = now
        self._dirty = False
        self._version = self.ctx.station.alarms.version
        self._names = {s.info.id: s.info.name or s.info.id for s in self.ctx.store.machines()}
        self._update_places()
        live = list(self.ctx.station.alarms.all().values())
        rows = [
            s
            for s in merge(live, self.history)
            if self.filter.accepts(s, self._names.get(s.machine, ""))
        ]
        self.model.set_rows(sort_alarms(rows, self.sort_key, self.descending, self._names))
        self._update_actions()

    def request_history(self) -> None:
        """Ask the hub's journal for the last shift's occurrences."""
        now = time.time()
        self._history_at = now
        self._history_request = self.ctx.station.query_alarms(
            since=int((now - HISTORY_S) * NS), limit=HISTORY_LIMIT
        )

    # -- events ------------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: D102, N802
        super().showEvent(event)
        self.request_history()
        self.refresh()

    def _on_frame(self, now: float) -> None:
        if not self.isVisible():
            return
        if now - self._history_at >= HISTORY_EVERY_S:
            self.request_history()
        changed = self._dirty or self.ctx.station.alarms.version != self._version
        if changed and now - self._refreshed >= REFRESH_S:
            self.refresh(now)

    def _on_event(self, event: object) -> None:
        if isinstance(event, SessionChanged):
            self.who_label.setText(self._who_text())
        elif isinstance(event, AlarmHistoryArrived):
            if event.history.request_id == self._history_request:
                self.history = list(event.history.alarms)
                self._dirty = True
        elif isinstance(event, AlarmActed):
            pending = self._pending.pop(event.reply.request_id, None)
            if pending is not None:
                self._say(_result_text(pending, event.reply.done, event.reply.refused))
                self._history_at = 0.0  # the journal moved: ask again on the next frame

    def _on_theme(self, theme: Theme) -> None:
        for priority, b in self.priority_buttons.items():
            b.setIcon(priority_icon(theme, priority))
        self.table.viewport().update()

    def _on_header(self, section: int) -> None:
        key = SORTS.get(section)
        if key is None:
            return
        descending = not self.descending if key == self.sort_key else False
        self.table.horizontalHeader().setSortIndicator(
            section, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        )
        self.set_sort(key, descending)

    def _on_click(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        s = self.model.rows[index.row()]
        if index.column() == 0:
            key = row_key(s)
            self.model.selected ^= {key}
            self._selection_changed()
            return
        self.ctx.open_machine.emit(s.machine)

    def _on_filters(self) -> None:
        priorities = frozenset(p for p, b in self.priority_buttons.items() if b.isChecked())
        states = str(self.state_box.currentData() or "")
        self.filter = AlarmFilter(
            priorities=priorities,
            place=str(self.place_box.currentData() or ""),
            states=frozenset(k for k in states.split(",") if k),
            text=self.text_box.text().strip(),
        )
        self._dirty = True
        self.refresh()

    # -- internals ---------------------------------------------------------------------------------

    def _update_places(self) -> None:
        """Lines, areas and machines in the place filter (added as they appear)."""
        known = {str(self.place_box.itemData(i)) for i in range(self.place_box.count())}
        lines, areas = set(), set()
        for snap in self.ctx.store.machines():
            lines.add(snap.info.line)
            areas.add(snap.info.area)
        entries = [(f"Line: {ln.replace('-', ' ')}", ln) for ln in sorted(lines) if ln]
        entries += [(f"Area: {a}", a) for a in sorted(areas) if a]
        entries += [(f"{name}", mid) for mid, name in sorted(self._names.items())]
        for text, data in entries:
            if data not in known:
                self.place_box.addItem(text, data)

    def _selection_changed(self) -> None:
        self.table.viewport().update()
        self._update_actions()

    def _update_actions(self) -> None:
        chosen = [s for s in self.model.rows if row_key(s) in self.model.selected]
        n = len(chosen)
        unacked = sum(1 for s in self.model.rows if unacknowledged(s))
        self.ack_button.setText(f"✓ Acknowledge {n}" if n else "✓ Acknowledge")
        self.ack_button.setEnabled(any(s.state in ("unack", "rtn_unack") for s in chosen))
        self.ack_all_button.setText(f"Acknowledge all shown ({unacked})")
        self.ack_all_button.setEnabled(unacked > 0)
        self.shelve_button.setEnabled(n > 0)
        self.unshelve_button.setEnabled(any(s.shelf is not None for s in chosen))
        self.reset_button.setEnabled(any(state_kind(s) == "latched" for s in chosen))
        self.claim_button.setEnabled(any(s.active for s in chosen))
        self.note_button.setEnabled(n > 0)
        self.trend_button.setEnabled(n > 0 and chosen[0].tag not in ("", "-"))
        self.clear_button.setEnabled(n > 0)

    def _hide_bars(self) -> None:
        for bar in (self.confirm_bar, self.shelve_bar, self.note_bar):
            bar.hide()

    def _open_shelve(self) -> None:
        ids = self.selected_ids()
        if not ids:
            self._say("Select the alarms to shelve first.")
            return
        self._hide_bars()
        self.duration_box.setCurrentIndex(0)  # 15 min unless chosen otherwise
        self.shelve_label.setText(f"Shelve {len(ids)} alarm{'' if len(ids) == 1 else 's'}:")
        self.shelve_yes.setText(f"Shelve {len(ids)}")
        self.shelve_bar.show()

    def shelve_reason(self) -> str:
        """The reason the shelve bar will send: the pick, then the details."""
        pick = self.reason_box.currentText()
        text = self.reason_text.text().strip()
        if pick.startswith("Other"):
            return text
        return f"{pick}: {text}" if text else pick

    def _shelve_confirmed(self) -> None:
        reason = self.shelve_reason()
        if not reason:
            self._say("Say why the alarms are shelved (the details box).")
            return
        seconds = float(self.duration_box.currentData())
        self.shelve(self.selected_ids(), reason, seconds)
        self.reason_text.clear()
        self.cancel()

    def _open_note(self) -> None:
        if not self.selected_ids():
            self._say("Select the alarms to note first.")
            return
        self._hide_bars()
        self.note_bar.show()
        self.note_text.setFocus()

    def _note_confirmed(self) -> None:
        text = self.note_text.text().strip()
        if not text:
            self._say("The note is empty.")
            return
        self.act("note", self.selected_ids(), note=text)
        self.note_text.clear()
        self.cancel()

    def _say(self, text: str) -> None:
        self.result = text
        self.result_label.setText(text)


def _span(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"


def _result_text(pending: _Pending, done: list[str], refused: dict[str, str]) -> str:
    """``Acknowledged 3 alarms.`` / ``Refused 1: <the hub's sentence>``."""
    done_word, verb = ACT_WORDS[pending.action]
    parts: list[str] = []
    if done:
        n = len(done)
        detail = f" {pending.detail}" if pending.detail else ""
        parts.append(f"{done_word} {n} alarm{'' if n == 1 else 's'}{detail}.")
    if refused:
        sentences = list(dict.fromkeys(refused.values()))
        parts.append(f"The hub refused to {verb} {len(refused)}: " + " ".join(sentences[:3]))
    return " ".join(parts) or "The hub did nothing."
