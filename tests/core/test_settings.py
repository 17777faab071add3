"""Settings precedence: defaults < TOML file < environment < command-line flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.settings import DEFAULT_HUB, SettingsError, load, with_overrides


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
