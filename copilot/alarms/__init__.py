"""Alarms the way ISA-18.2 wants them: the engine the hub runs, its journal, configuration, KPIs."""

from copilot.alarms.config import (
    DEFAULT_MODES,
    MODE_POLICIES,
    AlarmConfig,
    AlarmConfigError,
    ModePolicy,
)
from copilot.alarms.journal import (
    MIGRATIONS,
    Occurrence,
    journal_path,
    open_journal,
    read_occurrences,
)

__all__ = [
    "DEFAULT_MODES",
    "MIGRATIONS",
    "MODE_POLICIES",
    "AlarmConfig",
    "AlarmConfigError",
    "ModePolicy",
    "Occurrence",
    "journal_path",
    "open_journal",
    "read_occurrences",
]
