"""The five roles a person may hold (OPC UA's default role names), and reading them from text.

``ROLES`` is in order of the authority people usually associate with them; the order carries
no meaning for the gate (the site policy says what each role may do). Role names are matched
without regard to case (``--role operator``) and always come back spelled as in ``ROLES``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

Role = Literal["Observer", "Operator", "Engineer", "Supervisor", "SecurityAdmin"]
ROLES: tuple[Role, ...] = get_args(Role)

_BY_LOWER: dict[str, Role] = {role.lower(): role for role in ROLES}


def role_list() -> str:
    """The roles for a sentence: ``Observer, Operator, Engineer, Supervisor or SecurityAdmin``."""
    return f"{', '.join(ROLES[:-1])} or {ROLES[-1]}"


def parse_roles(names: Iterable[str]) -> tuple[Role, ...]:
    """The roles named, deduplicated, in ``ROLES`` order (``ValueError``: one sentence).

    At least one role is required; a name may also be a comma list (``Operator,Engineer``).
    """
    found: set[Role] = set()
    for item in names:
        for name in item.split(","):
            if not name.strip():
                continue
            role = _BY_LOWER.get(name.strip().lower())
            if role is None:
                raise ValueError(f"{name.strip()!r} is not a role: use {role_list()}.")
            found.add(role)
    if not found:
        raise ValueError(f"Give at least one role: {role_list()}.")
    return tuple(role for role in ROLES if role in found)
