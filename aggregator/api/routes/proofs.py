"""Reports, their proofs and verification; epochs and owners' rewards."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from eth_utils.address import is_address, to_checksum_address
from fastapi import APIRouter, Body, Depends, Path, Query

from aggregator.api.auth import researcher
from aggregator.api.context import ApiContext, Ctx, paged
from aggregator.api.devices import record_json
from aggregator.api.epochs import epoch_json
from aggregator.api.errors import NotFoundError, ParameterError, error_responses
from aggregator.api.params import ADDRESS_PATTERN, MAX_INT, parse_device
from aggregator.api.routes.devices import DevicePath, Limit, Offset
from aggregator.ledger.models import StoredReport
from fieldproof.errors import FieldproofError
from fieldproof.identity import device_id_hex
from fieldproof.verify import ReportProof, Step, all_ok, verify
from fieldproof.wire import MAX_REPORT_SIZE, decode_report

router = APIRouter(
    prefix="/v1",
    tags=["proofs"],
    dependencies=[Depends(researcher)],
    responses=error_responses(),
)

SeqPath = Annotated[int, Path(ge=0, le=MAX_INT, description="The report's sequence number.")]


def _stored(context: ApiContext, device: str, seq: int) -> StoredReport:
    device_id = parse_device(device)
    if seq < 0:
        raise ParameterError("seq", "must not be negative")
    stored = context.sources.ledger.report(device_id, seq)
    if stored is None:
        raise NotFoundError(f"no report {device_id_hex(device_id)} seq {seq}")
    return stored


@router.get(
    "/reports/{device}/{seq}",
    summary="A stored report: raw COSE and decoded",
    responses=error_responses(400, 404),
)
def get_report(*, device: DevicePath, seq: SeqPath, context: Ctx) -> dict[str, Any]:
    stored = _stored(context, device, seq)
    signed = decode_report(stored.raw)
    report = signed.report
    return {
        "device": device_id_hex(stored.device_id),
        "seq": stored.seq,
        "received_at": stored.received_at,
        "cose": base64.b64encode(stored.raw).decode("ascii"),
        "decoded": {
            "version": report.version,
            "device": device_id_hex(report.device_id),
            "seq": report.seq,
            "start": report.start,
            "end": report.end,
            "model": None
            if report.model is None
            else {
                "id": report.model.model_id,
                "sha256_prefix": report.model.sha256_prefix.hex(),
            },
            "kid": "0x" + signed.kid.hex(),
            "signature": "0x" + signed.signature.hex(),
            "records": [record_json(r) for r in report.records],
        },
    }


@router.get(
    "/proofs/{device}/{seq}",
    summary="A report's Merkle proof and its anchor",
    responses=error_responses(400, 404, 503),
)
def get_proof(*, device: DevicePath, seq: SeqPath, context: Ctx) -> dict[str, Any]:
    stored = _stored(context, device, seq)
    record, proof = context.epochs.proof(stored.device_id, stored.seq, stored.received_at)
    return {
        **proof.to_json(),
        "status": record.status.value,
        "anchor_tx": record.anchor_tx,
        "cid": record.cid,
    }


def _steps(steps: list[Step], epoch: int | None) -> dict[str, Any]:
    return {
        "ok": all_ok(steps),
        "epoch": epoch,
        "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in steps],
    }


@router.get(
    "/verify/{device}/{seq}",
    summary="Run fieldproof verify on a stored report",
    responses=error_responses(400, 404, 503),
)
def verify_stored(*, device: DevicePath, seq: SeqPath, context: Ctx) -> dict[str, Any]:
    stored = _stored(context, device, seq)
    _, proof = context.epochs.proof(stored.device_id, stored.seq, stored.received_at)
    return _steps(verify(stored.raw, proof, context.chain), proof.epoch)


@router.post(
    "/verify",
    summary="Verify a report and proof you hold (e.g. a modified copy)",
    responses=error_responses(400, 503),
)
def verify_given(
    *,
    report: Annotated[str, Body(description="The report's COSE bytes, base64.")],
    proof: Annotated[dict[str, Any], Body(description="The proof as /v1/proofs returns it.")],
    context: Ctx,
) -> dict[str, Any]:
    if len(report) > (MAX_REPORT_SIZE + 2) // 3 * 4:
        raise ParameterError("report", f"larger than a report may be ({MAX_REPORT_SIZE} bytes)")
    try:
        raw = base64.b64decode(report, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ParameterError("report", "not base64") from exc
    if not raw:
        raise ParameterError("report", "is empty")
    try:
        parsed = ReportProof.from_json(proof)
    except FieldproofError as exc:
        raise ParameterError("proof", str(exc)) from exc
    return _steps(verify(raw, parsed, context.chain), parsed.epoch)


@router.get(
    "/epochs",
    summary="Closed epochs: root, count, anchor transaction, bundle CID",
    responses=error_responses(400, 503),
)
def list_epochs(
    *,
    order: Literal["asc", "desc"] = Query("desc", description="asc or desc (by epoch)."),
    limit: Limit = None,
    offset: Offset = 0,
    context: Ctx,
) -> dict[str, Any]:
    size, skip = context.page(limit, offset)
    records = context.epochs.epochs()
    if order == "desc":
        records.reverse()
    return paged([epoch_json(r) for r in records], size, skip)


@router.get("/epochs/{epoch}", summary="One closed epoch", responses=error_responses(404, 503))
def get_epoch(
    *,
    epoch: Annotated[int, Path(ge=0, le=MAX_INT, description="The epoch's number.")],
    context: Ctx,
) -> dict[str, Any]:
    return epoch_json(context.epochs.epoch(epoch))


@router.get(
    "/rewards/{owner}",
    summary="An owner's rewards per epoch, claimed, and claim proof",
    responses=error_responses(400, 503),
)
def rewards(
    *,
    owner: Annotated[
        str, Path(pattern=ADDRESS_PATTERN, description="The owner's address (0x-hex).")
    ],
    limit: Limit = None,
    offset: Offset = 0,
    context: Ctx,
) -> dict[str, Any]:
    if not is_address(owner):
        raise ParameterError("owner", f"not an address: {owner!r}")
    size, skip = context.page(limit, offset)
    address = str(to_checksum_address(owner))
    found = context.epochs.rewards(address)
    claimed = None if context.sources.chain is None else context.sources.chain.claimed(address)
    lines = [
        {
            "epoch": line.epoch,
            "amount": str(line.amount),
            "cumulative": str(line.cumulative),
            "reward_tx": line.reward_tx,
        }
        for line in found.lines
    ]
    claim = found.claim
    return {
        "owner": address,
        "cumulative": str(found.cumulative),
        "claimed": None if claimed is None else str(claimed),
        "claimable": None
        if claimed is None or claim is None
        else str(max(0, claim.cumulative - claimed)),
        "claim": None
        if claim is None
        else {
            "epoch": claim.epoch,
            "root": "0x" + claim.root.hex(),
            "cumulative": str(claim.cumulative),
            "proof": list(claim.proof),
        },
        "epochs": paged(lines, size, skip),
    }


@router.get(
    "/rewards/{owner}/explain",
    summary="Why each of an owner's devices earned what it earned in an epoch, in words",
    description="Every factor (coverage, server-checked quality, neighbour consistency) and "
    "every flag with its reason, per device of the owner, from the epoch's published bundle. "
    "Without `epoch`, the latest epoch that published rewards. 404: no such epoch, no "
    "rewards published yet, or no device of the owner in the epoch.",
    responses=error_responses(400, 404, 503),
)
def explain_rewards(
    *,
    owner: Annotated[
        str, Path(pattern=ADDRESS_PATTERN, description="The owner's address (0x-hex).")
    ],
    epoch: Annotated[
        int | None, Query(ge=0, le=MAX_INT, description="The epoch (default: the latest).")
    ] = None,
    context: Ctx,
) -> dict[str, Any]:
    from fieldproof.rewards.explain import explain_owner

    if not is_address(owner):
        raise ParameterError("owner", f"not an address: {owner!r}")
    digits = owner[2:] if owner[:2] in ("0x", "0X") else owner
    # Mixed case is an EIP-55 checksum: a wrong one is a mistyped address, not an owner.
    if digits not in (digits.lower(), digits.upper()) and digits != to_checksum_address(owner)[2:]:
        raise ParameterError("owner", f"{owner} has a wrong EIP-55 checksum")
    if epoch is None:
        rewarded = [r for r in context.epochs.epochs() if r.cid is not None]
        if not rewarded:
            raise NotFoundError("no epoch has published rewards yet")
        record = rewarded[-1]
    else:
        record = context.epochs.epoch(epoch)
    _, dump = context.epochs.bundle(record)
    if dump is None:
        raise NotFoundError(f"epoch {record.epoch} records no rewards")
    explained = explain_owner(dump, owner)
    if not explained["devices"] and explained["amount"] == "0":
        raise NotFoundError(f"{explained['owner']} has no device in epoch {record.epoch}")
    return explained
