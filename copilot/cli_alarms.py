"""``copilot alarms``: list, acknowledge and shelve live alarms; report KPIs; check a site file.

``list``/``ack``/``shelve``/``unshelve``/``reset`` ask the running hub (CLI key); ``report``
reads the hub's alarm journal in the data folder (``COPILOT_DATA_DIR``), so it works while the
hub runs or after it stopped; ``config check FILE`` validates a site alarm file.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any, client: Any) -> None:
    """Add ``copilot alarms`` to the subcommands ``sub`` (``client`` adds --hub/--insecure)."""
    p = sub.add_parser(
        "alarms", help="live alarms (list, ack, shelve), the KPI report, site alarm files"
    )
    p.add_argument(
        "action",
        choices=["list", "ack", "shelve", "unshelve", "reset", "report", "config"],
        help="list: active alarms; ack/shelve/unshelve/reset: act on alarms by id; "
        "report: alarm KPIs from the journal; config check FILE: validate a site alarm file",
    )
    p.add_argument("rest", nargs="*", metavar="ARG", help="alarm ids, or `check FILE`")
    client(p)
    p.set_defaults(func=cmd_alarms)


def cmd_alarms(args: argparse.Namespace) -> int:
    """Dispatch ``copilot alarms ACTION``."""
    match args.action:
        case "config":
            return config_check(args)
        case _:
            raise NotImplementedError(args.action)


def config_check(args: argparse.Namespace) -> int:
    """``copilot alarms config check FILE``: check a site alarm file, say what it does.

    Prints one line per rule in plain words and the mode table; a bad file is one sentence
    (exit 1), anything but ``check FILE`` after ``config`` one sentence too (exit 2).
    """
    from copilot.alarms.config import DEFAULT_MODES, AlarmConfigError, load_config
    from copilot.cli import CliError

    rest = list(args.rest)
    if len(rest) != 2 or rest[0] != "check":
        given = f" (not {' '.join(rest)!r})" if rest else ""
        raise CliError(
            f"After 'alarms config' give check FILE{given}, e.g. "
            "copilot alarms config check site.toml.",
            2,
        )
    try:
        config = load_config(rest[1])
    except AlarmConfigError as exc:
        raise CliError(str(exc)) from None
    count = len(config.rules)
    print(f"{rest[1]}: {count} rule{'' if count == 1 else 's'}, applied in this order:")
    for rule in config.rules:
        print(f"rule {rule.number}: {rule.selector}: {rule.describe()}")
    print("modes (the state tag's label: what it does to alarms; any other mode: enabled):")
    width = max(len(name) for name in config.modes)
    for name, policy in config.modes.items():
        mark = "" if DEFAULT_MODES.get(name) == policy else "  (set by this file)"
        print(f"  {name:<{width}}  {policy}{mark}")
    return 0
