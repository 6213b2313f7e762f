"""A SensorThings client nobody here wrote (FROST's Python client) reads the service."""

from __future__ import annotations

from datetime import datetime

import frost_sta_client as fsc  # type: ignore[import-untyped]  # ships no types

from aggregator.api import ApiServer
from aggregator.api.sta.model import iso
from tests.aggregator.api.sta.conftest import STA
from tests.aggregator.api.world import KEYS, PLACES, World


def _service(server: ApiServer) -> fsc.SensorThingsService:
    return fsc.SensorThingsService(server.url + STA)


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_client_lists_things(server: ApiServer, world: World) -> None:
    things = list(_service(server).things().query().list())
    assert sorted(t.id for t in things) == sorted(World.hex(i) for i in range(len(KEYS)))
    assert sorted(t.name for t in things) == sorted(name for name, _, _ in PLACES)


def test_client_follows_a_datastream_to_observations_filtered_on_time(
    server: ApiServer, world: World
) -> None:
    service = _service(server)
    device = World.hex(1)
    thing = service.things().find(device)
    streams = list(thing.get_datastreams().query().list())
    assert {s.id for s in streams} == {f"{device}:{n}" for n in world.readings}
    temp = next(s for s in streams if s.id == f"{device}:temp")
    assert temp.unit_of_measurement.symbol == "Cel"
    low, high = world.genesis + 5 * 60, world.genesis + 15 * 60
    query = f"phenomenonTime ge {iso(low)} and phenomenonTime lt {iso(high)}"
    found = list(
        temp.get_observations().query().filter(query).orderby("phenomenonTime", "ASC").list()
    )
    expected = [(t, v) for t, v in world.readings["temp"][device] if low <= t < high]
    assert len(expected) == 10
    assert [(_seconds(o.phenomenon_time), o.result) for o in found] == expected
    # Each reading names the signed report it came from.
    assert [o.result_quality["seq"] for o in found] == list(range(6, 16))


def test_client_pages_with_next_link(server: ApiServer, world: World) -> None:
    device = World.hex(2)
    stream = _service(server).datastreams().find(f"{device}:line1/car/in")
    first = stream.get_observations().query().top(7).list()
    assert len(first.entities) == 7
    assert first.next_link is not None
    assert "$skip=7" in first.next_link
    every = list(first)  # iterating follows @iot.nextLink to the end
    assert [(_seconds(o.phenomenon_time), o.result) for o in every] == sorted(
        world.readings["line1/car/in"][device]
    )
    assert len({o.id for o in every}) == len(every) == 30
