"""The alarm views (ISA-18.2): banner, load meter, flood banner, alarm table, KPIs.

Mirrors :mod:`copilot.alarms`; every decision is :mod:`copilot.alarms.board`'s, these widgets
show it and turn taps into calls on the station.
"""

from ui.alarms.banner import QtAlarmBanner, QtAlarmLoad, QtAlarmRow, QtFloodBanner
from ui.alarms.kpis import QtKpiView
from ui.alarms.table import QtAlarmTable
from ui.alarms.watch import QtAlarmWatch

__all__ = [
    "QtAlarmBanner",
    "QtAlarmLoad",
    "QtAlarmRow",
    "QtAlarmTable",
    "QtAlarmWatch",
    "QtFloodBanner",
    "QtKpiView",
]
