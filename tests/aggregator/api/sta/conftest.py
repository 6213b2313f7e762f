"""A running API (uvicorn on a free port) over each world, for the SensorThings tests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from aggregator.api import ApiConfig, ApiServer, create_app
from tests.aggregator.api.world import World

STA = "/sta/v1.1"
# Clients page quickly; the limits are not what these tests are about.
OPEN = ApiConfig(anonymous_rate_per_s=1e6, anonymous_burst=10**6)  # type: ignore[call-arg]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """Status and JSON body of a GET (the body as text where it is not JSON)."""
    request = urllib.request.Request(quote(url, safe=":/?&=%$'(),@;+*"), headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[ApiServer]:
    api = ApiServer(create_app(world.sources, OPEN))
    api.start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def sqlite_server(sqlite_world: World) -> Iterator[ApiServer]:
    api = ApiServer(create_app(sqlite_world.sources, OPEN))
    api.start()
    yield api
    api.stop()
