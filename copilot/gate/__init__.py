"""The command gate's Qt-free core; the hub's service is :mod:`copilot.hub.gate`.

``roles`` (the five role names), ``people`` (ids, printed names, hashed PINs or passwords,
lock-out, in ``people.db``), ``audit`` (the append-only, hash-chained ``audit.db``), ``policy``
(the site's command policy), ``checks`` (interlocks and permissives from live values),
``decide`` (a request's checks, in order, as a pure function), ``sessions`` (tokens bound to
station keys), ``authority`` (control of a machine or an area) and ``panel`` (what a station's
command views show, without Qt).
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
from copilot.gate.authority import AuthorityBook, AuthorityRefusal, area_scope, machine_scope
from copilot.gate.checks import blockers, evaluate, holds, sentence
from copilot.gate.decide import Asker, Passed, Refused, Target, decide
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
from copilot.gate.policy import (
    DEFAULT,
    EXAMPLE,
    Decision,
    Policy,
    PolicyError,
    load_policy,
    parse_policy,
)
from copilot.gate.roles import ROLES, Role, parse_roles
from copilot.gate.sessions import LiveSession, SessionBook

__all__ = [
    "DEFAULT",
    "DEFAULT_KDF",
    "EXAMPLE",
    "KINDS",
    "MEANINGS",
    "ROLES",
    "Asker",
    "AuditEntry",
    "AuditRow",
    "AuditTrail",
    "AuthorityBook",
    "AuthorityRefusal",
    "Decision",
    "KdfParams",
    "LiveSession",
    "Meaning",
    "Passed",
    "PeopleError",
    "PeopleStore",
    "Person",
    "Policy",
    "PolicyError",
    "Refusal",
    "RefusalCode",
    "Refused",
    "Role",
    "SessionBook",
    "Target",
    "VerifyResult",
    "area_scope",
    "audit_path",
    "blockers",
    "decide",
    "ensure_demo",
    "evaluate",
    "export_csv",
    "holds",
    "load_policy",
    "machine_scope",
    "parse_policy",
    "parse_roles",
    "people_path",
    "query",
    "sentence",
    "verify",
]
