"""The ``copilot`` command: hub, simulated plant, station, demo, machine listing and keys.

Every subcommand builds its :class:`~copilot.settings.Settings` from defaults, the TOML file,
the environment and its own flags, in that order. Expected failures (a port in use, a missing
key file, a second hub on the same data folder, a bad fault schedule, an unwritable data
folder...) end with one sentence on stderr and exit status 1; ``machines`` exits 2 when no hub
answers, and a bad command line (an unknown flag, ``--rate 0``) is one line and exit status 2.
Nothing a person types prints a traceback (``-v`` shows one for an unexpected error). Ctrl-C
and SIGTERM stop everything the command started within two seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlparse

import msgspec

from copilot import __version__
from copilot.alarms.config import AlarmConfigError
from copilot.bus import AllowedKey, Bus, BusError, KeyFileError, KeyStore, Security, hub_endpoints
from copilot.gate.people import PeopleError
from copilot.gate.policy import PolicyError
from copilot.proc import stop_on_signals
from copilot.protocol import Body, HubStatus
from copilot.settings import DEFAULT_HUB, Settings, SettingsError, load, with_overrides
from copilot.sim.errors import FaultScheduleError, SimSettingsError
from copilot.storage import InstanceLock, StorageError

log = logging.getLogger("copilot")
_Reply = TypeVar("_Reply")

EXPECTED_ERRORS = (
    AlarmConfigError,
    PolicyError,
    PeopleError,
    BusError,
    KeyFileError,
    StorageError,
    SettingsError,
    FaultScheduleError,
    SimSettingsError,
)


class CliError(Exception):
    """A failure explained in one sentence; the process exits with ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose < 0 else logging.DEBUG if verbose > 0 else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def _settings(args: argparse.Namespace, overrides: dict[str, dict[str, Any]]) -> Settings:
    base = load()
    if getattr(args, "insecure", False):
        overrides.setdefault("security", {})["insecure"] = True
    settings = with_overrides(base, overrides)
    _check_data_folder(settings)
    return settings


def _check_data_folder(settings: Settings) -> None:
    """The data folder exists (created on first use) and this user may write in it."""
    where = settings.data_dir or "the default data folder"
    if settings.data_dir and Path(settings.data_dir).is_file():
        raise CliError(
            f"The data folder {settings.data_dir} is a file; set COPILOT_DATA_DIR to a folder."
        )
    try:
        path = settings.data_path
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CliError(
            f"Cannot create the data folder {exc.filename or where}: {reason.lower()}; "
            "set COPILOT_DATA_DIR to a folder you can write."
        ) from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise CliError(
            f"Cannot write in the data folder {path}; set COPILOT_DATA_DIR to a folder you can "
            "write."
        )


def _check_address(address: str, where: str) -> None:
    """One sentence for a hub address that cannot work (before any socket sees it)."""
    if address.startswith("tcp://"):
        try:
            port = urlparse(address).port
        except ValueError:
            port = -1
        if port is not None and not 1 <= port <= 65534:
            raise CliError(
                f"Hub address {address!r} ({where}) has a port out of range: use 1 to 65534 "
                "(the hub also listens on the next port)."
            )
    hub_endpoints(address)  # BusError: scheme, host or port missing


def _check_view(
    view: str | None, machines: Mapping[str, list[str] | None] | None, hint: str = ""
) -> None:
    """``--view`` is overview, alarms, kpis, machine:ID or trend:ID/TAG (of a known machine).

    ``machines`` maps each machine id to its tags (None: not known); None: no plant known.
    """
    if view is None or view in ("overview", "alarms", "kpis"):
        return
    kind, _, rest = view.partition(":")
    machine, _, tag = rest.partition("/")
    if not ((kind == "machine" and machine and not tag) or (kind == "trend" and machine and tag)):
        raise CliError(
            f"--view {view!r} is not a view: use overview, alarms, kpis, machine:ID or "
            "trend:ID/TAG "
            "(e.g. machine:press-01 or trend:oven-01/zone1_temp_c)."
        )
    if machines is None:
        return
    if machine not in machines:
        raise CliError(f"--view {view!r}: the plant has no machine {machine!r}; {hint}.")
    tags = machines[machine]
    if tag and tags is not None and tag not in tags:
        more = ", …" if len(tags) > 6 else ""
        raise CliError(
            f"--view {view!r}: machine {machine} has no tag {tag!r}; its tags are "
            f"{', '.join(tags[:6])}{more}."
        )


