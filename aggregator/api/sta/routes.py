"""``/sta/v1.1``: the OGC SensorThings API 1.1 (Sensing, read-only) over the stores.

The routes stay out of the OpenAPI document (``include_in_schema=False``) on purpose.
SensorThings addresses entities by OData resource paths of any depth
(``Things('…')/Datastreams('…')/Observations``) with OData query options; one route
parses them, and an OpenAPI operation for it could only say "any path, any ``$``
option", which tells a client nothing and gives generated requests nothing to check
against. SensorThings clients read the service root instead: its entity sets and its
``serverSettings.conformance`` list are the service's machine-readable description.
The routes take the same API keys and rate limits as every ``/v1`` route (the
``researcher`` dependency), answer errors in the API's one error shape, and are tested
by their own generated requests (tests/aggregator/api/sta).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from aggregator.api.auth import researcher
from aggregator.api.context import ApiContext, Ctx
from aggregator.api.sta.catalog import Catalog, CatalogCache
from aggregator.api.sta.model import ENTITY_SETS
from aggregator.api.sta.observations import ObservationReader
from aggregator.api.sta.options import parse_options
from aggregator.api.sta.query import LINK_SAFE, Executor, next_link
from aggregator.api.sta.resources import resolve

PREFIX = "/sta/v1.1"
SPEC = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
# The conformance classes served (SensorThings 1.1, Annex A).
CONFORMANCE = (
    SPEC + "datamodel",
    SPEC + "resource-path/resource-path-to-entities",
    SPEC + "request-data",
)
# Those left out; each is listed with why in the service root.
NOT_SERVED = {
    SPEC + "create-update-delete": "read-only: data enters as signed device reports",
    SPEC + "batch-request/batch-request": "no $batch",
    SPEC + "multi-datastream": "no MultiDatastreams",
    SPEC + "dataArray": "no $resultFormat=dataArray",
    SPEC + "create-observations-via-mqtt/observations-creation": "no MQTT extension",
    SPEC + "receive-updates-via-mqtt/receive-updates": "no MQTT extension",
}
LIMITS_KEY = "https://fieldproof.dev/sta/limitations"
LIMITATIONS: dict[str, Any] = {
    "notImplemented": NOT_SERVED,
    "requestData": {
        "served": ["$top", "$skip", "$count", "$orderby", "$select", "$expand", "$filter"],
        "notServed": ["$resultFormat", "$search", "$format", "$apply", "$compute", "$levels"],
        "expandDepth": 2,
        "filter": {
            "served": [
                "eq ne gt ge lt le",
                "and or not",
                "time comparisons on phenomenonTime and resultTime",
                "geo.distance st_within geo.intersects st_intersects "
                "(Point and Polygon, on Location.location and FeatureOfInterest.feature)",
                "substringof contains startswith endswith tolower toupper trim length",
                "year month day hour minute second",
            ],
            "notServed": [
                "arithmetic operators (add sub mul div mod)",
                "any() and all() over to-many navigation paths",
                "other functions (e.g. st_contains, st_touches, concat, round, now)",
                "duration and interval literals",
            ],
        },
    },
    "historicalLocations": "only the current location of each device is kept: each Thing "
    "with a location has one HistoricalLocation, at the time that location was last known",
    "datastreams": "one per device and record name seen in the device's recent reports",
}

router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(researcher)])


def _catalog(request: Request, context: ApiContext) -> Catalog:
    # One cache per app: apps over different stores never share entities.
    cache = getattr(request.app.state, "sta_catalog", None)
    if cache is None:
        cache = request.app.state.sta_catalog = CatalogCache()
    assert isinstance(cache, CatalogCache)
    return cache.get(context)


def _json(body: object, status: int = 200) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), allow_nan=False).encode(),
        status_code=status,
        media_type="application/json",
    )


def _root_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


@router.get("")
@router.get("/")
def service_root(request: Request) -> Response:
    root = _root_url(request)
    return _json(
        {
            "value": [{"name": name, "url": f"{root}/{name}"} for name in ENTITY_SETS],
            "serverSettings": {"conformance": list(CONFORMANCE), LIMITS_KEY: LIMITATIONS},
        }
    )


@router.get("/{resource:path}")
def resource(resource: str, request: Request, context: Ctx) -> Response:
    catalog = _catalog(request, context)
    reader = ObservationReader(context)
    found = resolve(catalog, reader, resource)
    entity_set = found.collection.entity_set if found.collection else None
    if found.entity is not None:
        entity_set = found.entity.entity_set
    assert entity_set is not None
    ceiling = context.config.max_limit
    options = parse_options(entity_set, request.query_params.multi_items(), ceiling=ceiling)
    root = _root_url(request)
    run = Executor(catalog, reader, root)
    if found.ref:
        if found.entity is not None:
            return _json({"@iot.selfLink": run.self_link(found.entity)})
        assert found.collection is not None
        body, more = run.collection(found.collection, options)
        refs = [{"@iot.selfLink": item["@iot.selfLink"]} for item in body["value"]]
        out: dict[str, Any] = {k: v for k, v in body.items() if k != "value"}
        out["value"] = refs
        if more:
            path = quote(resource, safe=LINK_SAFE)
            out["@iot.nextLink"] = next_link(f"{root}/{path}", options.raw, options)
        return _json(out)
    if found.collection is not None:
        body, more = run.collection(found.collection, options)
        if more:
            path = quote(found.collection.path, safe=LINK_SAFE)
            body["@iot.nextLink"] = next_link(f"{root}/{path}", options.raw, options)
        return _json(body)
    assert found.entity is not None
    if found.prop is not None:
        value = found.entity.props.get(found.prop)
        if found.raw_value:
            text = value if isinstance(value, str) else json.dumps(value)
            return Response(text, media_type="text/plain")
        return _json({found.prop: value})
    return _json(run.entity(found.entity, options))
