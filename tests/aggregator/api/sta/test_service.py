"""The service root, its conformance list against what is served, refusals, keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aggregator.api import ApiConfig, ApiKeyConfig, ApiServer, create_app
from aggregator.api.sta.model import ENTITY_SETS
from aggregator.api.sta.routes import CONFORMANCE, NOT_SERVED, SPEC
from tests.aggregator.api.sta.conftest import STA, get
from tests.aggregator.api.world import World

KEY = "sta-test-key-0123456789"


def test_root_lists_every_entity_set_and_the_served_classes(sqlite_server: ApiServer) -> None:
    status, body = get(sqlite_server.url + STA)
    assert status == 200
    assert [e["name"] for e in body["value"]] == list(ENTITY_SETS)
    conformance = body["serverSettings"]["conformance"]
    assert conformance == list(CONFORMANCE)
    assert not set(conformance) & set(NOT_SERVED)


def test_datamodel_and_resource_paths_are_served(sqlite_server: ApiServer) -> None:
    """datamodel: every entity set answers with its entities; resource-path: an entity,
    a property, its $value, navigation from it, and $ref."""
    _, root = get(sqlite_server.url + STA)
    for entry in root["value"]:
        status, body = get(entry["url"] + "?$top=1")
        assert status == 200, entry
        assert len(body["value"]) == 1, entry
        item = body["value"][0]
        status, one = get(item["@iot.selfLink"])
        assert status == 200
        assert one["@iot.id"] == item["@iot.id"]
        for key, link in item.items():
            if key.endswith("@iot.navigationLink"):
                status, _ = get(link)
                assert status in (200, 404), link  # 404: a to-one link with nothing behind
    thing = World.hex(0)
    status, name = get(f"{sqlite_server.url}{STA}/Things('{thing}')/name")
    assert status == 200
    assert name == {"name": "harbour-bridge"}
    status, text = get(f"{sqlite_server.url}{STA}/Things('{thing}')/name/$value")
    assert status == 200
    assert text == "harbour-bridge"
    status, refs = get(f"{sqlite_server.url}{STA}/Things('{thing}')/Datastreams/$ref")
    assert status == 200
    assert all(set(r) == {"@iot.selfLink"} for r in refs["value"])
    assert len(refs["value"]) == 3
    status, thing_of = get(
        f"{sqlite_server.url}{STA}/Datastreams('{thing}:temp')/Thing?$select=name"
    )
    assert status == 200
    assert thing_of == {"name": "harbour-bridge"}


def test_request_data_options_are_served(sqlite_server: ApiServer, sqlite_world: World) -> None:
    base = sqlite_server.url + STA
    status, body = get(f"{base}/Things?$count=true&$top=2&$skip=1&$orderby=name desc")
    assert status == 200
    assert body["@iot.count"] == 4
    assert [t["name"] for t in body["value"]] == ["lambton-quay", "harbour-bridge"]
    status, body = get(f"{base}/Things?$select=name&$filter=name eq 'domain'")
    assert body["value"] == [{"name": "domain"}]
    status, body = get(f"{base}/Things('{World.hex(3)}')?$expand=Datastreams($select=name)")
    assert sorted(d["name"] for d in body["Datastreams"]) == [
        "lambton-quay line1/car/in",
        "lambton-quay line1/person/out",
        "lambton-quay temp",
    ]
    # Geo functions on locations: three devices in Auckland, one in Wellington.
    box = "POLYGON((174 -37,175 -37,175 -36,174 -36,174 -37))"
    status, body = get(f"{base}/Locations?$filter=st_within(location, geography'{box}')")
    assert len(body["value"]) == 3
    near = "geo.distance(location, geography'POINT(174.7762 -41.2812)') lt 0.01"
    status, body = get(f"{base}/Locations?$filter={near}")
    assert [loc["name"] for loc in body["value"]] == ["lambton-quay"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("$resultFormat=dataArray", "$resultFormat"),
        ("$search=temp", "$search"),
        ("$format=json", "$format"),
        ("$apply=groupby((name))", "$apply"),
        ("$top=-1", "$top"),
        ("$top=1&$top=2", "$top"),
        ("$count=maybe", "$count"),
        ("$orderby=nothing", "$orderby"),
        ("$select=colour", "$select"),
        ("$expand=Observations", "$expand"),
        ("$filter=round(result) eq 1", "$filter"),
        ("$filter=result add 1 eq 2", "$filter"),
    ],
)
def test_unsupported_option_is_refused_naming_it(
    sqlite_server: ApiServer, query: str, named: str
) -> None:
    status, body = get(f"{sqlite_server.url}{STA}/Things?{query}")
    assert status == 400
    assert body["parameter"] == named
    assert named in body["detail"]


def test_classes_left_out_are_not_served(sqlite_server: ApiServer) -> None:
    base = sqlite_server.url + STA
    assert get(f"{base}/MultiDatastreams")[0] == 404  # multi-datastream
    assert get(f"{base}/$batch")[0] in (400, 404)  # batch-request
    assert get(f"{base}/Things?$resultFormat=dataArray")[0] == 400  # dataArray
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{base}/Things", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:  # create-update-delete
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405
    assert SPEC + "create-update-delete" in NOT_SERVED


def test_unknown_entities_answer_404(sqlite_server: ApiServer) -> None:
    base = sqlite_server.url + STA
    assert get(f"{base}/Things('0x{'0' * 64}')")[0] == 404
    assert get(f"{base}/Datastreams('nonsense')")[0] == 404
    assert get(f"{base}/Observations('0x{'0' * 64}:temp@1')")[0] == 404
    assert get(f"{base}/Gadgets")[0] == 404


@pytest.fixture(scope="module")
def keyed(sqlite_world: World) -> Iterator[ApiServer]:
    config = ApiConfig(  # type: ignore[call-arg]
        require_keys=True,
        keys=[ApiKeyConfig(name="lab", key=KEY, rate_per_s=0.01, burst=3, admin=False)],
    )
    api = ApiServer(create_app(sqlite_world.sources, config))
    api.start()
    yield api
    api.stop()


def test_keys_and_rate_limits_apply_as_on_v1(keyed: ApiServer) -> None:
    url = f"{keyed.url}{STA}/Things"
    assert get(url)[0] == 401
    assert get(keyed.url + STA)[0] == 401
    answers = [get(url, {"X-API-Key": KEY})[0] for _ in range(4)]
    assert answers == [200, 200, 200, 429]
