"""``/v1/devices``: location, owner, status, health and latest readings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from aggregator.api.auth import researcher
from aggregator.api.context import ApiContext, Ctx, paged
from aggregator.api.devices import in_box, record_json
from aggregator.api.errors import NotFoundError, error_responses
from aggregator.api.params import DEVICE_PATTERN, MAX_INT, parse_bbox, parse_device
from fieldproof.identity import device_id_hex

router = APIRouter(
    prefix="/v1",
    tags=["devices"],
    dependencies=[Depends(researcher)],
    responses=error_responses(),
)

DevicePath = Annotated[
    str, Path(pattern=DEVICE_PATTERN, description="Device id: 32 bytes as (0x-)hex.")
]
Limit = Annotated[
    int | None, Query(ge=1, description="Page size (at most the configured maximum).")
]
Offset = Annotated[int, Query(ge=0, le=MAX_INT, description="Items to skip.")]


def _owner(context: ApiContext, device_id: bytes) -> str | None:
    return context.owner_of(device_id)


@router.get(
    "/devices",
    summary="Devices with location, status and health",
    responses=error_responses(400),
)
def list_devices(
    *,
    bbox: str | None = Query(None, description="min_lon,min_lat,max_lon,max_lat"),
    limit: Limit = None,
    offset: Offset = 0,
    context: Ctx,
) -> dict[str, Any]:
    size, skip = context.page(limit, offset)
    items = context.directory.summaries()
    if bbox is not None:
        box = parse_bbox(bbox)
        items = [
            item
            for item in items
            if item["location"] is not None
            and in_box((item["location"]["lat"], item["location"]["lon"]), box)
        ]
    page = paged(items, size, skip)
    for item in page["items"]:
        item["owner"] = _owner(context, bytes.fromhex(item["device"][2:]))
    return page


@router.get(
    "/devices/{device}",
    summary="One device and its latest readings",
    responses=error_responses(400, 404),
)
def get_device(*, device: DevicePath, context: Ctx) -> dict[str, Any]:
    device_id = parse_device(device)
    summary = context.directory.summary(device_id)
    if summary is None:
        raise NotFoundError(f"device {device_id_hex(device_id)} is unknown")
    summary["owner"] = _owner(context, device_id)
    latest, records = context.directory.latest_records(device_id, summary["last_seq"])
    summary["latest_report"] = latest
    summary["readings"] = [record_json(r) for r in records]
    return summary


@router.get(
    "/devices/{device}/reports",
    summary="A device's reports, newest first",
    responses=error_responses(400),
)
def device_reports(
    *,
    device: DevicePath,
    before_seq: Annotated[
        int | None,
        Query(ge=0, le=MAX_INT, description="Cursor: only reports with a lower seq."),
    ] = None,
    limit: Limit = None,
    context: Ctx,
) -> dict[str, Any]:
    device_id = parse_device(device)
    size, _ = context.page(limit, 0)
    heads = context.sources.ledger.device_reports(device_id, before_seq=before_seq, limit=size)
    index = context.epoch_index
    epochs = None if index is None else index.epochs()
    items = []
    for head in heads:
        record = None if index is None else index.containing(head.received_at, epochs)
        items.append(
            {
                "seq": head.seq,
                "start": head.start,
                "end": head.end,
                "received_at": head.received_at,
                "epoch": None if record is None else record.epoch,
                "anchored": record is not None and record.status.value in ("anchored", "done"),
            }
        )
    following = heads[-1].seq if len(heads) == size else None
    return {"items": items, "next_before_seq": following}


@router.get("/catalog", summary="Record names in the devices' newest reports")
def catalog(*, context: Ctx) -> dict[str, Any]:
    return {"metrics": context.directory.catalogue()}
