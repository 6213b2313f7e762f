"""Generated queries: whatever the $filter (or other option), the answer is 200 or 400,
never a server error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.api import create_app
from aggregator.api.sta.filter import FUNCTIONS, parse_filter
from tests.aggregator.api.sta.conftest import OPEN, STA
from tests.aggregator.api.world import World

FIELDS = [
    "result",
    "phenomenonTime",
    "resultTime",
    "resultQuality/seq",
    "Datastream/@iot.id",
    "Datastream/Thing/name",
    "name",
    "location",
    "@iot.id",
    "properties/state",
    "nothing/here",
]
LITERALS = [
    "1",
    "-2.5",
    "1e400",
    "'temp'",
    "'it''s'",
    "true",
    "null",
    "2026-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "geography'POINT(174.7 -36.8)'",
    "geography'POLYGON((0 0,1 0,1 1,0 0))'",
    "geometry'POINT(1)'",
    "geography'LINESTRING(0 0,1 1)'",
]
OPS = ["eq", "ne", "gt", "ge", "lt", "le", "add", "has", ""]


def _expressions() -> st.SearchStrategy[str]:
    atom = st.sampled_from(FIELDS + LITERALS)
    call = st.builds(
        lambda name, args: f"{name}({','.join(args)})",
        st.sampled_from([*FUNCTIONS, "round", "now"]),
        st.lists(atom, max_size=3),
    )
    comparison = st.builds(
        lambda a, op, b: f"{a} {op} {b}", atom | call, st.sampled_from(OPS), atom | call
    )
    return st.recursive(
        comparison,
        lambda inner: (
            st.builds(lambda a, b: f"({a}) and {b}", inner, inner)
            | st.builds(lambda a, b: f"{a} or {b}", inner, inner)
            | st.builds(lambda a: f"not {a}", inner)
        ),
        max_leaves=8,
    )


FILTERS = _expressions() | st.text(
    alphabet=st.sampled_from("()',/ abcdeglnoqrtuxz0129.-:T@$"), max_size=60
)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def client(sqlite_world: World) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_world.sources, OPEN)) as test_client:
        yield test_client


@pytest.mark.parametrize("entity_set", ["Observations", "Locations", "Datastreams"])
def test_filters_never_fail_the_server(client: TestClient, entity_set: str) -> None:
    answered: set[int] = set()

    @given(text=FILTERS)
    @SETTINGS
    def check(text: str) -> None:
        response = client.get(f"{STA}/{entity_set}", params={"$filter": text, "$top": "3"})
        assert response.status_code in (200, 400), (text, response.text)
        if response.status_code == 400:
            assert response.json()["parameter"] == "$filter"
        answered.add(response.status_code)

    check()
    assert answered == {200, 400}  # generation reached both outcomes


@given(text=FILTERS)
@SETTINGS
def test_parser_raises_only_parameter_errors(text: str) -> None:
    from aggregator.api.errors import ParameterError

    raised: ParameterError | None = None
    try:
        parse_filter(text)
    except ParameterError as exc:
        raised = exc
    assert raised is None or raised.parameter == "$filter"


def test_deep_and_long_filters_are_refused_not_crashed(client: TestClient) -> None:
    deep = "(" * 500 + "result eq 1" + ")" * 500
    long = " or ".join(["result eq 1"] * 300)
    for text in (deep, long):
        response = client.get(f"{STA}/Observations", params={"$filter": text})
        assert response.status_code == 400
        assert response.json()["parameter"] == "$filter"


@given(
    path=st.text(alphabet=st.sampled_from("ThingsDatastream()'/$0x:@1ref"), max_size=40),
    option=st.sampled_from(["$top", "$skip", "$orderby", "$select", "$expand", "$count"]),
    value=st.text(alphabet=st.sampled_from("abc,() ;=$/-1O0"), max_size=20),
)
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_paths_and_options_never_fail_the_server(
    client: TestClient, path: str, option: str, value: str
) -> None:
    response = client.get(f"{STA}/{path}", params={option: value})
    assert response.status_code in (200, 400, 404), (path, option, value, response.text)
