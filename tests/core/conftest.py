"""Fixtures for core tests: isolated data folders, free ports, real hub/sim processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from copilot.settings import StationSettings
from copilot.station import Station
from tests.helpers import InProcessHub, Plant, StationHandle, free_hub_address


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("COPILOT_DATA_DIR", str(path))
    monkeypatch.setenv("COPILOT_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    return path


@pytest.fixture
def plant(data_dir: Path) -> Iterator[Plant]:
    p = Plant(data_dir, free_hub_address())
    try:
        yield p
    finally:
        p.stop_all()


@pytest.fixture
def stations(plant: Plant) -> Iterator[Callable[..., Station]]:
    made: list[StationHandle] = []

    def make(insecure: bool = False, identity: str = "station", **settings: object) -> Station:
        handle = StationHandle(
            plant.security(identity, insecure),
            plant.address,
            StationSettings(**settings),  # type: ignore[arg-type]
        )
        made.append(handle)
        return handle.station

    try:
        yield make
    finally:
        for handle in made:
            handle.close()


@pytest.fixture
def inproc_hub(data_dir: Path) -> Iterator[InProcessHub]:
    hub = InProcessHub(data_dir)
    try:
        yield hub
    finally:
        hub.close()
