"""A world whose first cell is full: devices 0, 1 and 2 share one H3 cell that pays at
most two of them, and device 1 (owner A's second device) was placed there last, so it
earns nothing while device 0 (owner A) and device 2 (owner B) are paid."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aggregator.ledger import open_ledger
from aggregator.series import open_series
from fieldproof.rewards.placement import DevicePlacement, cell_of
from fieldproof.rewards.rules import RuleParams
from tests.aggregator.anchoring.chainenv import make_env
from tests.aggregator.api.world import PLACES, World, build_world

CAPACITY = 2
SHARED_CELL = cell_of(PLACES[0][1], PLACES[0][2], 7)
PLACED = {
    0: DevicePlacement(SHARED_CELL, 100),
    1: DevicePlacement(SHARED_CELL, 300),  # the newest in the cell: left out
    2: DevicePlacement(SHARED_CELL, 200),
    3: DevicePlacement(cell_of(PLACES[3][1], PLACES[3][2], 7), 0),
}
FULL, PAID = 1, 0


@pytest.fixture(scope="module")
def full_cell_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("world-full-cell")
    series = open_series(f"sqlite:///{directory / 'series.db'}")
    ledger = open_ledger(f"sqlite:///{directory / 'ledger.db'}")
    env = make_env("eth-tester", request)
    rules = RuleParams(cell_capacity=CAPACITY)
    yield build_world(directory, ledger, series, env, placed=PLACED, rules=rules)
    ledger.close()
    series.close()
