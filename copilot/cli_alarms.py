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
    raise NotImplementedError(args.action)
