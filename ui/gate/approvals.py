"""The supervisors' approval queue: every two-person request with what an approver must see.

One card per open request (the one expiring first on top): requester, machine, command, old →
new, the requester's reason, a trend snippet of the request's ``watch`` tags (from the station's
store), the machine's active alarms, the interlock state when it was asked, the expiry
countdown, and Approve / Deny. A person who may not decide (not a Supervisor, the requester
themselves, an expired request) sees the buttons disabled with the sentence why. The cards show
:func:`copilot.gate.panel.approval_facts`; ``approve_requested(cmd_id)`` and
``deny_requested(cmd_id)`` go to the gate flow, which asks for the PIN or the note.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from copilot.gate.panel import ApprovalFacts
from ui.gate.look import apply_style
from ui.gate.sheets import big_button, label
from ui.theme import Theme

SNIPPET_S = 600.0  # the trend snippet: the last ten minutes
Window = Callable[[str, str, float], tuple[np.ndarray, np.ndarray]]
"""``(machine, tag, since) → (times s, values)`` — the station store's ``window``."""


class QtApprovalCard(QFrame):
    """One request: its facts, a trend snippet, alarms, interlocks, Approve / Deny."""

    def __init__(self, queue: QtApprovalQueue, facts: ApprovalFacts, machine: str) -> None:
        super().__init__(queue.list_host)
        self.setObjectName("gateBox")
        self.cmd_id = facts.cmd_id
        self.machine = machine
        self.watch: tuple[str, ...] = ()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(16)
        text = QVBoxLayout()
        text.setSpacing(4)
        self.title = label(facts.title, "gateTitle", self)
        self.requester = label("", "gateDim", self)
        self.args = label("", "gateChange", self)
        self.reason = label("", "gateBody", self)
        self.checks = label("", "gateBody", self)
        self.alarms = label("", "gateBody", self)
        self.expires = label("", "gateLead", self)
        for w in (
            self.title,
            self.requester,
            self.args,
            self.reason,
            self.checks,
            self.alarms,
            self.expires,
        ):
            text.addWidget(w)
        text.addStretch(1)
        layout.addLayout(text, 3)
        right = QVBoxLayout()
        right.setSpacing(8)
        self.plot = pg.PlotWidget(self)
        self.plot.setMinimumSize(320, 150)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.getAxis("bottom").setStyle(showValues=False)
        self.curves: dict[str, pg.PlotDataItem] = {}
        right.addWidget(self.plot, 1)
        self.snippet_note = label("", "gateDim", self)
        right.addWidget(self.snippet_note)
        buttons = QHBoxLayout()
        self.deny_button = big_button("✕ Deny…", self)
        self.approve_button = big_button("✓ Approve…", self, primary=True)
        self.deny_button.clicked.connect(lambda: queue.deny_requested.emit(self.cmd_id))
        self.approve_button.clicked.connect(lambda: queue.approve_requested.emit(self.cmd_id))
        buttons.addWidget(self.deny_button, 1)
        buttons.addWidget(self.approve_button, 1)
        right.addLayout(buttons)
        self.why = label("", "gateNotice", self)
        self.why.hide()
        right.addWidget(self.why)
        layout.addLayout(right, 2)
        self.theme = queue.theme
        self._follow_theme()
        self.show_facts(facts, (), (), ())

    def _follow_theme(self) -> None:
        self.plot.setBackground(self.theme.panel)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(self.theme.text_dim)
            self.plot.getAxis(axis).setPen(self.theme.border)

    def show_facts(
        self,
        facts: ApprovalFacts,
        alarms: Sequence[str],
        watch: Sequence[str],
        units: Sequence[str],
    ) -> None:
        """Fill the card's texts (every second: the countdown moves)."""
        self.title.setText(facts.title)
        self.requester.setText(f"Asked by {facts.requester}")
        self.args.setText(facts.args)
        self.reason.setText(f"Reason: {facts.reason}")
        self.checks.setText(
            "Interlocks when asked: " + ("  ".join(facts.checks) if facts.checks else "none")
        )
        self.alarms.setText(
            ("Active alarms: " + "; ".join(alarms)) if alarms else "Active alarms: none"
        )
        self.expires.setText(facts.expires.capitalize())
        self.approve_button.setEnabled(facts.can_decide)
        self.deny_button.setEnabled(facts.can_decide)
        self.why.setText(f"✕ {facts.why}")
        self.why.setVisible(bool(facts.why))
        if tuple(watch) != self.watch:
            self.watch = tuple(watch)
            self.plot.clear()
            self.curves = {}
            # One signal, on its own scale: the one the command sets (or the machine's first
            # key measurement). Several units on one axis would read as nonsense.
            for tag in self.watch[:1]:
                pen = pg.mkPen(self.theme.text, width=2)
                self.curves[tag] = self.plot.plot([], [], pen=pen)
            names = [f"{t} ({u})" if u else t for t, u in zip(self.watch, units, strict=False)]
            self.snippet_note.setText(f"Last 10 min: {names[0]}" if names else "No tags to trend")

    def refresh_plot(self, window: Window, now: float) -> None:
        """Pull the watch tags' recent samples from the store."""
        for tag, curve in self.curves.items():
            t, v = window(self.machine, tag, now - SNIPPET_S)
            curve.setData(t - now, v, connect="finite")


class QtApprovalQueue(QWidget):
    """The queue (a view reachable from the chrome, and its badge count)."""

    approve_requested = Signal(str)
    deny_requested = Signal(str)

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        apply_style(self, theme)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.setSpacing(10)
        self.heading = label("Approvals", "gateTitle", self)
        outer.addWidget(self.heading)
        self.note = label("", "gateBody", self)
        outer.addWidget(self.note)
        self.list_host = QWidget(self)
        self.list = QVBoxLayout(self.list_host)
        self.list.setContentsMargins(0, 0, 0, 0)
        self.list.setSpacing(12)
        self.list.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.list_host)
        outer.addWidget(scroll, 1)
        self.cards: dict[str, QtApprovalCard] = {}

    def set_requests(
        self,
        items: Sequence[tuple[ApprovalFacts, str, Sequence[str], Sequence[str], Sequence[str]]],
        note: str,
    ) -> None:
        """``(facts, machine, active alarms, watch tags, their units)`` per request, in order."""
        keep = {facts.cmd_id for facts, *_ in items}
        for cmd_id in list(self.cards):
            if cmd_id not in keep:
                self.cards.pop(cmd_id).deleteLater()
        for index, (facts, machine, alarms, watch, units) in enumerate(items):
            card = self.cards.get(facts.cmd_id)
            if card is None:
                card = QtApprovalCard(self, facts, machine)
                self.cards[facts.cmd_id] = card
            self.list.insertWidget(index, card)
            card.show_facts(facts, alarms, watch, units)
        self.note.setText(note)
        self.heading.setText(f"Approvals · {len(items)} waiting" if items else "Approvals")

    def refresh_plots(self, window: Window, now: float | None = None) -> None:
        """The snippets' data (on the frame clock, while visible)."""
        now = time.time() if now is None else now
        for card in self.cards.values():
            card.refresh_plot(window, now)


class QtBadge(QLabel):
    """The count of open requests in the tool bar (hidden at 0): a number, not only a colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gateBadge")
        self.hide()

    def set_count(self, n: int) -> None:
        """Show ``n`` (hide at 0)."""
        self.setText(f"{n} to approve")
        self.setVisible(n > 0)
