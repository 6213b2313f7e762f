"""Series, traffic and export answers on SQLite and a real InfluxDB: both must give the
answers computed from the readings as generated."""

from __future__ import annotations

import csv
import io
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from aggregator.api import create_app
from tests.aggregator.api.world import PLACES, World

AGGS = ("mean", "min", "max", "sum", "count")


@pytest.fixture(scope="module")
def client(world: World) -> TestClient:
    return TestClient(create_app(world.sources))


def _rows(body: dict[str, Any]) -> list[tuple[str, float, float]]:
    return [(p["device"], p["time"], p["value"]) for p in body["points"]]


def _same(got: list[tuple[str, float, float]], want: list[tuple[str, float, float]]) -> None:
    assert [(d, t) for d, t, _ in got] == [(d, t) for d, t, _ in want]
    assert [v for _, _, v in got] == pytest.approx([v for _, _, v in want], rel=1e-9)


def test_raw_series_of_chosen_devices(client: TestClient, world: World) -> None:
    devices = [world.hex(0), world.hex(2)]
    response = client.get(
        "/v1/series",
        params={"metric": "temp", "device": devices, "start": world.genesis, "end": world.end},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    _same(_rows(body), world.expected("temp", devices, None, None))
    assert body["total"] == 60


@pytest.mark.parametrize("agg", AGGS)
@pytest.mark.parametrize("every", ["10m", "1h"])
def test_bucket_aggregates(client: TestClient, world: World, agg: str, every: str) -> None:
    seconds = {"10m": 600, "1h": 3600}[every]
    response = client.get(
        "/v1/series",
        params={
            "metric": "temp",
            "start": world.genesis,
            "end": world.end,
            "every": every,
            "agg": agg,
        },
    )
    assert response.status_code == 200, response.text
    devices = [world.hex(i) for i in range(len(PLACES))]
    _same(_rows(response.json()), world.expected("temp", devices, seconds, agg))


def test_bounding_box_selects_devices_by_location(client: TestClient, world: World) -> None:
    auckland = "174.0,-37.5,175.5,-36.0"
    response = client.get(
        "/v1/series",
        params={"metric": "temp", "bbox": auckland, "start": world.genesis, "end": world.end},
    )
    assert response.status_code == 200, response.text
    got = _rows(response.json())
    assert {d for d, _, _ in got} == {world.hex(i) for i in range(3)}
    _same(got, world.expected("temp", [world.hex(i) for i in range(3)], None, None))


def test_iso_times_and_pages_cover_the_result(client: TestClient, world: World) -> None:
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(world.genesis, UTC).isoformat()
    pages: list[tuple[str, float, float]] = []
    offset: int | None = 0
    while offset is not None:
        body = client.get(
            "/v1/series",
            params={
                "metric": "temp",
                "start": start,
                "end": world.end,
                "limit": 7,
                "offset": offset,
            },
        ).json()
        assert len(body["points"]) <= 7
        pages.extend(_rows(body))
        offset = body["next_offset"]
    devices = [world.hex(i) for i in range(len(PLACES))]
    _same(pages, world.expected("temp", devices, None, None))


def test_traffic_sums_per_bucket(client: TestClient, world: World) -> None:
    response = client.get(
        "/v1/traffic",
        params={
            "line": "line1",
            "class": "car",
            "start": world.genesis,
            "end": world.end,
            "every": "10m",
        },
    )
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert {(r["line"], r["class"], r["direction"]) for r in rows} == {("line1", "car", "in")}
    got = sorted((r["device"], r["time"], r["value"]) for r in rows)
    devices = [world.hex(i) for i in range(len(PLACES))]
    _same(got, world.expected("line1/car/in", devices, 600, "sum"))
    every_class = client.get(
        "/v1/traffic", params={"start": world.genesis, "end": world.end, "every": "1h"}
    ).json()
    assert {r["class"] for r in every_class["rows"]} == {"car", "person"}


def test_export_csv_and_parquet_hold_the_series(client: TestClient, world: World) -> None:
    params = {
        "metric": "temp",
        "start": world.genesis,
        "end": world.end,
        "every": "10m",
        "agg": "max",
    }
    devices = [world.hex(i) for i in range(len(PLACES))]
    want = sorted(world.expected("temp", devices, 600, "max"))
    text = client.get("/v1/export", params={**params, "format": "csv"})
    assert text.status_code == 200, text.text
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.text)))
    _same(sorted((r["device"], float(r["unix_time"]), float(r["value"])) for r in rows), want)
    binary = client.get("/v1/export", params={**params, "format": "parquet"})
    assert binary.status_code == 200, binary.text
    table = pq.read_table(io.BytesIO(binary.content)).to_pylist()
    got = sorted((r["device"], r["time"].timestamp(), r["value"]) for r in table)
    _same(got, want)


def _fleet_expected(world: World, every: int, agg: str) -> list[tuple[str, float, float]]:
    buckets: dict[float, list[float]] = {}
    for points in world.readings["temp"].values():
        for t, v in points:
            buckets.setdefault((t // every) * every, []).append(v)
    fold = {
        "mean": lambda v: sum(v) / len(v),
        "min": min,
        "max": max,
        "sum": sum,
        "count": lambda v: float(len(v)),
    }[agg]
    return [("fleet", t, fold(values)) for t, values in sorted(buckets.items())]


@pytest.mark.parametrize("agg", AGGS)
def test_fleet_aggregate_over_all_devices(client: TestClient, world: World, agg: str) -> None:
    params = {
        "metric": "temp",
        "start": world.genesis,
        "end": world.end,
        "every": "10m",
        "agg": agg,
        "group": "fleet",
    }
    response = client.get("/v1/series", params=params)
    assert response.status_code == 200, response.text
    want = _fleet_expected(world, 600, agg)
    _same(_rows(response.json()), want)


def test_fleet_needs_a_bucket(client: TestClient, world: World) -> None:
    response = client.get(
        "/v1/series",
        params={"metric": "temp", "start": world.genesis, "end": world.end, "group": "fleet"},
    )
    assert response.status_code == 400
    assert response.json()["parameter"] == "group"


def test_raw_queries_are_bounded(world: World) -> None:
    from aggregator.api import ApiConfig

    small = TestClient(create_app(world.sources, ApiConfig(max_raw_points=100)))
    params = {"metric": "temp", "start": world.genesis, "end": world.end}
    refused = small.get("/v1/series", params=params)
    assert refused.status_code == 400
    assert refused.json()["parameter"] == "end"
    assert "120 raw points" in refused.json()["detail"]
    one_device = small.get("/v1/series", params={**params, "device": world.hex(0)})
    assert one_device.status_code == 200
    assert one_device.json()["total"] == 30
    aggregated = small.get("/v1/series", params={**params, "every": "10m"})
    assert aggregated.status_code == 200
