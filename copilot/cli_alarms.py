"""``copilot alarms``: list, acknowledge and shelve live alarms; report KPIs; check a site file.

``list``/``ack``/``shelve``/``unshelve``/``reset`` ask the running hub (CLI key); ``report``
reads the hub's alarm journal in the data folder (``COPILOT_DATA_DIR``), so it works while the
hub runs or after it stopped; ``config check FILE`` validates a site alarm file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copilot.cli import CliError, _settings
from copilot.protocol.messages import PRIORITIES

if TYPE_CHECKING:
    from copilot.alarms.kpi import KpiReport
    from copilot.protocol import AlarmAct, AlarmActReply
    from copilot.settings import Settings

DAY_NS = 86_400 * 1_000_000_000
_UNIT_NS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": DAY_NS}
_RELATIVE = re.compile(r"-(\d+(?:\.\d+)?)([smhd])")
# What argparse must take for a value, not an option: "-8h", "-3w" (then told why not), "-1".
VALUE_NOT_OPTION = re.compile(r"^-\.?\d")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def add_parser(sub: Any, client: Any) -> None:
    """Add ``copilot alarms`` to the subcommands ``sub`` (``client`` adds --hub/--insecure)."""
    p = sub.add_parser(
        "alarms", help="live alarms (list, ack, shelve), the KPI report, site alarm files"
    )
    p.add_argument(
        "action",
        choices=[
            "list",
            "ack",
            "shelve",
            "unshelve",
            "reset",
            "claim",
            "note",
            "remove",
            "restore",
            "report",
            "export",
            "config",
        ],
        help="list: the alarms that are not normal; ack/shelve/unshelve/reset/claim/note: act "
        "on alarms by id; remove/restore: take alarms out of service and back (an engineer's "
        "act: --user of an Engineer or Supervisor); report: alarm KPIs from the journal; "
        "export: the journal's occurrences as CSV; config check FILE: validate a site alarm file",
    )
    p.add_argument(
        "rest", nargs="*", metavar="ARG", help="alarm ids (or `all` with ack), or `check FILE`"
    )
    p.add_argument(
        "--note",
        default="",
        help="ack: a note; shelve/remove: the reason (required); note: the text",
    )
    p.add_argument(
        "--for",
        dest="duration",
        metavar="DURATION",
        help="shelve: how long (15m, 2h; default 15m; the hub caps it at its maximum)",
    )
    p.add_argument("--oneshot", action="store_true", help="shelve: until the alarm clears")
    p.add_argument(
        "--chatter-raises",
        type=int,
        default=3,
        metavar="N",
        help="report: N raises of one alarm within --chatter-window-s is chattering (default 3)",
    )
    p.add_argument(
        "--chatter-window-s", type=float, default=60.0, metavar="S", help="report: default 60"
    )
    p.add_argument(
        "--fleeting-s",
        type=float,
        default=1.0,
        metavar="S",
        help="report: active for less than S seconds is fleeting (default 1)",
    )
    p.add_argument(
        "--stale-h",
        type=float,
        default=24.0,
        metavar="H",
        help="report: active for more than H hours is stale (default 24)",
    )
    p.add_argument("--user", help="acts: your user id — the hub records you (log-in first)")
    p.add_argument("--pin", help="acts: your PIN or password (else COPILOT_PIN, else asked)")
    p.add_argument("--who", help="acts on a hub without the gate: who acts (default: you)")
    p.add_argument(
        "--out",
        metavar="FILE",
        help="export: the CSV file (default: a new file in <data>/exports; - for stdout)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="list and acts: seconds to wait for the hub (default 5)",
    )
    p.add_argument(
        "--since",
        metavar="T",
        help="report: start of the period, ISO 8601 (2026-12-01T08:00, local time unless a "
        "zone is given) or relative (-8h, -30m, -2d); default 24 h ago",
    )
    p.add_argument(
        "--until", metavar="T", help="report: end of the period (same forms); default now"
    )
    p.add_argument("--json", action="store_true", help="report: one JSON object")
    p.add_argument(
        "--machine",
        metavar="PREFIX",
        default="",
        help="report: only machines whose id starts with PREFIX (e.g. press-)",
    )
    client(p)
    # argparse takes "-8h" for an unknown option unless it looks like a negative number; widen
    # what looks like one to anything starting "-<digit>" (what Python 3.13 does by itself).
    p._negative_number_matcher = VALUE_NOT_OPTION
    p.set_defaults(func=cmd_alarms)


def cmd_alarms(args: argparse.Namespace) -> int:
    """Dispatch ``copilot alarms ACTION``."""
    match args.action:
        case "config":
            return config_check(args)
        case "report":
            return report(args)
        case "export":
            return export(args)
        case "list":
            return list_alarms(args)
        case _:
            return act(args)


# -- export ------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "occurrence",
    "alarm",
    "machine",
    "area",
    "line",
    "tag",
    "condition",
    "priority",
    "message",
    "raised",
    "cleared",
    "acknowledged",
    "acknowledged_by",
    "ended",
    "value",
    "limit",
    "suppressed",
    "shelved",
    "first_out",
    "note",
)


def export(args: argparse.Namespace) -> int:
    """``copilot alarms export [--since --until --machine] [--out FILE]``: occurrences as CSV.

    Times are ISO 8601 in UTC; one row per occurrence, oldest first. Without ``--out`` the
    file goes to the exports folder (``<data>/exports``) and its path is printed; ``--out -``
    writes to standard output.
    """
    import csv

    from copilot.alarms.journal import journal_path, open_journal, read_occurrences

    if args.rest:
        raise CliError("copilot alarms export takes no arguments; use --since/--until.", 2)
    now = time.time_ns()
    since = now - DAY_NS if args.since is None else parse_time(args.since, now, "--since")
    until = now if args.until is None else parse_time(args.until, now, "--until")
    if since >= until:
        raise CliError(f"--since ({_when(since)}) must be before --until ({_when(until)}).", 2)
    settings = _settings(args, {})
    path = journal_path(settings.data_path)
    if not path.is_file():
        raise CliError(f"This hub has journaled no alarms yet (there is no {path}).")
    conn = open_journal(path)
    try:
        rows = read_occurrences(conn, since, until, args.machine)
    finally:
        conn.close()

    def iso(ns: int | None) -> str:
        if ns is None:
            return ""
        return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds")

    def write(out: Any) -> None:
        w = csv.writer(out)
        w.writerow(CSV_COLUMNS)
        for o in rows:
            w.writerow(
                [
                    o.id,
                    o.alarm,
                    o.machine,
                    o.area,
                    o.line,
                    o.tag,
                    o.condition,
                    o.priority,
                    o.message,
                    iso(o.raised_at),
                    iso(o.cleared_at),
                    iso(o.acked_at),
                    o.acked_by or "",
                    iso(o.ended_at),
                    "" if o.value is None else o.value,
                    "" if o.limit is None else o.limit,
                    int(o.suppressed),
                    int(o.shelved),
                    int(o.first_out),
                    o.note,
                ]
            )

    if args.out == "-":
        write(sys.stdout)
        return 0
    if args.out:
        target = Path(args.out)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = settings.data_path / "exports" / f"alarms-{stamp}.csv"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", newline="", encoding="utf-8") as f:
            write(f)
    except OSError as exc:
        raise CliError(f"Cannot write {target}: {exc.strerror or exc}.") from None
    print(f"{len(rows)} occurrence{'' if len(rows) == 1 else 's'} written to {target}")
    return 0


# -- live alarms (ask the hub) -----------------------------------------------------------------

_STATE_WORDS = {
    "unack": "UNACK",
    "ack": "ACKED",
    "rtn_unack": "RTN-UNACK",
    "normal": "normal",
}


def _live(args: argparse.Namespace) -> list[Any]:
    """The hub's alarms that are not plainly normal, most urgent first."""
    from copilot.cli import _ask_hub
    from copilot.protocol import PRIORITY_RANK, AlarmHistory, AlarmQuery

    settings = _settings(args, {"client": {"hub": args.hub}})
    reply = _ask_hub(
        settings,
        AlarmQuery(live=True, prefix=args.machine, limit=5000),
        AlarmHistory,
        args.timeout,
    )
    return sorted(
        reply.alarms, key=lambda a: (PRIORITY_RANK.get(a.priority, 9), -a.raised_at, a.id)
    )


