"""World fixtures: one world per series backend (SQLite, and a real InfluxDB)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from aggregator.ledger import open_ledger
from aggregator.series import open_series
from tests.aggregator.anchoring.chainenv import make_env
from tests.aggregator.api.world import World, build_world
from tests.services.influxdb import InfluxServer

SERIES_BACKENDS = ("sqlite", "influx")
_databases = itertools.count()


def open_world(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[World, Callable[[], None]]:
    directory = tmp_path_factory.mktemp(f"world-{backend}")
    if backend == "influx":
        server: InfluxServer = request.getfixturevalue("influxdb_server")
        series = open_series(server.url(f"api{next(_databases)}"))
    else:
        series = open_series(f"sqlite:///{directory / 'series.db'}")
    ledger = open_ledger(f"sqlite:///{directory / 'ledger.db'}")
    env = make_env("eth-tester", request)

    def close() -> None:
        ledger.close()
        series.close()

    return build_world(directory, ledger, series, env), close


@pytest.fixture(scope="module", params=SERIES_BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The world on each series backend in turn."""
    built, close = open_world(request.param, request, tmp_path_factory)
    yield built
    close()


@pytest.fixture(scope="module")
def sqlite_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The world on SQLite only, for what does not depend on the series backend."""
    built, close = open_world("sqlite", request, tmp_path_factory)
    yield built
    close()
