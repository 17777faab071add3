"""Settings precedence: defaults < TOML file < environment < command-line flags."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import msgspec.inspect
import pytest

from copilot.settings import (
    DEFAULT_HUB,
    Settings,
    SettingsError,
    allowed_range,
    load,
    with_overrides,
)


def test_defaults_then_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[hub]\nbind = "tcp://127.0.0.1:9100"\nheartbeat_ms = 500\n'
        "[sim]\nmachines = 20\nrate_hz = 5\n"
    )
    env = {
        "COPILOT_CONFIG": str(config),
        "COPILOT_SIM__MACHINES": "30",
        "COPILOT_HUB": "tcp://10.0.0.5:7700",
        "COPILOT_DATA_DIR": str(tmp_path / "d"),
    }
    settings = load(env)
    assert settings.hub.bind == "tcp://127.0.0.1:9100"  # file
    assert settings.hub.heartbeat_ms == 500  # file
    assert settings.sim.machines == 30  # environment beats file
    assert settings.sim.rate_hz == 5.0
    assert settings.client.hub == "tcp://10.0.0.5:7700"
    assert settings.data_path == tmp_path / "d" and settings.data_path.is_dir()
    flagged = with_overrides(settings, {"sim": {"machines": 40, "seed": None}})
    assert flagged.sim.machines == 40 and flagged.sim.seed == 0


def test_defaults_without_file(tmp_path: Path) -> None:
    settings = load({"COPILOT_CONFIG": "", "XDG_CONFIG_HOME": str(tmp_path)})
    assert settings.client.hub == DEFAULT_HUB
    assert settings.station.frame_hz == 30.0


@pytest.mark.parametrize(
    ("content", "env", "fragment"),
    [
        ("[hub]\nheartbeat_ms = 'soon'\n", {}, "heartbeat_ms"),
        ("[nosuch]\nx = 1\n", {}, "nosuch"),
        ("version = 99\n", {}, "version 99"),
        ("[hub\n", {}, "Cannot read settings file"),
        ("", {"COPILOT_BOGUS__X": "1"}, "no settings section named 'bogus'"),
        ("", {"COPILOT_SIM__MACHINES": "many"}, "machines"),
    ],
)
def test_bad_settings_name_the_culprit(
    tmp_path: Path, content: str, env: dict[str, str], fragment: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(content)
    with pytest.raises(SettingsError, match=fragment):
        load({"COPILOT_CONFIG": str(config), **env})


def test_missing_named_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load({"COPILOT_CONFIG": str(tmp_path / "missing.toml")})


# Every numeric setting has a range, checked at load; a value outside it is one sentence that
# names where it came from, the key and the range. (section, key, bad value, range in words)
OUT_OF_RANGE = [
    ("hub", "heartbeat_ms", 0, "between 100 and 60000"),
    ("hub", "heartbeat_ms", 10**12, "between 100 and 60000"),
    ("hub", "liveness", 0, "between 2 and 100"),
    ("hub", "history_hours", 0, "between 1 and 744"),
    ("hub", "sndhwm", 0, "between 100 and 10000000"),
    ("hub", "max_message_bytes", 0, "between 4096 and"),
    ("hub", "max_header_bytes", 1, "between 128 and"),
    ("hub", "max_string_len", 0, "between 16 and"),
    ("hub", "max_tags_per_machine", 0, "between 1 and"),
    ("hub", "max_commands_per_machine", -1, "between 0 and"),
    ("hub", "max_machines_per_key", 0, "between 1 and"),
    ("hub", "max_data_columns", 0, "between 1 and"),
    ("hub", "min_heartbeat_ms", 0, "between 10 and"),
    ("hub", "max_heartbeat_ms", 10**12, "between 100 and 86400000"),
    ("hub", "max_clock_skew_s", 0, "more than 0 and at most 86400"),
    ("hub", "max_epoch_ahead_s", 0.5, "between 1 and"),
    ("hub", "max_history_samples", 10, "between 1000 and"),
    ("hub", "max_history_tags", 0, "between 1 and"),
    ("hub", "max_reply_bytes", 100, "between 4096 and"),
    ("hub", "max_reply_items", 0, "between 1 and"),
    ("hub", "command_retention_s", 0, "between 1 and"),
    ("hub", "max_commands", 0, "between 1 and"),
    ("hub", "peer_retention_s", -5, "between 1 and"),
    ("client", "timeout_s", 0, "more than 0 and at most 3600"),
    ("agent", "heartbeat_ms", 0, "between 100 and 60000"),
    ("agent", "max_data_bytes", 10, "between 1024 and"),
    ("agent", "backlog_samples", -1, "between 0 and"),
    ("agent", "redial_min_ms", 0, "between 10 and 60000"),
    ("agent", "journal_keep_days", -1, "between 0 and 3650"),
    ("station", "frame_hz", 0, "between 1 and 240"),
    ("station", "ring_seconds", 0, "between 1 and 86400"),
    ("station", "ring_samples", 1, "between 16 and"),
    ("station", "resync_min_interval_ms", -1, "between 0 and 600000"),
    ("station", "rcvhwm", -1, "between 0 and"),
    ("station", "max_tags_per_machine", 0, "between 1 and"),
    ("station", "hub_status_every_s", -1, "between 0 and 86400"),
    ("station", "redial_max_ms", 0, "between 10 and 600000"),
    ("sim", "machines", -2, "between 0 and 100000"),
    ("sim", "rate_hz", 0, "more than 0 and at most 1000"),
    ("sim", "seed", -1, "between 0 and"),
]


@pytest.mark.parametrize(("section", "key", "value", "bounds"), OUT_OF_RANGE)
def test_a_setting_out_of_range_in_the_file_names_file_key_and_range(
    tmp_path: Path, section: str, key: str, value: float, bounds: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f"[{section}]\n{key} = {value}\n")
    with pytest.raises(SettingsError) as caught:
        load({"COPILOT_CONFIG": str(config)})
    text = str(caught.value)
    assert text.startswith(f"{config}: ")
    assert f"{section}.{key}" in text and bounds in text and f"not {value}" in text
    assert text.count(". ") == 0 and text.endswith(".")  # one sentence


@pytest.fixture
def no_file(tmp_path: Path) -> dict[str, str]:
    """An environment whose settings file is empty."""
    (tmp_path / "none.toml").write_text("")
    return {"COPILOT_CONFIG": str(tmp_path / "none.toml")}


@pytest.mark.parametrize(("section", "key", "value", "bounds"), OUT_OF_RANGE)
def test_a_setting_out_of_range_in_the_environment_names_the_variable(
    no_file: dict[str, str], section: str, key: str, value: float, bounds: str
) -> None:
    variable = f"COPILOT_{section.upper()}__{key.upper()}"
    with pytest.raises(SettingsError) as caught:
        load({**no_file, variable: str(value)})
    text = str(caught.value)
    assert text.startswith(f"environment variable {variable}: ")
    assert f"{section}.{key}" in text and bounds in text and f"not {value}." in text


def test_a_flag_out_of_range_is_refused_too(no_file: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=r"^command line: station\.frame_hz must be between"):
        with_overrides(load(no_file), {"station": {"frame_hz": 0}})


def test_a_setting_that_also_has_a_flag_names_both(no_file: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=r"rate_hz \(--rate, sim\.rate_hz\) must be more than"):
        load({**no_file, "COPILOT_SIM__RATE_HZ": "nan"})


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        (
            {"COPILOT_HUB__MIN_HEARTBEAT_MS": "5000", "COPILOT_HUB__MAX_HEARTBEAT_MS": "1000"},
            "hub.min_heartbeat_ms (5000) must not be more than hub.max_heartbeat_ms (1000)",
        ),
        ({"COPILOT_AGENT__REDIAL_MIN_MS": "3000"}, "agent.redial_min_ms (3000) must not be more"),
        ({"COPILOT_STATION__REDIAL_MIN_MS": "3000"}, "station.redial_min_ms (3000) must not"),
    ],
)
def test_a_minimum_above_its_maximum_is_refused(
    no_file: dict[str, str], env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(fragment)):
        load({**no_file, **env})


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("hub", "heartbeat_ms", 100),
        ("hub", "heartbeat_ms", 60000),
        ("hub", "max_reply_bytes", 4096),
        ("hub", "max_machines_per_key", 1),
        ("hub", "rebirth_min_interval_ms", 0),
        ("station", "hub_status_every_s", 0),
        ("station", "resync_min_interval_ms", 0),
        ("station", "rcvbuf_bytes", 0),
        ("sim", "machines", 0),
        ("sim", "rate_hz", 1000),
        ("agent", "backlog_bytes", 0),
    ],
)
def test_the_edges_of_a_range_are_allowed(
    no_file: dict[str, str], section: str, key: str, value: float
) -> None:
    variable = f"COPILOT_{section.upper()}__{key.upper()}"
    settings = load({**no_file, variable: str(value)})
    assert getattr(getattr(settings, section), key) == value


def test_every_numeric_setting_has_a_range() -> None:
    info = msgspec.inspect.type_info(Settings)
    assert isinstance(info, msgspec.inspect.StructType)
    numeric = 0
    for section in info.fields:
        if not isinstance(section.type, msgspec.inspect.StructType):
            continue
        for field in section.type.fields:
            if isinstance(field.type, msgspec.inspect.IntType | msgspec.inspect.FloatType):
                numeric += 1
                assert allowed_range(section.name, field.name), f"{section.name}.{field.name}"
    assert numeric > 40
