"""The command gate: people and roles, the audit trail (more modules join as the gate grows).

``roles`` (the five role names), ``people`` (ids, printed names, hashed PINs or passwords,
lock-out, in ``people.db``) and ``audit`` (the append-only, hash-chained ``audit.db``).
"""

from copilot.gate.audit import (
    KINDS,
    MEANINGS,
    AuditEntry,
    AuditRow,
    AuditTrail,
    Meaning,
    VerifyResult,
    audit_path,
    export_csv,
    query,
    verify,
)
from copilot.gate.people import (
    DEFAULT_KDF,
    KdfParams,
    PeopleError,
    PeopleStore,
    Person,
    Refusal,
    RefusalCode,
    ensure_demo,
    people_path,
)
from copilot.gate.roles import ROLES, Role, parse_roles

__all__ = [
    "DEFAULT_KDF",
    "KINDS",
    "MEANINGS",
    "ROLES",
    "AuditEntry",
    "AuditRow",
    "AuditTrail",
    "KdfParams",
    "Meaning",
    "PeopleError",
    "PeopleStore",
    "Person",
    "Refusal",
    "RefusalCode",
    "Role",
    "VerifyResult",
    "audit_path",
    "ensure_demo",
    "export_csv",
    "parse_roles",
    "people_path",
    "query",
    "verify",
]