def _check_screenshot(path: str | None) -> None:
    """``--screenshot`` names an image file in a folder that exists (Qt fails silently)."""
    if not path:
        return
    target = Path(path)
    if target.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp"):
        raise CliError(f"--screenshot {path}: name a .png (or .jpg, .bmp) file.")
    folder = target.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise CliError(
            f"--screenshot {path}: the folder {folder} does not exist or is not writable."
        )


def _note_ignored_window_flags(args: argparse.Namespace) -> None:
    """With --headless there is no window: say which window flags are ignored."""
    given = [
        flag
        for flag, value in (
            ("--view", args.view),
            ("--theme", args.theme),
            ("--kiosk", args.kiosk),
            ("--offscreen", args.offscreen),
            ("--screenshot", args.screenshot),
            ("--quit-after", args.quit_after),
        )
        if value
    ]
    if given:
        print(
            f"copilot: note: {' and '.join(given)} "
            f"{'is' if len(given) == 1 else 'are'} ignored with --headless (there is no window).",
            file=sys.stderr,
            flush=True,
        )


def _security(settings: Settings, identity: str) -> Security:
    return Security.from_data_path(settings.data_path, identity, settings.security.insecure)


def _wait_for_stop() -> threading.Event:
    stop = threading.Event()
    stop_on_signals(stop.set)
    return stop


# -- hub ---------------------------------------------------------------------------------------


def cmd_hub(args: argparse.Namespace) -> int:
    """Run the hub until Ctrl-C or SIGTERM (or, with ``status``, ask a running one)."""
    if args.action == "status":
        return cmd_hub_status(args)
    from copilot.hub import Hub, default_services

    overrides: dict[str, object] = {"bind": args.bind}
    if args.no_gate:
        overrides["gate"] = False
    settings = _settings(args, {"hub": overrides})
    _check_address(settings.hub.bind, "--bind or hub.bind")
    lock = InstanceLock(settings.data_path / "hub.lock", "hub")
    lock.acquire()
    bus = Bus(_security(settings, "hub"))
    # Services are composed here, where the hub is started (alarms, gate... join this list).
    alarm_config = None
    if args.alarms or settings.hub.alarm_file:
        from copilot.alarms.config import load_config

        alarm_config = load_config(args.alarms or settings.hub.alarm_file)
        log.info(
            "hub: alarm configuration from %s (%d rules).",
            alarm_config.source,
            len(alarm_config.rules),
        )
    policy = None
    if settings.hub.gate:
        from copilot.gate.policy import load_policy

        if args.policy or settings.hub.policy_file:
            policy = load_policy(args.policy or settings.hub.policy_file)
            log.info("hub: command policy from %s.", policy.source)
        else:
            log.debug("hub: no policy file; the built-in policy holds (docs/command-policy.md).")
    else:
        log.warning("hub: the command gate is OFF (--no-gate): stations command unchecked.")
    services = default_services(settings.hub, settings.data_path, alarm_config, policy)
    hub = Hub(bus, settings.hub, services=services, data_path=settings.data_path)
    try:
        hub.open()
        stop_on_signals(hub.request_stop)
        if settings.security.insecure:
            log.warning("hub: running INSECURE (--insecure): no encryption, no key checks.")
        hub.run()
    finally:
        bus.close()
        lock.release()
    return 0


def _ask_hub(settings: Settings, body: Body, answer: type[_Reply], timeout_s: float) -> _Reply:
    """One request to the hub with the CLI key; its answer, or one sentence why not."""
    from copilot.station.client import HubUnreachableError, request_once

    _check_address(settings.client.hub, "--hub, COPILOT_HUB or client.hub")
    try:
        reply = request_once(_security(settings, "cli"), settings.client.hub, body, timeout_s)
    except HubUnreachableError as exc:
        raise CliError(str(exc), 2) from None
    if not isinstance(reply, answer):
        raise CliError(f"Unexpected answer from the hub: {type(reply).__name__}.", 2)
    return reply


