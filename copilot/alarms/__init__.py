"""Alarms the way ISA-18.2 wants them: the engine the hub runs, its journal, configuration, KPIs.

``model`` (definitions and records), ``states`` (the state machine), ``evaluate`` (whole batches
against conditions, vectorised), ``engine`` (all of it together, pure), ``config`` (the site's
alarm file and mode table), ``journal`` (the SQLite schema and readers), ``flood`` (rolling
rates and flood periods), ``kpi`` (the alarm-load report), ``annunciator`` (what should sound
and be spoken) and ``wording`` (sentences for people).
"""

from copilot.alarms.annunciator import Announcement, Annunciator, Decision
from copilot.alarms.config import (
    DEFAULT_MODES,
    MODE_POLICIES,
    AlarmConfig,
    AlarmConfigError,
    AlarmRule,
    ModePolicy,
    load_config,
    parse_config,
)
from copilot.alarms.engine import ActResult, AlarmEngine, definitions
from copilot.alarms.flood import FloodMeter, FloodRule, flood_intervals
from copilot.alarms.journal import (
    MIGRATIONS,
    Occurrence,
    journal_path,
    open_journal,
    read_occurrences,
)
from copilot.alarms.kpi import BadActor, KpiDefinitions, KpiReport, compute_kpis
from copilot.alarms.model import COMM_TAG, AlarmDef, AlarmRecord, Change, alarm_id
from copilot.alarms.states import RefusedError
from copilot.alarms.wording import sentence

__all__ = [
    "COMM_TAG",
    "DEFAULT_MODES",
    "MIGRATIONS",
    "MODE_POLICIES",
    "ActResult",
    "AlarmConfig",
    "AlarmConfigError",
    "AlarmDef",
    "AlarmEngine",
    "AlarmRecord",
    "AlarmRule",
    "Announcement",
    "Annunciator",
    "BadActor",
    "Change",
    "Decision",
    "FloodMeter",
    "FloodRule",
    "KpiDefinitions",
    "KpiReport",
    "ModePolicy",
    "Occurrence",
    "RefusedError",
    "alarm_id",
    "compute_kpis",
    "definitions",
    "flood_intervals",
    "journal_path",
    "load_config",
    "open_journal",
    "parse_config",
    "read_occurrences",
    "sentence",
]
