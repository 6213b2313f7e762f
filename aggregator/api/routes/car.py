"""``/v1/epochs/{epoch}/car``: an epoch's bundle as a CARv1 file for IPFS or Filecoin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from aggregator.api.auth import researcher
from aggregator.api.context import Ctx
from aggregator.api.errors import error_responses
from aggregator.api.params import MAX_INT
from fieldproof.car import CAR_MEDIA_TYPE, bundle_car

router = APIRouter(prefix="/v1", tags=["proofs"], dependencies=[Depends(researcher)])


@router.get(
    "/epochs/{epoch}/car",
    summary="An epoch's bundle as a CARv1 file rooted at its anchored CID",
    description="One raw block, the bundle (its reports inside it), under the bundle's "
    "CID, the one anchored on-chain: `ipfs dag import` takes the file as is "
    "(`--allow-big-block` for a bundle over 1 MiB).",
    response_class=Response,
    responses={
        200: {
            "description": "The CARv1 file.",
            "content": {CAR_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(404, 503),
    },
)
def get_epoch_car(
    *,
    epoch: Annotated[int, Path(ge=0, le=MAX_INT, description="The epoch's number.")],
    context: Ctx,
) -> Response:
    index = context.epochs
    cid, data = index.bundle_bytes(index.epoch(epoch))
    return Response(
        bundle_car(data),
        media_type=CAR_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{cid}.car"'},
    )