def cmd_hub_status(args: argparse.Namespace) -> int:
    """Ask the hub for its health: drops by reason, per machine and per key, memory."""
    from copilot.protocol import HubStatusRequest

    settings = _settings(args, {"client": {"hub": args.hub or args.bind}})
    reply = _ask_hub(settings, HubStatusRequest(), HubStatus, args.timeout)
    if args.json:
        # Every key always present (the wire form leaves empty lists out).
        out = {
            "hub": msgspec.to_builtins(reply.hub),
            "machines": msgspec.to_builtins(reply.machines),
            "peers": msgspec.to_builtins(reply.peers),
            "truncated": reply.truncated,
        }
        print(json.dumps(out))
        return 0
    for line in _status_lines(reply):
        print(line)
    return 0


def _drops_text(drops: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(drops.items())) or "-"


def _worst(worst_ms: dict[str, float], n: int = 6) -> list[tuple[str, float]]:
    """The ``n`` kinds of work that held the hub's loop longest, longest first."""
    return sorted(worst_ms.items(), key=lambda kv: -kv[1])[:n]


def _status_lines(reply: HubStatus) -> list[str]:
    hub = reply.hub
    lines = [
        f"hub epoch {hub.epoch}, up {hub.uptime_s:.0f} s, {hub.rss_mb:.1f} MB resident, "
        f"heartbeat {hub.heartbeat_ms} ms",
        f"received {hub.received}, published {hub.published}, samples {hub.samples}",
        f"drops: {_drops_text(hub.drops)}",
        f"service errors: {_drops_text(hub.service_errors)}",
        *(f"{name}: {_drops_text(counts)}" for name, counts in hub.services.items() if counts),
        f"loop, slices over 50 ms: {_drops_text(hub.loop_slow)}",
        "loop, worst slice: "
        + (", ".join(f"{k} {v:.0f} ms" for k, v in _worst(hub.loop_worst_ms)) or "-"),
        "",
        f"{'MACHINE':<24} {'ONLINE':<7} {'KEY':<24} {'MESSAGES':>9} {'SAMPLES':>10} "
        f"{'REBIRTHS':>8} {'GAPS':>5}  DROPS",
    ]
    for m in reply.machines:
        lines.append(
            f"{m.id[:24]:<24} {'yes' if m.online else 'no':<7} {m.key[:24]:<24} "
            f"{m.messages:>9} {m.samples:>10} {m.rebirths:>8} {m.gaps:>5}  {_drops_text(m.drops)}"
        )
    lines += [
        "",
        f"{'KEY':<28} {'ROLE':<8} {'CONNS':>5} {'MESSAGES':>9} {'REFUSED':>7} "
        f"{'MACHINES':>8}  DROPS",
    ]
    for p in reply.peers:
        lines.append(
            f"{p.key[:28]:<28} {p.role[:8]:<8} {p.connections:>5} {p.messages:>9} "
            f"{p.refused_claims:>7} {len(p.machines):>8}  {_drops_text(p.drops)}"
        )
    if reply.truncated:
        lines.append("(truncated: the hub cut the lists to fit one reply)")
    return lines


# -- simulated plant ---------------------------------------------------------------------------


def cmd_sim(args: argparse.Namespace) -> int:
    """Run the simulated plant until Ctrl-C or SIGTERM."""
    from copilot.sim.run import run_plant

    settings = _settings(
        args,
        {
            "client": {"hub": args.hub},
            "sim": {
                "machines": args.machines,
                "tags_per_machine": args.tags_per_machine,
                "rate_hz": args.rate,
                "seed": args.seed,
                "faults": args.faults,
            },
        },
    )
    _check_address(settings.client.hub, "--hub, COPILOT_HUB or client.hub")
    stop = _wait_for_stop()
    run_plant(settings, _security(settings, "agent"), stop)
    return 0


# -- machines ----------------------------------------------------------------------------------


