"""``copilot command`` and ``copilot policy``: commands through the gate, from scripts.

``copilot command send --user U --pin P --machine M --command C [--arg name=value …]`` logs the
person in through the hub, sends one ``CMD_REQ`` (origin ``cli``) and prints each lifecycle
state as it happens; the exit status is 0 when the machine reports COMPLETED, 1 for any other
end (the cause and the hub's sentence on stderr), 2 for a usage problem. The same gate as a
touch panel: tier 2 needs ``--yes`` (or a "y" at the prompt), tier 3 ``--reason`` (the PIN given
is the signature), tier 4 ``--reason`` and then waits for a Supervisor's approval, which
``copilot command approve CMD_ID --user U --pin P [--deny] [--note N]`` gives from a shell.
The PIN may come from ``--pin``, the ``COPILOT_PIN`` environment variable or the prompt.

``copilot policy check FILE`` checks a command policy file and says what it does.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

from copilot.cli import CliError, _check_address, _security, _settings
from copilot.protocol import (
    FINAL_STATES,
    ApprovalDecision,
    CommandQuery,
    CommandRequest,
    CommandStatus,
    ErrorReply,
    GateReply,
    Login,
    Logout,
    Session,
    Signature,
)
from copilot.settings import Settings
from copilot.station.client import HubClient, HubUnreachableError

FINAL_EXIT = {"COMPLETED": 0}


def add_parser(sub: Any, client: Any) -> None:
    """Add ``copilot command`` and ``copilot policy`` (``client`` adds --hub/--insecure)."""
    p = sub.add_parser("command", help="send a command through the gate, or approve one")
    client(p)
    p.add_argument(
        "action",
        choices=["send", "approve", "status"],
        help="send: one command; approve: a two-person command (--deny: refuse it); status: "
        "where a command stands (asks the hub, never resends)",
    )
    p.add_argument("cmd_id", nargs="?", help="approve/status: the command's id (printed by send)")
    p.add_argument("--user", help="send/approve: your user id (`copilot users list`)")
    p.add_argument("--pin", help="your PIN or password (else COPILOT_PIN, else asked)")
    p.add_argument("--machine", help="send: the machine id (`copilot machines`)")
    p.add_argument("--command", dest="command_name", help="send: the command's name")
    p.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="send: an argument (repeat it); numbers are numbers, true/false booleans",
    )
    p.add_argument("--yes", action="store_true", help="send: confirmed (tier 2 and above)")
    p.add_argument("--reason", default="", help="send: why (tier 3 sign, tier 4 two-person)")
    p.add_argument("--deny", action="store_true", help="approve: deny it instead")
    p.add_argument("--note", default="", help="approve: a note for the audit trail")
    p.add_argument(
        "--timeout",
        type=float,
        default=15.0,
        help="seconds to wait for the hub: for the log-in, and for the command's end (an "
        "approval's own window is waited for on top; default 15)",
    )
    p.set_defaults(func=cmd_command)

    p = sub.add_parser("policy", help="check a command policy file (docs/command-policy.md)")
    p.add_argument("action", choices=["check"], help="check FILE: validate it, say what it does")
    p.add_argument("file", help="the policy file (TOML)")
    p.set_defaults(func=cmd_policy)


def _value(text: str) -> str | int | float | bool:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _args(pairs: list[str]) -> dict[str, str | int | float | bool]:
    out: dict[str, str | int | float | bool] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--arg {pair!r} is not NAME=VALUE (e.g. --arg speed=55).", 2)
        out[name.strip()] = _value(value)
    return out


def _secret(args: argparse.Namespace) -> str:
    secret = args.pin or os.environ.get("COPILOT_PIN", "")
    if not secret and sys.stdin.isatty():
        secret = getpass.getpass(f"PIN or password of {args.user}: ")
    if not secret:
        raise CliError("Give your PIN with --pin or COPILOT_PIN (no terminal to ask on).", 2)
    return secret


@contextlib.contextmanager
def logged_in(
    settings: Settings, user: str, secret: str, timeout_s: float
) -> Iterator[tuple[HubClient, Session]]:
    """One conversation with the hub as ``user``: logged in first, logged out after.

    Raises :class:`CliError` with the hub's sentence when the log-in is refused (exit 1) or
    the hub cannot be reached (exit 2).
    """
    try:
        with HubClient(_security(settings, "cli"), settings.client.hub) as hub:
            hub.send(Login(user=user, secret=secret, request_id=1))
            session: Session | None = None
            for body in hub.answers(timeout_s):
                if isinstance(body, Session) and body.request_id == 1:
                    session = body
                    break
                if isinstance(body, GateReply) and body.request_id == 1:
                    raise CliError(body.message, 1)
                if isinstance(body, ErrorReply):
                    raise CliError(body.message, 2)
            assert session is not None
            try:
                yield hub, session
            finally:
                hub.send(Logout(token=session.token, request_id=9))
    except HubUnreachableError as exc:
        raise CliError(str(exc), 2) from None


def secret_of(args: argparse.Namespace) -> str:
    """The PIN or password: ``--pin``, else ``COPILOT_PIN``, else asked on the terminal."""
    return _secret(args)


def _when(ns: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ns / 1e9))


def cmd_command(args: argparse.Namespace) -> int:
    """``copilot command send|approve``."""
    settings = _settings(args, {"client": {"hub": args.hub}})
    _check_address(settings.client.hub, "--hub, COPILOT_HUB or client.hub")
    if args.action == "status":
        if not args.cmd_id:
            raise CliError("Name the command: copilot command status CMD_ID.", 2)
        try:
            with HubClient(_security(settings, "cli"), settings.client.hub) as hub:
                hub.send(CommandQuery(cmd_id=args.cmd_id))
                return _follow(hub, args.cmd_id, args.timeout, once=True)
        except HubUnreachableError as exc:
            raise CliError(str(exc), 2) from None
    if not args.user:
        raise CliError(f"Say who you are: copilot command {args.action} --user U.", 2)
    if args.action == "send" and not (args.machine and args.command_name):
        raise CliError("Say which: --machine M --command C (see `copilot machines`).", 2)
    if args.action == "approve" and not args.cmd_id:
        raise CliError("Name the command to approve: copilot command approve CMD_ID.", 2)
    cmd_args = _args(args.arg)
    secret = _secret(args)
    with logged_in(settings, args.user, secret, args.timeout) as (hub, session):
        if args.action == "approve":
            return _approve(hub, session, args, secret)
        grant = next(
            (
                g
                for g in session.grants
                if g.machine == args.machine and g.name == args.command_name
            ),
            None,
        )
        # Even a command this person may not issue is sent: the gate refuses it, says why and
        # keeps the refusal in its audit trail (a script's attempt is a fact worth keeping).
        tier = grant.tier if grant is not None and grant.allowed else 1
        confirmed = args.yes
        if tier >= 2 and not confirmed:
            shown = ", ".join(f"{k}={v}" for k, v in cmd_args.items()) or "no arguments"
            if not sys.stdin.isatty():
                raise CliError(
                    f"{args.command_name} on {args.machine} is tier {tier}: add --yes to "
                    "confirm it.",
                    2,
                )
            question = f"{args.command_name} on {args.machine} ({shown}). Confirm? [y/N] "
            if input(question).strip().lower() not in ("y", "yes"):
                print("Not sent.")
                return 1
            confirmed = True
        if tier >= 3 and not args.reason.strip():
            need = "signed" if tier == 3 else "approved by a second person"
            raise CliError(
                f"{args.command_name} on {args.machine} must be {need}: give --reason.", 2
            )
        cmd_id = uuid.uuid4().hex
        hub.send(
            CommandRequest(
                token=session.token,
                cmd_id=cmd_id,
                machine=args.machine,
                name=args.command_name,
                not_after=time.time_ns() + int(args.timeout * 1e9),
                args=cmd_args,
                origin="cli",
                confirmed=confirmed,
                sign=Signature(secret=secret, reason=args.reason) if tier >= 3 else None,
                request_id=2,
            )
        )
        print(f"{cmd_id}: sent (tier {tier})", flush=True)
        try:
            return _follow(hub, cmd_id, args.timeout)
        except HubUnreachableError:
            raise CliError(
                f"No final answer within {args.timeout:g} s; the command may still be running: "
                f"ask with `copilot command status {cmd_id}` (never send it again).",
                2,
            ) from None


def _follow(hub: HubClient, cmd_id: str, timeout_s: float, once: bool = False) -> int:
    """Print each new state of ``cmd_id``; the exit status at its end (``once``: the first)."""
    last = ""
    wait = timeout_s
    while True:
        for body in hub.answers(wait):
            if not isinstance(body, CommandStatus) or body.cmd_id != cmd_id:
                continue
            if body.state == last:
                continue
            last = body.state
            if once and body.state not in FINAL_STATES:
                print(f"{cmd_id}: {body.state} — {body.message or 'in progress'}", flush=True)
                return 1
            if body.state == "AWAITING_APPROVAL":
                print(f"{cmd_id}: AWAITING_APPROVAL — {body.message}", flush=True)
                wait = max(timeout_s, 600.0)  # an approval window is the policy's, minutes
                break
            if body.state in FINAL_STATES:
                observed = (
                    " (" + ", ".join(f"{k} {v}" for k, v in body.observed.items()) + ")"
                    if body.observed
                    else ""
                )
                if body.state == "COMPLETED":
                    print(f"{cmd_id}: COMPLETED — {body.message}{observed}", flush=True)
                    return 0
                print(f"{cmd_id}: {body.state} ({body.cause or '-'})", flush=True)
                print(f"copilot: {body.message or body.state}", file=sys.stderr)
                return 1
            print(f"{cmd_id}: {body.state}", flush=True)
        else:
            return 1


def _approve(hub: HubClient, session: Session, args: argparse.Namespace, secret: str) -> int:
    hub.send(
        ApprovalDecision(
            token=session.token,
            cmd_id=args.cmd_id,
            approve=not args.deny,
            sign=Signature(secret="" if args.deny else secret, reason=args.note),
            request_id=3,
        )
    )
    for body in hub.answers(args.timeout):
        if isinstance(body, GateReply) and body.request_id == 3:
            if body.ok:
                print(body.message)
                return 0
            raise CliError(body.message, 1)
    return 1


def cmd_policy(args: argparse.Namespace) -> int:
    """``copilot policy check FILE``: one sentence per error (exit 1), else what it does."""
    from copilot.gate.policy import TIER_NAMES, load_policy

    policy = load_policy(args.file)
    print(f"{policy.source}: valid.")
    for rule in policy.allow:
        where = _where(rule)
        print(
            f"  allow {rule.number}: {', '.join(rule.command_globs)} on {where} → "
            f"{', '.join(sorted(rule.roles)) or 'nobody'}"
        )
    for rule in policy.tiers:
        print(
            f"  tier {rule.number}: {', '.join(rule.command_globs)} on {_where(rule)} → "
            f"{TIER_NAMES[rule.tier]} ({rule.tier})"
        )
    print(
        f"  approvals by {', '.join(sorted(policy.approver_roles))}, expire after "
        f"{policy.approval_timeout_s:g} s; idle warning {policy.idle_warn_s:g} s, lock "
        f"{policy.idle_lock_s:g} s; lock-out after {policy.lockout_attempts} failures for "
        f"{policy.lockout_s:g} s."
    )
    voice = ", ".join(policy.voice_globs) or "nothing"
    print(f"  voice may propose: {voice} (never tier 3 or 4)")
    print(f"  the audit trail is read by {', '.join(sorted(policy.audit_roles)) or 'nobody'}")
    for station, areas in sorted(policy.station_areas.items()):
        print(f"  station {station}: areas {', '.join(sorted(areas))}")
    return 0


def _where(rule: Any) -> str:
    if rule.areas:
        return "areas " + ", ".join(sorted(rule.areas))
    if rule.machines is not None:
        return "machines " + ", ".join(rule.machine_globs)
    return "every machine"
