"""``/v1/series``, ``/v1/traffic`` and ``/v1/export`` (streamed CSV or Parquet)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from aggregator.api.auth import researcher
from aggregator.api.context import ApiContext, Ctx, paged
from aggregator.api.devices import traffic_names
from aggregator.api.errors import ParameterError, error_responses
from aggregator.api.export import ExportFormat, csv_chunks, parquet_chunks
from aggregator.api.params import (
    DURATION_PATTERN,
    parse_agg,
    parse_bbox,
    parse_devices,
    parse_duration,
    parse_range,
)
from aggregator.api.reading_proofs import ReadingProver
from aggregator.api.routes.devices import Limit, Offset
from aggregator.series.base import Aggregate
from aggregator.series.points import SeriesPoint, series_key
from fieldproof.identity import device_id_hex

router = APIRouter(
    prefix="/v1",
    tags=["series"],
    dependencies=[Depends(researcher)],
    # Series answers come from a store that may refuse (502) or be missing (503).
    responses=error_responses(400, 502, 503),
)

MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    metric: str
    devices: list[str] | None
    start: float
    end: float
    every: int | None
    agg: Aggregate | None
    fleet: bool = False

    def run(
        self, context: ApiContext, start: float | None = None, end: float | None = None
    ) -> list[SeriesPoint]:
        t0 = self.start if start is None else start
        t1 = self.end if end is None else end
        if self.fleet:
            assert self.every is not None
            assert self.agg is not None
            return context.sources.series.fleet(
                self.metric,
                self.devices,
                t0,
                t1,
                every=self.every,
                agg=self.agg,
            )
        return context.sources.series.series(
            self.metric, self.devices, t0, t1, every=self.every, agg=self.agg
        )

    def echo(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "start": self.start,
            "end": self.end,
            "every": self.every,
            "agg": self.agg,
            "group": "fleet" if self.fleet else "device",
        }


def check_metric(metric: str) -> str:
    name = metric.strip()
    if not name or len(name) > MAX_NAME or any(ord(ch) < 32 for ch in name):
        raise ParameterError(
            "metric", f"expected a record name of 1..{MAX_NAME} printable characters"
        )
    if any(not part for part in name.split("/")):
        raise ParameterError("metric", f"empty path segment in {metric!r}")
    return name


def resolve_devices(context: ApiContext, device: list[str], bbox: str | None) -> list[str] | None:
    """The device filter: the ids given, those inside ``bbox``, both (intersection), or
    ``None`` for every device."""
    chosen: list[str] | None = None
    if device:
        chosen = [device_id_hex(d) for d in parse_devices(device)]
    if bbox is not None:
        inside = context.directory.within(parse_bbox(bbox))
        if chosen is None:
            chosen = inside
        else:
            inside_set = set(inside)
            chosen = [d for d in chosen if d in inside_set]
    return chosen


_DEVICE = Query([], description="Device id (0x-hex); repeat or comma-separate for several.")
_BBOX = Query(None, description="min_lon,min_lat,max_lon,max_lat")
_START = Query(..., description="Unix seconds or ISO 8601 (inclusive).")
_END = Query(..., description="Unix seconds or ISO 8601 (exclusive).")
_EVERY = Query(
    None,
    pattern=DURATION_PATTERN,
    description="Bucket length (60s, 15m, 1h, 1d; plain seconds); aggregates per bucket.",
)
_AGG = Query(None, description="mean, min, max, sum or count (with every; default mean).")
_GROUP = Query(
    "device",
    description="device: one series per device; fleet: one aggregate per bucket over all "
    "selected devices (needs every).",
)


def series_query(
    *,
    metric: str = Query(
        ...,
        min_length=1,
        max_length=MAX_NAME,
        description="Record name, e.g. temp or bme280/temp.",
    ),
    device: list[str] = _DEVICE,
    bbox: str | None = _BBOX,
    start: str = _START,
    end: str = _END,
    every: str | None = _EVERY,
    agg: Aggregate | None = _AGG,
    group: Literal["device", "fleet"] = _GROUP,
    context: Ctx,
) -> SeriesQuery:
    """The query parameters ``/v1/series`` and ``/v1/export`` share, checked."""
    name = check_metric(metric)
    t0, t1 = parse_range(start, end, context.config.max_range_days)
    bucket = None if every is None else parse_duration(every, "every")
    if group == "fleet" and bucket is None:
        raise ParameterError("group", "fleet aggregates need 'every' (the bucket length)")
    return SeriesQuery(
        name,
        resolve_devices(context, device, bbox),
        t0,
        t1,
        bucket,
        parse_agg(agg, bucket),
        fleet=group == "fleet",
    )


Series = Annotated[SeriesQuery, Depends(series_query)]


def check_raw_size(context: ApiContext, query: SeriesQuery) -> None:
    """Refuse a raw query whose points would not fit the configured bound, before any
    of them is read: one count per device over the whole range is cheap for the store."""
    span = max(1, math.ceil(query.end - query.start))
    counts = context.sources.series.series(
        query.metric, query.devices, query.start, query.end, every=span, agg="count"
    )
    total = int(sum(p.value for p in counts))
    if total > context.config.max_raw_points:
        raise ParameterError(
            "end",
            f"the range holds {total} raw points, more than {context.config.max_raw_points}; "
            "narrow start/end or the devices, aggregate with every/agg, or use /v1/export",
        )


def json_response(body: dict[str, Any]) -> Response:
    """Large point lists serialised directly: the generic encoder costs more than the query."""
    return Response(json.dumps(body, separators=(",", ":")).encode(), media_type="application/json")


@router.get("/series", summary="One metric's points or bucket aggregates")
def series(
    *,
    query: Series,
    limit: Limit = None,
    offset: Offset = 0,
    context: Ctx,
) -> Response:
    size, skip = context.page(limit, offset)
    if query.every is None:
        check_raw_size(context, query)
    page = paged(query.run(context), size, skip)
    chunk: list[SeriesPoint] = page.pop("items")
    return json_response(
        {
            **query.echo(),
            "points": [{"device": p.device, "time": p.time, "value": p.value} for p in chunk],
            **page,
        }
    )


@router.get("/traffic", summary="Traffic counts per line, class and direction")
def traffic(
    *,
    line: str | None = Query(None, description="Counting line name."),
    cls: str | None = Query(None, alias="class", description="Object class (car, person…)."),
    direction: Literal["in", "out"] | None = Query(None, description="in or out."),
    device: list[str] = _DEVICE,
    bbox: str | None = _BBOX,
    start: str = _START,
    end: str = _END,
    every: str = Query(
        "1h",
        pattern=DURATION_PATTERN,
        description="Bucket length (counts are summed per bucket).",
    ),
    limit: Limit = None,
    offset: Offset = 0,
    context: Ctx,
) -> Response:
    size, skip = context.page(limit, offset)
    for parameter, value in (("line", line), ("class", cls)):
        if value is not None and (not value or "/" in value):
            raise ParameterError(parameter, "must be a non-empty name without '/'")
    t0, t1 = parse_range(start, end, context.config.max_range_days)
    bucket = parse_duration(every, "every")
    devices = resolve_devices(context, device, bbox)
    if line is not None and cls is not None and direction is not None:
        names = [f"{line}/{cls}/{direction}"]
    else:
        names = traffic_names(context.directory.catalogue(), line, cls, direction)
    rows: list[dict[str, Any]] = []
    for name in names:
        tags = dict(series_key(name)[1])
        for p in context.sources.series.series(name, devices, t0, t1, every=bucket, agg="sum"):
            rows.append(
                {
                    "device": p.device,
                    "line": tags["line"],
                    "class": tags["class"],
                    "direction": tags["direction"],
                    "time": p.time,
                    "value": p.value,
                }
            )
    rows.sort(key=lambda r: (r["time"], r["device"], r["line"], r["class"], r["direction"]))
    page = paged(rows, size, skip)
    return json_response(
        {"start": t0, "end": t1, "every": bucket, "rows": page.pop("items"), **page}
    )


@router.get(
    "/export",
    summary="Streamed CSV or Parquet of a series query",
    description="Raw readings come with what proves each one without this API (columns "
    "seq, epoch, leaf, proof, root, anchor_tx, report); `fieldproof verify --export FILE` "
    "checks every row against the chain.",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The points, as the file asked for.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    },
)
def export(
    *,
    query: Series,
    format: Annotated[ExportFormat, Query(description="csv or parquet.")] = "csv",
    proofs: Annotated[
        bool | None,
        Query(
            description="Carry each reading's signed report, Merkle proof, epoch, root and "
            "anchoring transaction (default: yes for raw readings; aggregates have none)."
        ),
    ] = None,
    context: Ctx,
) -> StreamingResponse:
    if proofs and query.every is not None:
        raise ParameterError("proofs", "aggregated rows are not readings; drop every/agg")
    prover = (
        ReadingProver(context.sources.ledger, context.epoch_index)
        if query.every is None and proofs is not False
        else None
    )

    def pages() -> Iterator[list[SeriesPoint]]:
        span = 86_400.0
        t = query.start
        if query.every is not None:
            # Windows hold whole buckets, so no bucket is split over two rows.
            span = max(span // query.every, 1) * query.every
            t = query.start // query.every * query.every
        while t < query.end:
            yield query.run(context, max(t, query.start), min(t + span, query.end))
            t += span

    filename = f"{query.metric.replace('/', '_')}.{format}"
    if format == "csv":
        body, media = csv_chunks(query.metric, pages(), prover), "text/csv"
    else:
        body = parquet_chunks(query.metric, pages(), prover)
        media = "application/vnd.apache.parquet"
    return StreamingResponse(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