def cmd_machines(args: argparse.Namespace) -> int:
    """Ask the hub which machines it knows."""
    from copilot.protocol import MachinesReply, MachinesRequest

    settings = _settings(args, {"client": {"hub": args.hub}})
    reply = _ask_hub(settings, MachinesRequest(), MachinesReply, args.timeout)
    rows = [msgspec.to_builtins(m) for m in reply.machines]
    if args.json:
        print(json.dumps(rows))
    else:
        if not rows:
            print("The hub knows no machines yet.")
        else:
            print(f"{'ID':<16} {'STATE':<12} {'KIND':<12} {'LINE':<8} NAME")
        for row in rows:
            print(
                f"{row['id']:<16} {row['state']:<12} {row['kind']:<12} {row['line']:<8} "
                f"{row['name']}"
            )
    return 0


# -- keys --------------------------------------------------------------------------------------


def cmd_keys(args: argparse.Namespace) -> int:
    """Manage CurveZMQ keys and the hub's allow-list."""
    settings = _settings(args, {})
    store = KeyStore(settings.data_path)
    action = args.action
    if action != "init" and not store.exists():
        store.init()
    if action == "init":
        created = store.init()
        print(
            f"Keys in {store.dir}: "
            + (f"created {', '.join(created)}." if created else "all present already.")
        )
    elif action == "show":
        for name in ("hub", "station", "agent", "cli"):
            pair = store.identity(name)
            print(f"{name:<8} {pair.public.decode()}")
    elif action == "export":
        sys.stdout.write(store.export_hub())
    elif action == "allow":
        if not args.file:
            raise CliError("Name the public key file to allow: copilot keys allow FILE.")
        path = Path(args.file)
        name = args.name or path.stem
        if name in ("hub", "station", "agent", "cli"):
            raise CliError(
                f"{name!r} is this host's own key name: give the remote key a name of its own "
                "with --name (e.g. --name press-line-2)."
            )
        key = store.allow(path, name, args.role, args.machines or ())
        bound = f" for machines {', '.join(key.machines)}" if key.machines else ""
        print(f"Allowed {key.name} ({key.role}){bound}: {key.public}")
    elif action == "revoke":
        if not args.file:
            raise CliError("Name the key to revoke: copilot keys revoke NAME.")
        key = store.revoke(args.file)
        print(f"Revoked {key.name} ({key.role}); its open session is cut within a second.")
    elif action == "list":
        allow = store.load_allowlist()
        rows = [("allowed", k) for k in allow.keys] + [("revoked", k) for k in allow.revoked]
        width = max([16, *(len(k.name) for _, k in rows)])

        def machines(key: AllowedKey) -> str:
            if key.role != "agent":
                return "-"
            return ",".join(key.machines) if key.machines else "(first claim)"

        mwidth = max([13, *(len(machines(k)) for _, k in rows)])
        print(f"{'STATUS':<8} {'NAME':<{width}} {'ROLE':<8} {'MACHINES':<{mwidth}} PUBLIC KEY")
        for status, key in rows:
            print(
                f"{status:<8} {key.name:<{width}} {key.role:<8} {machines(key):<{mwidth}} "
                f"{key.public}"
            )
    return 0


# -- station (headless) and demo ---------------------------------------------------------------


def _status_line(station: Any, security: Security) -> str:
    machines = station.store.machines()
    online = sum(1 for m in machines if m.online)
    stats = station.stats
    return (
        f"{len(machines)} machines ({online} online) · {stats.rate_samples_s:,.0f} samples/s · "
        f"link {station.state.value} ({security.label()}) · latency {stats.latency_ms:.1f} ms · "
        f"gaps {stats.gaps} · resyncs {stats.resyncs}"
    )


def _print_status_until(
    stop: threading.Event, line: Callable[[], str], check: Callable[[], str | None]
) -> None:
    tty = sys.stdout.isatty()
    last_print = 0.0
    while not stop.wait(1.0):
        problem = check()
        if problem:
            raise CliError(problem)
        now = time.monotonic()
        if tty:
            sys.stdout.write("\r\033[K" + line())
            sys.stdout.flush()
        elif now - last_print >= 5.0:
            print(line(), flush=True)
            last_print = now
    if tty:
        sys.stdout.write("\n")