def list_alarms(args: argparse.Namespace) -> int:
    """``copilot alarms list``: what is in alarm now, as the hub says."""
    import msgspec

    if args.rest:
        raise CliError("copilot alarms list takes no ids; use --machine PREFIX to narrow it.", 2)
    alarms = _live(args)
    if args.json:
        print(json.dumps(msgspec.to_builtins(alarms)))
        return 0
    if not alarms:
        print("No alarms: every alarm is normal.")
        return 0
    print(f"{'PRIORITY':<9} {'STATE':<10} {'SINCE':<6} {'ID':<34} MESSAGE")
    for a in alarms:
        state = _STATE_WORDS.get(a.state, a.state)
        if a.latched:
            state += "+L"
        flags = []
        if a.shelf is not None:
            flags.append(f"shelved by {a.shelf.by}")
        if a.removed is not None:
            flags.append(f"out of service ({a.removed.by})")
        if a.suppressed:
            flags.append("suppressed")
        if a.claim is not None:
            flags.append(f"claimed by {a.claim.by}")
        if a.acked_by:
            flags.append(f"acked by {a.acked_by}")
        since = datetime.fromtimestamp(a.raised_at / 1e9).strftime("%H:%M") if a.raised_at else ""
        extra = f" [{'; '.join(flags)}]" if flags else ""
        print(f"{a.priority:<9} {state:<10} {since:<6} {a.id[:34]:<34} {a.message}{extra}")
    return 0


