"""The command gate's station side: login and lock, command panel, sheets, approvals, audit.

Mirrors :mod:`copilot.gate`; every decision is :mod:`copilot.gate.panel`'s (and the hub's),
these widgets show it and turn taps into calls on the station through :mod:`ui.gate.flow`.
"""

from ui.gate.approvals import QtApprovalCard, QtApprovalQueue, QtBadge
from ui.gate.audit import QtAuditView
from ui.gate.keypad import QtKeypad, QtNumberPad, QtPinPad
from ui.gate.login import QtLoginScreen
from ui.gate.panel import QtCommandPanel
from ui.gate.sheets import (
    QtArgSheet,
    QtConfirmSheet,
    QtDenySheet,
    QtSheet,
    QtSignSheet,
    QtTwoPersonSheet,
)

__all__ = [
    "QtApprovalCard",
    "QtApprovalQueue",
    "QtArgSheet",
    "QtAuditView",
    "QtBadge",
    "QtCommandPanel",
    "QtConfirmSheet",
    "QtDenySheet",
    "QtKeypad",
    "QtLoginScreen",
    "QtNumberPad",
    "QtPinPad",
    "QtSheet",
    "QtSignSheet",
    "QtTwoPersonSheet",
]