def _launch_window(settings: Settings, args: argparse.Namespace, rig: Any = None) -> int:
    """Open the Qt window, found through the ``copilot.station`` entry point (package ``ui``)."""
    from importlib.metadata import entry_points

    from copilot.display import xcb_problem

    _check_screenshot(getattr(args, "screenshot", None))
    problem = xcb_problem(offscreen=bool(getattr(args, "offscreen", False)))
    if problem:  # Qt would abort with a core dump and blame the wrong library
        raise CliError(problem)
    found = [ep for ep in entry_points(group="copilot.station") if ep.name == "window"]
    if not found:
        raise CliError(
            "The station window is not installed: install the 'ui' extra "
            "(pip install 'operator-copilot[ui]') or run with --headless."
        )
    try:
        launch: Callable[[Settings, argparse.Namespace, Any], int] = found[0].load()
    except ImportError as exc:
        raise CliError(f"The station window cannot start: {exc}.") from None
    try:
        return launch(settings, args, rig)
    except RuntimeError as exc:  # also DemoError, empty when the demo's hub has said why
        raise CliError(str(exc)) from None


def _hub_machine_ids(settings: Settings) -> list[str] | None:
    """The machine ids the hub knows, if it answers within two seconds (else None)."""
    from copilot.protocol import MachinesReply, MachinesRequest
    from copilot.station.client import HubUnreachableError, request_once

    try:
        reply = request_once(
            _security(settings, "cli"), settings.client.hub, MachinesRequest(), 2.0
        )
    except HubUnreachableError:
        return None
    return [m.id for m in reply.machines] if isinstance(reply, MachinesReply) else None


def cmd_station(args: argparse.Namespace) -> int:
    """Open the station (headless: a live status line)."""
    from copilot.station import Station

    settings = _settings(
        args,
        {
            "client": {"hub": args.hub},
            "station": {"theme": args.theme, "kiosk": args.kiosk or None},
        },
    )
    _check_address(settings.client.hub, "--hub, COPILOT_HUB or client.hub")
    _check_view(args.view, None)
    if args.view and args.view != "overview" and not args.headless:
        known = _hub_machine_ids(settings)
        if known:
            more = f", … ({len(known)} in all)" if len(known) > 5 else ""
            hint = f"the hub at {settings.client.hub} knows {', '.join(known[:5])}{more}"
            _check_view(args.view, dict.fromkeys(known), hint)
    if not args.headless:
        return _launch_window(settings, args)
    _note_ignored_window_flags(args)
    security = _security(settings, "station")
    bus = Bus(security)
    station = Station(bus, settings.client.hub, settings.station)
    stop = _wait_for_stop()
    station.start()
    try:
        _print_status_until(stop, lambda: _status_line(station, security), lambda: None)
    finally:
        station.stop()
        bus.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Start the simulated plant and the hub, then a station window (or a status line)."""
    from copilot.demo import DemoError, DemoRig, ScenarioError, load_scenario
    from copilot.station import Station

    settings = _settings(
        args,
        {
            "hub": {"bind": args.bind, "alarm_file": args.alarms},
            "sim": {"seed": args.seed, "faults": args.faults},
            "station": {"theme": args.theme, "kiosk": args.kiosk or None},
        },
    )
    _check_address(settings.hub.bind, "--bind or hub.bind")
    if settings.hub.alarm_file:
        from copilot.alarms.config import load_config

        load_config(settings.hub.alarm_file)  # a bad file: one sentence, before anything starts
    try:
        scenario = load_scenario(args.scenario) if args.scenario else None
        rig = DemoRig(settings, scenario)  # builds the plant model: checks faults and scenario
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    _check_view(args.view, rig.machines(), rig.some_machines())
    if not args.headless:
        return _launch_window(settings, args, rig)
    _note_ignored_window_flags(args)
    security = _security(settings, "station")
    stop = _wait_for_stop()
    bus = Bus(security)
    station = Station(bus, rig.address, settings.station)
    try:
        try:
            rig.start()
        except DemoError as exc:
            raise CliError(str(exc)) from None  # empty: the hub has said why already
        station.start()
        print(
            f"Demo: hub at {rig.address}, simulated plant, data in {settings.data_path}. "
            "Ctrl-C stops everything.",
            flush=True,
        )
        _print_status_until(stop, lambda: _status_line(station, security), rig.problem)
    finally:
        station.stop()
        bus.close()
        rig.stop()
    return 0


# -- parser ------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (not the usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``copilot: <what is wrong> (see copilot CMD --help)`` and exit 2."""
        text = message.rstrip(".")
        self.exit(2, f"copilot: {text} (see {self.prog} --help).\n")


