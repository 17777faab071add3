"""One typed, versioned settings object for every process.

Precedence, lowest first: defaults < TOML file (``COPILOT_CONFIG`` or ``config.toml`` in the
platform's config folder) < environment (``COPILOT_<SECTION>__<KEY>``, plus the shortcuts
``COPILOT_HUB`` and ``COPILOT_DATA_DIR``) < command-line flags (applied by the CLI through
:func:`with_overrides`). :func:`load` builds it; it is passed to whoever needs it — there is no
global instance. Errors name the file or variable and what is wrong with it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
import platformdirs

APP_NAME = "operator-copilot"
SETTINGS_VERSION = 1
DEFAULT_HUB = "tcp://127.0.0.1:7700"


class SettingsError(Exception):
    """A settings file or variable is wrong; the message says which and why."""


class HubSettings(msgspec.Struct, forbid_unknown_fields=True):
    """The hub process (``copilot hub``)."""

    bind: str = DEFAULT_HUB
    heartbeat_ms: int = 1000
    liveness: int = 3
    history_full_s: int = 900
    history_minmax_interval_s: int = 30
    history_hours: int = 8
    rebirth_min_interval_ms: int = 2000
    sndhwm: int = 50_000
    # Bounds on everything a peer controls (each refusal is counted by reason).
    max_message_bytes: int = 4 * 1024 * 1024
    max_header_bytes: int = 1024
    max_string_len: int = 1024
    max_tags_per_machine: int = 5000
    max_commands_per_machine: int = 500
    max_machines_per_key: int = 1000
    max_data_columns: int = 200_000
    min_heartbeat_ms: int = 100
    max_heartbeat_ms: int = 60_000
    max_clock_skew_s: float = 120.0
    max_epoch_ahead_s: float = 3600.0
    max_history_samples: int = 2_000_000
    max_history_tags: int = 10_000
    max_reply_bytes: int = 3 * 1024 * 1024
    max_reply_items: int = 5000
    command_retention_s: float = 3600.0
    max_commands: int = 10_000
    peer_retention_s: float = 600.0


class ClientSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Anything that dials the hub (agents, simulator, station, CLI)."""

    hub: str = DEFAULT_HUB
    timeout_s: float = 5.0


class AgentSettings(msgspec.Struct, forbid_unknown_fields=True):
    """The machine-side SDK.

    ``max_data_bytes`` is the largest DATA message an agent sends (keep it below the hub's
    message size limit); a backlog held while the hub is away is sent as many such messages.
    The backlog is bounded by ``backlog_samples`` and ``backlog_bytes``: past either, the oldest
    samples are dropped, counted and logged. A refused handshake is retried with a new socket
    after ``redial_min_ms``, doubling up to ``redial_max_ms``. The command journal keeps finished
    commands for ``journal_keep_days`` and at most ``journal_keep_commands`` of them.
    """

    heartbeat_ms: int = 1000
    sndhwm: int = 10_000
    max_data_bytes: int = 1_000_000
    backlog_samples: int = 2_000_000
    backlog_bytes: int = 64_000_000
    redial_min_ms: int = 250
    redial_max_ms: int = 2000
    journal_keep_days: float = 7.0
    journal_keep_commands: int = 10_000


class StationSettings(msgspec.Struct, forbid_unknown_fields=True):
    """The operator station (core and window)."""

    frame_hz: float = 30.0
    ring_seconds: float = 600.0
    ring_samples: int = 1024
    resync_min_interval_ms: int = 1000
    rcvhwm: int = 100_000
    rcvbuf_bytes: int = 0
    max_tags_per_machine: int = 50_000  # a BIRTH with more is refused and counted
    theme: Literal["light", "dark"] = "light"
    kiosk: bool = False


class SimSettings(msgspec.Struct, forbid_unknown_fields=True):
    """The simulated plant (``copilot sim``)."""

    machines: int = 12
    tags_per_machine: int = 0
    rate_hz: float = 2.0
    seed: int = 0
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


def _convert(raw: dict[str, Any], origin: str) -> Settings:
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"{origin}: {exc}.") from None
    if settings.version != SETTINGS_VERSION:
        raise SettingsError(
            f"{origin}: settings version {settings.version} is not supported "
            f"(this program reads version {SETTINGS_VERSION})."
        )
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
    return _convert(raw, "environment (COPILOT_* variables)")


def with_overrides(settings: Settings, overrides: Mapping[str, Mapping[str, Any]]) -> Settings:
    """Apply command-line flags: ``{"hub": {"bind": "tcp://..."}}``; ``None`` values are skipped."""
    cleaned: dict[str, Any] = {}
    for section, values in overrides.items():
        kept = {k: v for k, v in values.items() if v is not None}
        if kept:
            cleaned[section] = kept
    raw = _merge(msgspec.to_builtins(settings), cleaned)
    return _convert(raw, "command line")
