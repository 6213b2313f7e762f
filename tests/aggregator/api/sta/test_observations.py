"""Observations against the REST series and the proofs, on both series backends; the
store page method they are cut with."""

from __future__ import annotations

from datetime import datetime

import pytest

from aggregator.api import ApiServer
from aggregator.series.base import SeriesStore
from tests.aggregator.api.sta.conftest import STA, get
from tests.aggregator.api.world import World


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _all(url: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    next_url: str | None = url
    while next_url is not None:
        status, body = get(next_url)
        assert status == 200, body
        out.extend(body["value"])
        next_url = body.get("@iot.nextLink")
    return out


@pytest.mark.parametrize("metric", ["temp", "line1/car/in"])
def test_observations_equal_the_rest_series(server: ApiServer, world: World, metric: str) -> None:
    for index in range(4):
        device = World.hex(index)
        status, rest = get(
            f"{server.url}/v1/series?metric={metric}&device={device}"
            f"&start={world.genesis}&end={world.end}"
        )
        assert status == 200
        expected = [(p["time"], p["value"]) for p in rest["points"]]
        assert len(expected) == 30
        found = _all(f"{server.url}{STA}/Datastreams('{device}:{metric}')/Observations?$top=8")
        assert [(_seconds(str(o["phenomenonTime"])), o["result"]) for o in found] == expected


def test_result_quality_is_the_readings_proof_reference(server: ApiServer, world: World) -> None:
    device = World.hex(0)
    found = _all(
        f"{server.url}{STA}/Datastreams('{device}:temp')/Observations"
        "?$orderby=phenomenonTime desc&$top=12"
    )
    assert [_seconds(str(o["phenomenonTime"])) for o in found] == sorted(
        (t for t, _ in world.readings["temp"][device]), reverse=True
    )
    for observation in found[::7]:
        quality = observation["resultQuality"]
        assert isinstance(quality, dict)
        status, proof = get(f"{server.url}/v1/proofs/{device}/{quality['seq']}")
        if quality["epoch"] is None:  # the last epoch is still open
            assert status == 404
            continue
        assert status == 200
        assert proof["epoch"] == quality["epoch"]
        status, report = get(f"{server.url}/v1/reports/{device}/{quality['seq']}")
        # The signed report holds this very reading.
        records = {r["name"]: r for r in report["decoded"]["records"]}
        assert records["temp"]["value"] == observation["result"]
        assert records["temp"]["time"] == _seconds(str(observation["phenomenonTime"]))


def test_filters_the_store_cannot_apply(server: ApiServer, world: World) -> None:
    device = World.hex(1)
    url = (
        f"{server.url}{STA}/Observations?$count=true&$top=5&$orderby=result desc"
        f"&$filter=Datastream/@iot.id eq '{device}:temp' and result ge 15"
    )
    status, body = get(url)
    values = sorted((v for _, v in world.readings["temp"][device] if v >= 15), reverse=True)
    assert status == 200
    assert body["@iot.count"] == len(values)
    assert [o["result"] for o in body["value"]] == values[:5]


def test_top_level_observations_merge_streams_in_time_order(
    server: ApiServer, world: World
) -> None:
    start = world.genesis + 600
    found = _all(
        f"{server.url}{STA}/Observations?$top=50"
        f"&$filter=phenomenonTime ge {datetime.utcfromtimestamp(start).isoformat()}Z"
    )
    expected = sorted(
        (t, f"{device}:{metric}")
        for metric, by_device in world.readings.items()
        for device, points in by_device.items()
        for t, _ in points
        if t >= start
    )
    assert [
        (_seconds(str(o["phenomenonTime"])), str(o["@iot.id"]).rsplit("@")[0]) for o in found
    ] == expected


def test_store_pages_points(world: World) -> None:
    store: SeriesStore = world.series
    device = World.hex(2)
    points = sorted(world.readings["temp"][device])
    page = store.points("temp", device, world.genesis, world.end, limit=4, offset=3)
    assert [(p.time, p.value) for p in page] == points[3:7]
    newest = store.points("temp", device, world.genesis, world.end, limit=2, newest_first=True)
    assert [(p.time, p.value) for p in newest] == points[::-1][:2]
    assert store.points("temp", device, world.genesis, world.genesis + 60, limit=10) == [
        page[0].__class__(device, points[0][0], points[0][1])
    ]
    assert store.points("temp", device, world.genesis, world.end, limit=5, offset=30) == []


def test_ledger_finds_reports_by_interval(world: World) -> None:
    device_id = bytes.fromhex(World.hex(0)[2:])
    heads = world.ledger.reports_overlapping(device_id, world.genesis + 90, world.genesis + 150)
    # Intervals are [start, start + 60]: those of seq 2 and 3 meet [g+90, g+150].
    assert [h.seq for h in heads] == [2, 3]