def _duration_s(text: str | None) -> float:
    if text is None:
        return 900.0
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not m or float(m[1]) <= 0:
        raise CliError(f"--for {text!r} is not a duration: give e.g. 15m, 2h or 90s.", 2)
    return float(m[1]) * _UNIT_NS[m[2] or "s"] / 1e9


def act(args: argparse.Namespace) -> int:
    """``copilot alarms ack|shelve|unshelve|reset|claim|note|remove|restore ID…``."""
    import getpass

    from copilot.cli import _ask_hub
    from copilot.protocol import AlarmAct, AlarmActReply

    ids = list(args.rest)
    if not ids:
        raise CliError(f"Name the alarms to {args.action} (ids from `copilot alarms list`).", 2)
    if ids == ["all"]:
        if args.action != "ack":
            raise CliError("`all` works with ack only; name the alarms.", 2)
        ids = [a.id for a in _live(args) if a.state in ("unack", "rtn_unack")]
        if not ids:
            print("Nothing to acknowledge.")
            return 0
    if args.action in ("shelve", "remove") and not args.note.strip():
        raise CliError(f"Say why with --note (a reason is required to {args.action}).", 2)
    duration = 0.0 if args.oneshot else _duration_s(args.duration)
    settings = _settings(args, {"client": {"hub": args.hub}})
    who = (args.who or "").strip() or getpass.getuser()
    body = AlarmAct(
        action=args.action,
        ids=ids,
        who=f"{who} (cli)",
        note=args.note,
        duration_s=duration if args.action == "shelve" else 0.0,
        oneshot=args.oneshot,
        request_id=1,
    )
    if args.user:
        reply = _act_as(settings, args, body)
    else:
        reply = _ask_hub(settings, body, AlarmActReply, args.timeout)
    for aid in reply.done:
        print(f"{args.action}: {aid}")
    for aid, why in reply.refused.items():
        print(f"copilot: {aid}: {why}", file=sys.stderr)
    return 1 if reply.refused else 0


def _act_as(settings: Settings, args: argparse.Namespace, act: AlarmAct) -> AlarmActReply:
    """Log ``--user`` in through the gate and act as that person; the hub's answer."""
    import msgspec

    from copilot.cli_command import logged_in, secret_of
    from copilot.protocol import AlarmActReply
    from copilot.station.client import HubUnreachableError

    with logged_in(settings, args.user, secret_of(args), args.timeout) as (hub, session):
        hub.send(msgspec.structs.replace(act, token=session.token, who=""))
        try:
            for body in hub.answers(args.timeout):
                if isinstance(body, AlarmActReply) and body.request_id == act.request_id:
                    return body
        except HubUnreachableError as exc:
            raise CliError(str(exc), 2) from None
    raise CliError("The hub did not answer the act.", 2)  # pragma: no cover - answers raises


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


# -- report ------------------------------------------------------------------------------------


def report(args: argparse.Namespace) -> int:
    """``copilot alarms report``: the alarm-load KPIs of a period, from the journal."""
    from copilot.alarms.journal import journal_path, open_journal, read_occurrences
    from copilot.alarms.kpi import compute_kpis  # numpy: only for this action

    if args.rest:
        raise CliError(
            f"copilot alarms report takes no arguments (got {' '.join(args.rest)}); choose "
            "the period with --since and --until, the machines with --machine.",
            2,
        )
    now = time.time_ns()
    since = now - DAY_NS if args.since is None else parse_time(args.since, now, "--since")
    until = now if args.until is None else parse_time(args.until, now, "--until")
    if since >= until:
        raise CliError(f"--since ({_when(since)}) must be before --until ({_when(until)}).", 2)
    settings = _settings(args, {})
    path = journal_path(settings.data_path)
    if not path.is_file():
        empty = compute_kpis([], since, until, _definitions(args))
        sentence = f"This hub has journaled no alarms yet (there is no {path})."
        if args.json:
            print(sentence, file=sys.stderr)
            print(json.dumps({**empty.to_dict(), "anomaly_feedback": []}))
        else:
            print(sentence)
        return 0
    conn = open_journal(path)
    try:
        # From the start: occurrences raised before --since may still be standing or stale.
        occurrences = read_occurrences(conn, 0, until, args.machine)
    finally:
        conn.close()
    kpis = compute_kpis(occurrences, since, until, _definitions(args))
    feedback = anomaly_feedback(settings.data_path, since, until, args.machine)
    if args.json:
        print(json.dumps({**kpis.to_dict(), "anomaly_feedback": [c.to_dict() for c in feedback]}))
    else:
        from copilot.anomaly.feedback import feedback_lines

        for line in [*report_lines(kpis, args.machine), "", *feedback_lines(feedback)]:
            print(line)
    return 0


