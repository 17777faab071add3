"""Fixtures shared by core and UI tests: an isolated data folder and real plant processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Plant, free_hub_address


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder (keys, journals) and no settings file, for this test only."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("COPILOT_DATA_DIR", str(path))
    monkeypatch.setenv("COPILOT_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    return path


@pytest.fixture
def plant(data_dir: Path) -> Iterator[Plant]:
    """Real hub/simulator processes on a free loopback port pair, killed after the test."""
    p = Plant(data_dir, free_hub_address())
    try:
        yield p
    finally:
        p.stop_all()
