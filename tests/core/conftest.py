"""Fixtures for core tests: isolated data folders, free ports, real hub/sim processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from copilot.settings import StationSettings
from copilot.station import Station
from tests.helpers import InProcessHub, Plant, StationHandle


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
