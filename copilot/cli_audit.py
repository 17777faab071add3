"""``copilot audit``: check the audit trail's chain, list its rows, export them as CSV.

All three read ``<data>/audit.db`` directly (the data folder of ``--data DIR``, else
``COPILOT_DATA_DIR`` or the settings), so they work while the hub runs or after it stopped.
``verify`` exits 0 when the chain is intact and 1 naming the first bad row; a bad flag value,
a missing folder or a file that is not an audit trail is one sentence and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from copilot.cli import CliError, _number, _settings
from copilot.cli_alarms import VALUE_NOT_OPTION, parse_time

LIST_LIMIT = 50


def add_parser(sub: Any) -> None:
    """Add ``copilot audit`` to the subcommands ``sub``."""
    p = sub.add_parser("audit", help="the audit trail: verify its chain, list rows, export CSV")
    p.add_argument(
        "action",
        choices=["verify", "list", "export"],
        help="verify: check every row's hash and link (exit 1 naming the first bad row); "
        "list: the newest rows; export: rows as CSV",
    )
    p.add_argument("--data", metavar="DIR", help="the hub's data folder (default: the settings')")
    p.add_argument(
        "--since",
        metavar="T",
        help="list/export: from this time, ISO 8601 (local time unless a zone is given) or "
        "relative (-8h, -2d); default: the first row",
    )
    p.add_argument("--until", metavar="T", help="list/export: up to this time; default now")
    p.add_argument("--machine", default="", metavar="PREFIX", help="machines starting PREFIX")
    p.add_argument("--user", default="", help="list/export: rows of this user id only")
    p.add_argument("--kind", default="", help="list/export: rows of this kind only (e.g. login)")
    p.add_argument(
        "--limit",
        type=_number(int, minimum=1),
        default=LIST_LIMIT,
        help=f"list: at most this many rows (default {LIST_LIMIT})",
    )
    p.add_argument("--json", action="store_true", help="list: one JSON array")
    p.add_argument(
        "--out",
        metavar="FILE",
        help="export: the CSV file (default: a new file in <data>/exports; - for stdout)",
    )
    p._negative_number_matcher = VALUE_NOT_OPTION  # "--since -8h" is a value
    p.set_defaults(func=cmd_audit)


def data_folder(args: argparse.Namespace) -> Path:
    """``--data DIR`` (which must exist), else the settings' data folder."""
    if args.data:
        path = Path(args.data)
        if not path.is_dir():
            raise CliError(f"--data {args.data}: there is no such folder.", 2)
        return path
    return _settings(args, {}).data_path


def cmd_audit(args: argparse.Namespace) -> int:
    """Dispatch ``copilot audit ACTION`` (storage errors become one sentence, exit 2)."""
    from copilot.storage import StorageError

    try:
        match args.action:
            case "verify":
                return verify(args)
            case "list":
                return list_rows(args)
            case _:
                return export(args)
    except StorageError as exc:
        raise CliError(str(exc), 2) from None


def verify(args: argparse.Namespace) -> int:
    """``copilot audit verify``: the chain's verdict in one line; exit 0 intact, 1 broken."""
    from copilot.gate.audit import audit_path
    from copilot.gate.audit import verify as check

    result = check(audit_path(data_folder(args)))
    print(result.sentence)
    return 0 if result.ok else 1


def _period(args: argparse.Namespace) -> tuple[int, int]:
    now = time.time_ns()
    since = 0 if args.since is None else parse_time(args.since, now, "--since")
    until = now if args.until is None else parse_time(args.until, now, "--until")
    if since >= until:
        raise CliError("--since must be before --until.", 2)
    return since, until


def _rows(args: argparse.Namespace, limit: int = 0) -> tuple[Path, list[Any]]:
    from copilot.gate.audit import audit_path, query

    since, until = _period(args)
    data = data_folder(args)
    rows = query(audit_path(data), since, until, args.machine, args.user, args.kind, limit)
    return data, rows


def list_rows(args: argparse.Namespace) -> int:
    """``copilot audit list``: the newest rows first, one line each."""
    _data, rows = _rows(args, args.limit)
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in rows]))
        return 0
    if not rows:
        print("No audit rows match.")
        return 0
    print(f"{'#':>6}  {'TIME':<19}  {'KIND':<18} {'USER':<16} {'MACHINE':<12} WHAT")
    for r in rows:
        when = datetime.fromtimestamp(r.at / 1e9).strftime("%Y-%m-%d %H:%M:%S")
        detail = r.detail if len(r.detail) <= 60 else r.detail[:59] + "…"
        what = " ".join(part for part in (r.command, r.outcome, detail) if part and part != "{}")
        if r.meaning:
            what += f" [signed by {r.name or r.user}: {r.meaning}]"
        print(f"{r.seq:>6}  {when:<19}  {r.kind:<18} {r.user:<16} {r.machine:<12} {what}")
    return 0


def export(args: argparse.Namespace) -> int:
    """``copilot audit export``: rows of the period as CSV, oldest first."""
    from copilot.gate.audit import export_csv

    data, rows = _rows(args)
    rows.reverse()
    if args.out == "-":
        export_csv(rows, sys.stdout)
        return 0
    if args.out:
        target = Path(args.out)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = data / "exports" / f"audit-{stamp}.csv"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", newline="", encoding="utf-8") as f:
            count = export_csv(rows, f)
    except OSError as exc:
        raise CliError(f"Cannot write {target}: {exc.strerror or exc}.", 2) from None
    print(f"{count} audit row{'' if count == 1 else 's'} written to {target}")
    return 0
