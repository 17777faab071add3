"""The audit viewer: filters (since, until, machine, user, kind) and the hub's audit rows.

Rows come from the hub (``Station.query_audit`` → ``AuditArrived``), newest first; the station
never reads the audit file. A signature is shown as printed name · date and time · meaning
(21 CFR 11.50), by :func:`copilot.gate.panel.audit_cells`. ``query_requested(AuditFilter)``
goes to the gate flow; :meth:`QtAuditView.set_rows` shows the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from copilot.gate.panel import AUDIT_COLUMNS, AUDIT_KINDS, AuditFilter, audit_cells, parse_when
from copilot.protocol import AuditRecord
from ui.gate.look import apply_style
from ui.gate.sheets import big_button, label
from ui.theme import Theme

ANY = "any"


class QtAuditView(QWidget):
    """Filter bar, a Search button and the table of rows."""

    query_requested = Signal(object)  # AuditFilter

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        apply_style(self, theme)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.setSpacing(10)
        bar = QHBoxLayout()
        bar.setSpacing(8)

        def field(placeholder: str, width: int) -> QLineEdit:
            w = QLineEdit(self)
            w.setObjectName("gateText")
            w.setPlaceholderText(placeholder)
            w.setFixedWidth(width)
            w.returnPressed.connect(self.search)
            bar.addWidget(w)
            return w

        self.since = field("since (HH:MM or date)", 220)
        self.until = field("until", 160)
        self.machine = field("machine", 170)
        self.user = field("user", 170)
        self.kind = QComboBox(self)
        self.kind.addItems([ANY, *AUDIT_KINDS])
        self.kind.setMinimumHeight(52)
        self.kind.setMinimumWidth(200)
        bar.addWidget(self.kind)
        self.search_button = big_button("Search", self, primary=True)
        self.search_button.clicked.connect(self.search)
        bar.addWidget(self.search_button)
        bar.addStretch(1)
        outer.addLayout(bar)
        self.note = label("", "gateDim", self)
        outer.addWidget(self.note)
        self.table = QTableWidget(0, len(AUDIT_COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(AUDIT_COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        # Two lines a row: a signature (printed name · time · meaning, 21 CFR 11.50) is shown
        # whole, wrapped, never cut at its meaning.
        self.table.verticalHeader().setDefaultSectionSize(56)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        for c in range(len(AUDIT_COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(AUDIT_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        outer.addWidget(self.table, 1)
        self.rows: list[AuditRecord] = []

    def current_filter(self) -> tuple[AuditFilter | None, str]:
        """The filters as typed, or ``(None, sentence)`` when a time cannot be read."""
        since, why = parse_when(self.since.text())
        if why:
            return None, why
        until, why = parse_when(self.until.text())
        if why:
            return None, why
        kind = self.kind.currentText()
        return (
            AuditFilter(
                since=since,
                until=until,
                machine=self.machine.text().strip(),
                user=self.user.text().strip(),
                kind="" if kind == ANY else kind,
            ),
            "",
        )

    def search(self) -> None:
        """Ask for the rows that match."""
        flt, why = self.current_filter()
        if flt is None:
            self.note.setText(f"✕ {why}")
            return
        self.note.setText("Asking the hub…")
        self.query_requested.emit(flt)

    def set_rows(self, rows: Sequence[AuditRecord], more: bool, refused: str = "") -> None:
        """Show the hub's rows (newest first)."""
        if refused:
            self.note.setText(f"✕ {refused}")
            return
        self.rows = list(rows)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            for c, text in enumerate(audit_cells(row)):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                if row.detail:
                    item.setToolTip(f"#{row.seq} {row.detail}")
                self.table.setItem(r, c, item)
        tail = " (more match: narrow the filters)" if more else ""
        self.note.setText(f"{len(self.rows)} rows, newest first{tail}")

    def cell_texts(self) -> list[list[str]]:
        """The table as shown, for tests."""
        return [
            [self.table.item(r, c).text() for c in range(self.table.columnCount())]
            for r in range(self.table.rowCount())
        ]