def _number(
    kind: type[int] | type[float], *, minimum: float, strict: bool = False, unit: str = ""
) -> Callable[[str], float]:
    """An argparse type: a finite number at least (or, ``strict``, more than) ``minimum``."""
    bound = f"more than {minimum:g}" if strict else f"{minimum:g} or more"
    name = "a whole number" if kind is int else "a number"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {name}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {bound}{unit}, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the commands)."""
    parser = _Parser(
        prog="copilot", description="Operator Co-Pilot: hub, simulated plant, station and tools."
    )
    parser.add_argument("--version", action="version", version=f"copilot {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="what to run (COMMAND --help)"
    )

    def client(p: argparse.ArgumentParser) -> None:
        p.add_argument("--hub", help=f"hub address (env COPILOT_HUB; default {DEFAULT_HUB})")
        p.add_argument("--insecure", action="store_true", help="no CurveZMQ (shown everywhere)")

    p = sub.add_parser("hub", help="run the hub (or `copilot hub status`: ask a running one)")
    p.add_argument(
        "action", nargs="?", choices=["run", "status"], default="run", help="default: run"
    )
    p.add_argument("--bind", help=f"address to listen on (default {DEFAULT_HUB}; +1 for updates)")
    p.add_argument("--insecure", action="store_true", help="no CurveZMQ (shown everywhere)")
    p.add_argument("--hub", help="status: the hub to ask (default: --bind, then COPILOT_HUB)")
    p.add_argument("--json", action="store_true", help="status: one JSON object")
    p.add_argument("--timeout", type=float, default=5.0, help="status: seconds to wait")
    p.add_argument(
        "--alarms",
        metavar="FILE",
        help="run: the site's alarm file (limits, priorities, delays, mode table; "
        "see docs/alarm-config.md; check it with `copilot alarms config check FILE`)",
    )
    p.add_argument(
        "--policy",
        metavar="FILE",
        help="run: the site's command policy (roles, tiers, voice, approvals; see "
        "docs/command-policy.md; check it with `copilot policy check FILE`)",
    )
    p.add_argument(
        "--no-gate",
        action="store_true",
        help="run: no command gate — stations send commands unchecked and unaudited "
        "(old integrations and tests of plain routing only)",
    )
    p.set_defaults(func=cmd_hub)

    p = sub.add_parser("sim", help="run the simulated plant")
    client(p)
    p.add_argument(
        "--machines", type=_number(int, minimum=0), help="number of machines (default 12)"
    )
    p.add_argument(
        "--tags-per-machine",
        type=_number(int, minimum=0),
        metavar="M",
        help="pad each machine to M tags, for load (default 0: each kind's own tags)",
    )
    p.add_argument(
        "--rate",
        type=_number(float, minimum=0, strict=True, unit=" samples per second"),
        metavar="HZ",
        help="samples per second per tag (default 2)",
    )
    p.add_argument("--seed", type=int, help="random seed (same seed, same plant; default 0)")
    p.add_argument("--faults", help="TOML fault schedule (see copilot/sim/faults.example.toml)")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("machines", help="list the machines the hub knows")
    client(p)
    p.add_argument("--json", action="store_true", help="one JSON array")
    p.add_argument(
        "--timeout",
        type=_number(float, minimum=0, strict=True, unit=" seconds"),
        default=5.0,
        help="seconds to wait for the hub (default 5)",
    )
    p.set_defaults(func=cmd_machines)

    p = sub.add_parser("keys", help="CurveZMQ keys and the hub's allow-list")
    p.add_argument(
        "action",
        choices=["init", "show", "export", "allow", "revoke", "list"],
        help="init: create this host's keys; show/export: print the public keys; "
        "allow/revoke: edit the hub's allow-list; list: show it",
    )
    p.add_argument("file", nargs="?", help="key file (allow) or key name (revoke)")
    p.add_argument("--name", help="name for an allowed key (default: file name)")
    p.add_argument(
        "--role",
        choices=["agent", "station"],
        default="agent",
        help="allow: what the key may do — agent (a machine) or station (a dashboard or the CLI)",
    )
    p.add_argument(
        "--machines",
        metavar="ID[,ID…|PATTERN]",
        help="allow: the machine ids this agent key may speak for (fnmatch patterns, e.g. press-*)",
    )
    p.set_defaults(func=cmd_keys)

    def window(p: argparse.ArgumentParser) -> None:
        p.add_argument("--theme", choices=["light", "dark"], help="light floors, dark rooms")
        p.add_argument("--kiosk", action="store_true", help="full-screen panel mode")
        p.add_argument(
            "--view",
            help="the view to open: overview | alarms | kpis | machine:ID | trend:ID/TAG "
            "(default overview)",
        )
        p.add_argument("--offscreen", action="store_true", help="render without a display")
        p.add_argument("--screenshot", metavar="PATH", help="save a PNG of the window")

        def size(text: str) -> tuple[int, int]:
            w, _, h = text.lower().partition("x")
            if not (w.isdigit() and h.isdigit()) or int(w) < 1024 or int(h) < 640:
                raise argparse.ArgumentTypeError(
                    f"give WIDTHxHEIGHT in pixels, at least 1024x640, not {text!r}"
                )
            return int(w), int(h)

        size.__name__ = "size"
        p.add_argument(
            "--size",
            type=size,
            metavar="WxH",
            help="window size, e.g. 1280x800 (with --offscreen: a panel screen of that size)",
        )
        p.add_argument(
            "--quit-after",
            type=_number(float, minimum=0, strict=True, unit=" seconds"),
            metavar="SECONDS",
            help="quit after this long (with --screenshot: take it then)",
        )

    from copilot import cli_alarms  # its commands live in their own module

    cli_alarms.add_parser(sub, client)
    from copilot import (  # people, the audit trail, the anomaly eval: their own modules
        cli_anomaly,
        cli_audit,
        cli_command,
        cli_users,
        cli_voice,
    )

    cli_users.add_parser(sub)
    cli_voice.add_parser(sub)
    cli_command.add_parser(sub, client)
    cli_audit.add_parser(sub)
    cli_anomaly.add_parser(sub, client)

    p = sub.add_parser("station", help="open the operator station")
    client(p)
    window(p)
    p.add_argument("--headless", action="store_true", help="no window: print a status line")
    p.set_defaults(func=cmd_station)

    p = sub.add_parser("demo", help="simulated plant + hub + station window")
    p.add_argument("--bind", help=f"hub address (default {DEFAULT_HUB})")
    p.add_argument("--insecure", action="store_true", help="no CurveZMQ (shown everywhere)")
    p.add_argument("--seed", type=int, help="random seed for the plant (default 0)")
    p.add_argument("--faults", help="TOML fault schedule (a denser fault programme)")
    p.add_argument("--scenario", help="TOML timeline: kill an agent, stop the hub, inject a fault")
    p.add_argument(
        "--alarms",
        metavar="FILE",
        help="the site's alarm file for the demo's hub (see hub --alarms)",
    )
    p.add_argument("--headless", action="store_true", help="plant and hub only, no window")
    window(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``copilot`` command."""
    args = build_parser().parse_args(argv)
    _setup_logging(-1 if args.quiet else args.verbose)
    try:
        code: int = args.func(args)
    except CliError as exc:
        if str(exc):  # empty: a child process has said why already
            print(f"copilot: {exc}", file=sys.stderr)
        return exc.code
    except EXPECTED_ERRORS as exc:
        print(f"copilot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `copilot … | head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug or an input nobody foresaw: one line still, unless -v
        if args.verbose:
            raise
        print(
            f"copilot: unexpected error: {type(exc).__name__}: {exc} "
            "(run again with -v to see where it happened, and please report it).",
            file=sys.stderr,
        )
        return 1
    return code
