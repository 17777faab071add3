"""The machine view's command panel: big buttons, why one is disabled, pending commands, control.

Shows what :mod:`copilot.gate.panel` decided (:class:`~copilot.gate.panel.ButtonState`,
:class:`~copilot.gate.panel.PendingLine`, :class:`~copilot.gate.panel.AuthorityFacts`). A
disabled command stays tappable: the tap shows the one sentence why (not authorised, offline,
another station's control, the first-out interlock) instead of doing nothing. Alt+1…Alt+9 press
the commands in order while the panel is visible. ``command_pressed(name)`` and
``authority_act(act)`` go to the gate flow.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from copilot.gate.panel import ACT_LABELS, MARK_GLYPHS, AuthorityFacts, ButtonState, PendingLine
from ui.gate.look import apply_style, repolish
from ui.gate.sheets import label
from ui.theme import Theme

MAX_LINES = 1  # the latest command shown in place (the others: the audit viewer, F6)
BUTTON_H = 64  # a command button: ≥ 64 px (gloves), two lines (label, tier or first-out words)
_PAD_W = 22  # a command button's padding and border, left and right (look.py)


def fit_lines(fm: QFontMetrics, lines: Sequence[str], width: int) -> str:
    """``lines`` joined by newlines, each cut to ``width`` pixels with an ellipsis if longer.

    A push button clips its text at its edge ("no fault is latche"): an ellipsis says that
    there is more (the whole text is the button's tooltip and its "why" line).
    """
    return "\n".join(fm.elidedText(line, Qt.TextElideMode.ElideRight, width) for line in lines)


class QtCommandPanel(QFrame):
    """Command buttons (two columns), the "why" line, pending commands, control authority."""

    command_pressed = Signal(str)
    authority_act = Signal(str)
    login_wanted = Signal()  # a command tapped while nobody is logged in

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gateBox")
        apply_style(self, theme)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 12)
        layout.setSpacing(8)
        # One row: the title, who has control, the authority acts (every line of height counts).
        self.authority_bar = QHBoxLayout()
        self.authority_bar.setSpacing(8)
        title = QLabel("Commands", self)
        title.setObjectName("panelTitle")
        self.authority_bar.addWidget(title, 0)
        self.authority = label("", "gateDim", self)
        self.authority_bar.addWidget(self.authority, 1)
        layout.addLayout(self.authority_bar)
        self.authority_buttons: dict[str, QPushButton] = {}
        # The buttons first, always whole (the panel takes the height they need; the trend gets
        # the rest), then the "why" line, then the latest commands' lines (what happened to
        # what I pressed), each at most three lines high with the whole text as a tooltip.
        self.grid_host = QWidget(self)
        column = QVBoxLayout(self.grid_host)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(8)
        column.addLayout(self.grid)
        self.why = label("", "gateNotice", self.grid_host)
        self.why.hide()
        column.addWidget(self.why)
        self.lines_box = QVBoxLayout()
        self.lines_box.setSpacing(4)
        column.addLayout(self.lines_box)
        layout.addWidget(self.grid_host)
        # Exactly the height its contents need: never squeezed into overlapping buttons.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.line_labels: dict[str, QLabel] = {}
        self.buttons: dict[str, QPushButton] = {}
        self.states: dict[str, ButtonState] = {}
        self._order: list[str] = []
        self._shortcuts: list[QShortcut] = []
        for i in range(9):
            sc = QShortcut(QKeySequence(f"Alt+{i + 1}"), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(lambda i=i: self._shortcut(i))
            self._shortcuts.append(sc)

    # -- buttons --------------------------------------------------------------------------

    def set_buttons(self, states: Sequence[ButtonState]) -> None:
        """Show these buttons (rebuilt when the commands change, restyled otherwise)."""
        names = [s.name for s in states]
        if names != self._order:
            for b in self.buttons.values():
                b.deleteLater()
            self.buttons = {}
            for i, s in enumerate(states):
                b = QPushButton(self.grid_host)
                b.setObjectName("gateCommand")
                b.setMinimumHeight(BUTTON_H)  # the style adds padding and border: ~74 px
                b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
                b.clicked.connect(lambda _=False, n=s.name: self.press(n))
                b.installEventFilter(self)
                self.buttons[s.name] = b
                self.grid.addWidget(b, i // 2, i % 2)
            self._order = names
        for s in states:
            b = self.buttons[s.name]
            mark = "" if s.enabled else "✕ "
            lines = [f"{mark}{s.label}", s.caption] if s.caption else [f"{mark}{s.label}"]
            b.setProperty("lines", lines)
            self._fit(b)
            tip = s.why or f"{s.label} ({s.caption})"
            b.setToolTip(f"{tip} [{s.key}]" if s.key else tip)
            b.setAccessibleDescription(s.why)
            repolish(b, "blocked", "false" if s.enabled else "true")
        self.states = {s.name: s for s in states}
        shown = self.why.property("command")
        if shown and shown in self.states:  # keep the why line true to the current state
            state = self.states[shown]
            if state.enabled:
                self.why.hide()
            else:
                self.why.setText(f"✕ {state.why}")

    def _fit(self, b: QPushButton) -> None:
        """Set ``b``'s text to its lines cut to its width (called again when it is resized)."""
        lines = b.property("lines") or []
        if b.width() <= _PAD_W:  # not laid out yet: whole, until the first resize
            text = "\n".join(lines)
        else:
            text = fit_lines(b.fontMetrics(), lines, b.width() - _PAD_W)
        if b.text() != text:
            b.setText(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        """A command button or pending line resized: cut its text to the new width."""
        if event.type() == QEvent.Type.Resize:
            if isinstance(watched, QPushButton) and watched.property("lines") is not None:
                self._fit(watched)
            elif isinstance(watched, QLabel) and watched.property("lines") is not None:
                self._fit_line(watched)
        return super().eventFilter(watched, event)

    def button_lines(self, name: str) -> list[str]:
        """The whole lines of a command button (its text may be cut to fit), for tests."""
        return list(self.buttons[name].property("lines") or [])

    def press(self, name: str) -> None:
        """A tap: go on if the command may be pressed, else say why."""
        state = self.states.get(name)
        if state is None:
            return
        if not state.enabled:
            self.explain(state)
            if state.cause == "not_authenticated":
                self.login_wanted.emit()
            return
        self.why.hide()
        self.command_pressed.emit(name)

    def explain(self, state: ButtonState) -> None:
        """Show why a command cannot be pressed now."""
        self.why.setProperty("command", state.name)
        self.why.setText(f"✕ {state.why}")
        self.why.show()

    def why_text(self) -> str:
        """The "why" line shown (empty when hidden), for tests."""
        return self.why.text().removeprefix("✕ ") if not self.why.isHidden() else ""

    def _shortcut(self, index: int) -> None:
        if self.isVisible() and index < len(self._order):
            self.press(self._order[index])

    # -- pending commands -----------------------------------------------------------------

    def set_pending(self, lines: Sequence[PendingLine]) -> None:
        """The latest commands in place: in progress → result (newest first)."""
        wanted = list(lines)[:MAX_LINES]
        keep = {line.cmd_id for line in wanted}
        for cmd_id in list(self.line_labels):
            if cmd_id not in keep:
                self.line_labels.pop(cmd_id).deleteLater()
        for index, line in enumerate(wanted):
            w = self.line_labels.get(line.cmd_id)
            if w is None:
                w = label("", "gateLine", self.grid_host)
                w.setFixedHeight(2 * w.fontMetrics().lineSpacing() + 8)  # in the size hint
                w.setWordWrap(False)  # two lines, each cut to fit (_fit_line)
                w.installEventFilter(self)
                self.line_labels[line.cmd_id] = w
            self.lines_box.insertWidget(index, w)
            glyph = MARK_GLYPHS[line.mark]
            lines = [f"{glyph} {line.label} — {line.words}"]
            if line.text:
                lines.append(line.text)
            whole = "\n".join(lines)
            if w.property("lines") != lines:
                w.setProperty("lines", lines)
                w.setToolTip(whole)
                self._fit_line(w)
            repolish(w, "abnormal", "true" if line.abnormal else "false")

    def _fit_line(self, w: QLabel) -> None:
        """A pending line's two lines, each cut to the label's width (never a clipped third)."""
        lines = w.property("lines") or []
        room = w.contentsRect().width()
        text = "\n".join(lines) if room <= 0 else fit_lines(w.fontMetrics(), lines, room - 4)
        if w.text() != text:
            w.setText(text)

    def pending_texts(self) -> dict[str, str]:
        """``cmd_id → text`` of the lines shown (whole, before cutting to fit), for tests."""
        return {k: "\n".join(v.property("lines") or []) for k, v in self.line_labels.items()}

    # -- control authority ----------------------------------------------------------------

    def set_authority(self, facts: AuthorityFacts | None) -> None:
        """Who has control and the acts offered (none shown: no authority row)."""
        if facts is None:
            self.authority.hide()
            for b in self.authority_buttons.values():
                b.hide()
            return
        self.authority.setText(facts.text)
        self.authority.show()
        repolish(self.authority, "other", "true" if facts.other else "false")
        for act, b in list(self.authority_buttons.items()):
            if act not in facts.acts:
                b.hide()
        for act in facts.acts:
            b = self.authority_buttons.get(act)
            if b is None:
                b = QPushButton(ACT_LABELS[act], self)
                b.setMinimumHeight(48)
                b.clicked.connect(lambda _=False, a=act: self.authority_act.emit(a))
                self.authority_buttons[act] = b
                self.authority_bar.addWidget(b)
            b.show()