def anomaly_feedback(data_path: Path, since: int, until: int, prefix: str) -> list[Any]:
    """Operators' verdicts on anomaly alerts in the period, per tag and detector (none: [])."""
    from copilot.anomaly.feedback import count_feedback
    from copilot.hub.anomaly import MIGRATIONS, anomaly_path, read_feedback
    from copilot.storage import open_database

    path = anomaly_path(data_path)
    if not path.is_file():
        return []
    conn = open_database(path, MIGRATIONS)
    try:
        return count_feedback(read_feedback(conn, since, until, prefix))
    finally:
        conn.close()


def _definitions(args: argparse.Namespace) -> Any:
    """The report's definitions from its flags (one sentence if they mean nothing)."""
    from copilot.alarms.kpi import KpiDefinitions

    try:
        return KpiDefinitions(
            chatter_raises=args.chatter_raises,
            chatter_window_s=args.chatter_window_s,
            fleeting_s=args.fleeting_s,
            stale_s=args.stale_h * 3600.0,
        )
    except ValueError as exc:
        raise CliError(f"The report's definitions are wrong: {exc}", 2) from None


def parse_time(text: str, now_ns: int, flag: str) -> int:
    """``T`` of --since/--until in ns UTC: ISO 8601 (local time without a zone) or ``-8h``."""
    text = text.strip()
    if text == "now":
        return now_ns
    relative = _RELATIVE.fullmatch(text)
    if relative:
        return _in_range(now_ns - round(float(relative[1]) * _UNIT_NS[relative[2]]), text, flag)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"{flag} {text!r} is not a time: give ISO 8601 (2026-12-01T08:00, local time "
            "unless it ends in a zone such as Z or +01:00) or a time ago (-8h, -30m, -2d).",
            2,
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # local time, as the clock on the wall says
    ns = (when - _EPOCH) // timedelta(microseconds=1) * 1000
    return _in_range(ns, text, flag)


def _in_range(ns: int, text: str, flag: str) -> int:
    """``ns`` if the journal can hold it (1970 to 2262, ns in 64 bits), else one sentence."""
    if not 0 <= ns < 2**63:
        raise CliError(f"{flag} {text!r} is out of range: give a time between 1970 and 2262.", 2)
    return ns


def _when(ns: int) -> str:
    """A time in local time, to the minute, with its zone."""
    return datetime.fromtimestamp(ns / 1e9, UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def _span(ns: int) -> str:
    hours = ns / 3_600_000_000_000
    return f"{hours / 24:g} d" if hours >= 48 and hours % 24 == 0 else f"{hours:.4g} h"


def report_lines(kpis: KpiReport, machine: str = "") -> list[str]:
    """The report as a table: figure, value, target (FIELD_NOTES), then the bad actors."""
    who = f"machines starting {machine!r}" if machine else "all machines"
    from copilot.alarms.kpi import figure_rows

    rows = [
        *figure_rows(kpis),
        ("priority mix", "", "(3 levels)"),
    ]
    mix_targets = {"high": "~5 %", "medium": "~15 %", "low": "~80 %"}
    for priority, share in kpis.priority_distribution.items():
        name = f"  {priority}" if priority in PRIORITIES else f"  {priority} (unknown)"
        rows.append((name, f"{share:.1f} %", mix_targets.get(priority, "")))
    lines = [
        f"Alarm KPIs for {who}, {_when(kpis.since_ns)} → {_when(kpis.until_ns)} "
        f"({_span(kpis.until_ns - kpis.since_ns)})",
        "",
        f"{'FIGURE':<24} {'VALUE':<20} TARGET",
        *(f"{name:<24} {value:<20} {target}".rstrip() for name, value, target in rows),
    ]
    if kpis.chattering_alarms:
        lines += ["", "chattering: " + ", ".join(kpis.chattering_alarms)]
    lines += ["", "Definitions:", *(f"  {line}" for line in kpis.definitions.describe())]
    lines += ["", f"BAD ACTORS (the {len(kpis.bad_actors)} alarms raised most often)"]
    if not kpis.bad_actors:
        lines.append("  none: no alarms in this period")
    else:
        width = max(24, *(len(b.alarm) for b in kpis.bad_actors))
        lines.append(f"{'#':>3}  {'ALARM':<{width}} {'COUNT':>6} {'SHARE':>8}")
        for rank, actor in enumerate(kpis.bad_actors, 1):
            lines.append(
                f"{rank:>3}  {actor.alarm:<{width}} {actor.count:>6} {actor.share_pct:>6.1f} %"
            )
    return lines
