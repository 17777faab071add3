"""``copilot users``: add people, list them, disable, enable, set a PIN or password, set roles.

Works on ``<data>/people.db`` directly (``--data DIR``, else ``COPILOT_DATA_DIR`` or the
settings), also while the hub runs: the hub sees the change at its next log-in. Every change
appends a ``user_admin`` row to the audit trail, by the login name of whoever ran the command
(or ``--by``), with ``{action, target, roles}`` as its detail; PINs and passwords are never
printed nor audited. Who may run this is who may write the data folder (it is the operating
system's account that guards it; ``--by`` is recorded, not checked). A refused change (a bad
id, PIN, role or name, an existing or unknown person) is one sentence and exit status 2.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copilot.cli import CliError
from copilot.cli_audit import data_folder

if TYPE_CHECKING:
    from copilot.gate.people import PeopleStore, Person

ACTIONS = ("add", "list", "disable", "enable", "set-pin", "roles")


def add_parser(sub: Any) -> None:
    """Add ``copilot users`` to the subcommands ``sub``."""
    p = sub.add_parser("users", help="the people who may act: add, list, disable, enable, roles")
    p.add_argument(
        "action",
        choices=ACTIONS,
        help="add: a new person (--name, --role, --pin or --password); list: everyone; "
        "disable/enable: refuse or allow log-ins (enable also lifts a lock-out); set-pin: a new "
        "PIN or password; roles: replace a person's roles (--role)",
    )
    p.add_argument("user", nargs="?", help="the person's id (lowercase letters, digits, . _ -)")
    p.add_argument("--name", help="add: the person's printed name (shown on signatures)")
    p.add_argument(
        "--role",
        action="append",
        default=[],
        help="add/roles: Observer, Operator, Engineer, Supervisor or SecurityAdmin (repeat it)",
    )
    p.add_argument("--pin", help="add/set-pin: 4 to 12 digits (asked for when not given)")
    p.add_argument("--password", help="add/set-pin: 8 to 128 characters instead of a PIN")
    p.add_argument("--by", help="who makes the change, for the audit trail (default: you)")
    p.add_argument("--data", metavar="DIR", help="the hub's data folder (default: the settings')")
    p.set_defaults(func=cmd_users)


def cmd_users(args: argparse.Namespace) -> int:
    """Dispatch ``copilot users ACTION`` (refusals and storage errors: one sentence, exit 2)."""
    from copilot.gate.people import PeopleError, PeopleStore, people_path
    from copilot.storage import StorageError

    if args.action == "list":
        if args.user:
            raise CliError("copilot users list takes no user id.", 2)
    elif not args.user:
        raise CliError(f"Name the person to {args.action}: copilot users {args.action} USER.", 2)
    data = data_folder(args)
    try:
        with PeopleStore(people_path(data)) as store:
            if args.action == "list":
                return list_people(store)
            person, said = change(args, store)
            _audit(data, store, args, person)
    except PeopleError as exc:
        raise CliError(str(exc), 2) from None
    except StorageError as exc:
        raise CliError(str(exc), 2) from None
    print(said)
    return 0


def change(args: argparse.Namespace, store: PeopleStore) -> tuple[Person, str]:
    """Make the change ``args`` asks for; the person after it and a sentence saying what."""
    match args.action:
        case "add":
            if not args.name:
                raise CliError("Give the person's printed name with --name.", 2)
            if not args.role:
                raise CliError("Give at least one --role.", 2)
            if store.get(args.user) is not None:  # before asking for a secret
                raise CliError(f"There is already a person {args.user.strip().lower()!r}.", 2)
            person = store.add(args.user, args.name, args.role, _secret(args))
            return person, f"Added {person.user} ({person.name}): {', '.join(person.roles)}."
        case "set-pin":
            if store.get(args.user) is None:
                raise CliError(f"There is no person {args.user.strip().lower()!r}.", 2)
            person = store.set_secret(args.user, _secret(args))
            return person, f"New {_kind_of_secret(args)} set for {person.user}."
        case "roles":
            if not args.role:
                raise CliError("Give the person's roles with --role (repeat it for more).", 2)
            person = store.set_roles(args.user, args.role)
            return person, f"{person.user} now holds: {', '.join(person.roles)}."
        case "disable":
            person = store.disable(args.user)
            return person, f"Disabled {person.user}: every log-in is refused until enabled."
        case _:
            person = store.enable(args.user)
            return person, f"Enabled {person.user} (any lock-out lifted, failures cleared)."


def _kind_of_secret(args: argparse.Namespace) -> str:
    return "password" if args.password else "PIN or password" if not args.pin else "PIN"


def _secret(args: argparse.Namespace) -> str:
    """The new PIN or password: from --pin or --password, else asked twice in a terminal."""
    if args.pin is not None and args.password is not None:
        raise CliError("Give --pin or --password, not both.", 2)
    if args.pin is not None:
        if not (args.pin.isascii() and args.pin.isdigit()):
            raise CliError("--pin takes 4 to 12 digits; use --password for a password.", 2)
        return str(args.pin)
    if args.password is not None:
        return str(args.password)
    if not sys.stdin.isatty():
        raise CliError(
            "Give the new secret with --pin or --password (or run this in a terminal to be "
            "asked for it).",
            2,
        )
    first = getpass.getpass(f"New PIN or password for {args.user}: ")
    if getpass.getpass("Again: ") != first:
        raise CliError("The two entries differ; nothing was changed.", 2)
    return first


def _audit(data: Path, store: PeopleStore, args: argparse.Namespace, person: Person) -> None:
    """The ``user_admin`` row for this change (after it is made: it records what happened)."""
    from copilot.gate.audit import AuditEntry, AuditTrail, audit_path

    by = (args.by or "").strip() or getpass.getuser()
    actor = store.get(by)
    trail: AuditTrail | None = None
    try:
        trail = AuditTrail(audit_path(data))
        trail.append_now(
            AuditEntry(
                kind="user_admin",
                user=by,
                name=actor.name if actor is not None else "",
                station="cli",
                outcome="ok",
                detail={"action": args.action, "target": person.user, "roles": list(person.roles)},
            )
        )
    except Exception as exc:  # the change stands: say so rather than print a traceback
        raise CliError(
            f"{args.action} {person.user} was done but could not be recorded in the audit trail: "
            f"{exc}.",
            1,
        ) from None
    finally:
        if trail is not None:
            trail.close()


def _state(person: Person, now: int) -> str:
    parts = ["disabled"] if person.disabled else []
    if person.locked(now):
        until = datetime.fromtimestamp(person.locked_until / 1e9).strftime("%H:%M:%S")
        parts.append(f"locked until {until}")
    return ", ".join(parts) or "active"


def list_people(store: PeopleStore) -> int:
    """``copilot users list``: one line per person."""
    import time

    people = store.list()
    if not people:
        print(
            "No people yet: add one with copilot users add USER --name 'Printed Name' "
            "--role Operator --pin 1234."
        )
        return 0
    now = time.time_ns()
    print(f"{'USER':<20} {'NAME':<24} {'ROLES':<30} {'STATE':<28} FAILURES")
    for p in people:
        roles = ", ".join(p.roles)
        state = _state(p, now)
        print(f"{p.user:<20} {p.name:<24} {roles:<30} {state:<28} {p.failures}")
    return 0
