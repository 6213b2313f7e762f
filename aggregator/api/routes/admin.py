"""Operator endpoints; always behind an admin API key."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Query

from aggregator.api.auth import admin
from aggregator.api.context import Ctx
from aggregator.api.errors import error_responses
from aggregator.api.params import MAX_INT
from fieldproof.identity import device_id_hex

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[Depends(admin)],
    responses=error_responses(403),
)


@router.get(
    "/dead-letters", summary="Refused messages, oldest first", responses=error_responses(400)
)
def dead_letters(
    *,
    after: int = Query(0, ge=0, le=MAX_INT, description="Cursor: the last row id already seen."),
    limit: int | None = Query(None, ge=1, description="Page size."),
    context: Ctx,
) -> dict[str, Any]:
    size, _ = context.page(limit, 0)
    rows = context.sources.ledger.dead_letters(after_id=after, limit=size)
    return {
        "items": [
            {
                "id": d.row_id,
                "received_at": d.received_at,
                "topic": d.topic,
                "reason": d.reason,
                "detail": d.detail,
                "device": None if d.device_id is None else device_id_hex(d.device_id),
                "seq": d.seq,
                "size": d.size,
                "raw": base64.b64encode(d.raw).decode("ascii"),
            }
            for d in rows
        ],
        "next_cursor": rows[-1].row_id if len(rows) == size else None,
        "counts": context.sources.ledger.dead_letter_counts(),
    }


@router.get("/keys", summary="Configured API keys (names and limits, never secrets)")
def keys(*, context: Ctx) -> dict[str, Any]:
    return {
        "require_keys": context.config.require_keys,
        "keys": [
            {"name": k.name, "rate_per_s": k.rate_per_s, "burst": k.burst, "admin": k.admin}
            for k in context.config.keys
        ],
    }
