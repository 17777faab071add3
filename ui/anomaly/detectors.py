"""The machine view's detector panel: what ``copilot anomaly status`` says, for people.

The mode, the learning state ("learning normal: 14 min left"), the learned modes, the alerts
raised and the multivariate model (:func:`copilot.anomaly.present.detector_summary`), then one
row per tag and mode with its normal, its learned band and its thresholds
(:func:`~copilot.anomaly.present.detector_rows`). Read only.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from copilot.anomaly.present import detector_rows, detector_summary
from copilot.protocol import MachineLearned, TagSpec
from ui.anomaly.look import apply_style
from ui.theme import Theme

COLUMNS = ("Signal", "Mode", "Normal", "Learned band", "Thresholds")


class QtDetectorPanel(QFrame):
    """One machine's detectors: summary lines and the per-tag table."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detectorPanel")
        app = QApplication.instance()
        apply_style(self, theme, isinstance(app, QApplication) and not app.styleSheet())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 12)
        layout.setSpacing(6)
        title = QLabel("Anomaly detectors", self)
        title.setObjectName("panelTitle")
        layout.addWidget(title)
        self.lines: list[QLabel] = []
        self.lines_box = QVBoxLayout()
        self.lines_box.setSpacing(2)
        layout.addLayout(self.lines_box)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("detectorTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(True)
        vh = self.table.verticalHeader()
        vh.setVisible(False)
        vh.setMinimumSectionSize(40)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # wrapped rows whole
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(0, 260)  # long signal names wrap instead of taking the row
        hh.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.set_status(None, [])

    def set_theme(self, theme: Theme) -> None:
        """Follow the station's theme."""
        app = QApplication.instance()
        apply_style(self, theme, isinstance(app, QApplication) and not app.styleSheet())

    def set_status(self, learned: MachineLearned | None, tags: Sequence[TagSpec]) -> None:
        """Show what the machine's detectors learned (``None``: not known yet)."""
        lines = (
            detector_summary(learned)
            if learned is not None
            else ["Asking the hub what the detectors have learned…"]
        )
        while len(self.lines) < len(lines):
            w = QLabel("", self)
            w.setObjectName("detectorLine")
            w.setWordWrap(True)
            self.lines_box.addWidget(w)
            self.lines.append(w)
        for i, w in enumerate(self.lines):
            w.setVisible(i < len(lines))
            if i < len(lines) and w.text() != lines[i]:
                w.setText(lines[i])
        rows = detector_rows(learned, tags) if learned is not None else []
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate((row.tag, row.mode, row.normal, row.band, row.thresholds)):
                item = self.table.item(r, c)
                if item is None:
                    self.table.setItem(r, c, QTableWidgetItem(text))
                elif item.text() != text:
                    item.setText(text)

    def line_texts(self) -> list[str]:
        """The summary lines shown, for tests."""
        return [w.text() for w in self.lines if not w.isHidden()]
