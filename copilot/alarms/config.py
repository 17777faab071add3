"""Site alarm configuration: what overrides the alarms machines declare, and the mode table.

The master alarm database of alarm rationalisation. A site's TOML file (loaded by
:func:`load_config`) overrides, per machine kind, machine or tag (wildcards), the limits,
priorities, delays and deadbands a BIRTH declares, and the table of what each machine mode does
to alarms (:data:`DEFAULT_MODES`).

Mode policies:

* ``enabled`` — alarms are raised and announced.
* ``silenced`` — raised and shown, never announced (setup, startup).
* ``running_only_suppressed`` — alarms that only mean something while the machine runs
  (``running_only``, and low limits by default) are suppressed by design; the others as
  ``enabled``.
* ``suppressed`` — every alarm of the machine except its communication loss is suppressed.

Suppressed alarms are still evaluated and journaled; they are not shown as needing action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from copilot.protocol import MachineInfo, TagSpec

ModePolicy = Literal["enabled", "silenced", "running_only_suppressed", "suppressed"]
MODE_POLICIES: tuple[ModePolicy, ...] = (
    "enabled",
    "silenced",
    "running_only_suppressed",
    "suppressed",
)

DEFAULT_MODES: Mapping[str, ModePolicy] = {
    "running": "enabled",
    "fault": "enabled",
    "setup": "silenced",
    "startup": "silenced",
    "idle": "running_only_suppressed",
    "stopped": "running_only_suppressed",
    "maintenance": "running_only_suppressed",
}
"""What each machine mode (the ``state`` tag's label) does to alarms; other modes: enabled."""


class AlarmConfigError(ValueError):
    """A site alarm file cannot be used; the message is one sentence saying what to fix."""


@dataclass(frozen=True)
class AlarmConfig:
    """The site's alarm configuration (the default has no overrides and the default modes)."""

    modes: Mapping[str, ModePolicy] = field(default_factory=lambda: dict(DEFAULT_MODES))
    source: str = ""

    def policy(self, state: str | None) -> ModePolicy:
        """What machine mode ``state`` does to alarms (unknown or no mode: ``enabled``)."""
        if not state:
            return "enabled"
        return self.modes.get(state.lower(), "enabled")

    def effective(self, machine: MachineInfo, tag: TagSpec) -> TagSpec | None:
        """``tag`` as the site wants it alarmed (``None``: the site turned its alarms off)."""
        return tag
