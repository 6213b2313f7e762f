"""``/v1/shadow``: shadow-mode candidates across the fleet, from the devices' heartbeats.

Each device running a candidate model in shadow mode reports, in its heartbeat, how far
the candidate agrees with its active model (see :mod:`fieldproof.protocol.shadow`); the
ledger keeps each device's latest heartbeat. This sums those figures per candidate, so
an operator can judge from the whole fleet whether to promote it or drop it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from aggregator.api.auth import researcher
from aggregator.api.context import Ctx
from aggregator.api.devices import parse_health
from aggregator.api.errors import NotFoundError, error_responses
from fieldproof.identity import device_id_hex
from fieldproof.protocol.shadow import ShadowStats, agreement, parse_shadow

router = APIRouter(
    prefix="/v1",
    tags=["shadow"],
    dependencies=[Depends(researcher)],
    responses=error_responses(),
)

Share = Annotated[float | None, Field(description="None when there is nothing to compare.")]


class Detections(BaseModel):
    active: int = Field(description="Detections by the active models.")
    candidate: int = Field(description="Detections by the candidate.")
    matched: int = Field(description="Pairs of one class at IoU >= the device's match_iou.")
    agreement: Share = Field(description="2 × matched / (active + candidate).")


class Direction(BaseModel):
    active: int = Field(description="Crossings counted from the active models' detections.")
    candidate: int = Field(description="Crossings counted from the candidate's.")
    abs_difference: int = Field(description="Sum over lines of |candidate − active|.")


class Lines(BaseModel):
    lines: int = Field(description="Counting lines compared.")
    in_: Direction = Field(alias="in")
    out: Direction
    relative_error: Share = Field(
        description="Sum over lines and directions of |candidate − active| / active crossings."
    )


class Latency(BaseModel):
    active_mean: float | None = Field(description="Frame-weighted mean ms per frame.")
    candidate_mean: float | None = Field(description="Frame-weighted mean ms per frame.")
    candidate_p95_max: float | None = Field(description="Highest device p95, ms.")


class DeviceShadow(BaseModel):
    device: str
    active: str = Field(description="The active model the device compares with.")
    since: float = Field(description="Unix time its figures start.")
    health_at: float | None = Field(description="When its latest heartbeat was taken.")
    frames: int
    frames_skipped: int
    agreement: Share
    line_abs_difference: int
    line_active: int
    candidate_mean_ms: float | None
    active_mean_ms: float | None


class CandidateSummary(BaseModel):
    candidate: str = Field(description="Candidate model id.")
    sha256: str = Field(description="Candidate model SHA-256 (what promote and drop name).")
    devices: int = Field(description="Devices running it.")
    active_models: list[str] = Field(description="Active models it is compared with.")
    frames: int
    frames_skipped: int
    detections: Detections
    classes: dict[str, Detections]
    lines: Lines
    latency_ms: Latency
    per_device: list[DeviceShadow]


class ShadowReport(BaseModel):
    devices_reporting: int = Field(description="Devices whose latest heartbeat has figures.")
    candidates: list[CandidateSummary]


def _detections(active: int, candidate: int, matched: int) -> Detections:
    return Detections(
        active=active,
        candidate=candidate,
        matched=matched,
        agreement=agreement(matched, active, candidate),
    )


def _weighted(pairs: list[tuple[float | None, int]]) -> float | None:
    present = [(value, n) for value, n in pairs if value is not None and n > 0]
    total = sum(n for _, n in present)
    return None if total == 0 else round(sum(v * n for v, n in present) / total, 3)


def _line_sums(stats: ShadowStats) -> tuple[int, int]:
    """Sum of |candidate − active| over lines and directions, and of active crossings."""
    difference = active = 0
    for line in stats.lines.values():
        for counts in (line.in_, line.out):
            difference += abs(counts.candidate - counts.active)
            active += counts.active
    return difference, active


def summarise(
    rows: list[tuple[str, float | None, ShadowStats]],
) -> list[CandidateSummary]:
    """Per-candidate sums of ``(device, health_at, figures)`` rows."""
    groups: dict[tuple[str, str], list[tuple[str, float | None, ShadowStats]]] = defaultdict(list)
    for row in rows:
        groups[(row[2].candidate_sha256, row[2].candidate)].append(row)
    summaries = []
    for (sha256, candidate), members in sorted(groups.items()):
        figures = [stats for _, _, stats in members]
        totals = [stats.totals() for stats in figures]
        classes: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for stats in figures:
            for name, c in stats.classes.items():
                sums = classes[name]
                sums[0] += c.active
                sums[1] += c.candidate
                sums[2] += c.matched
        directions = {d: [0, 0, 0] for d in ("in", "out")}
        names: set[str] = set()
        for stats in figures:
            for name, line in stats.lines.items():
                names.add(name)
                for d, counts in (("in", line.in_), ("out", line.out)):
                    directions[d][0] += counts.active
                    directions[d][1] += counts.candidate
                    directions[d][2] += abs(counts.candidate - counts.active)
        active_crossings = directions["in"][0] + directions["out"][0]
        abs_difference = directions["in"][2] + directions["out"][2]
        per_device = []
        for device, health_at, stats in sorted(members, key=lambda m: m[0]):
            total = stats.totals()
            difference, active = _line_sums(stats)
            per_device.append(
                DeviceShadow(
                    device=device,
                    active=stats.active,
                    since=stats.since,
                    health_at=health_at,
                    frames=stats.frames,
                    frames_skipped=stats.frames_skipped,
                    agreement=agreement(total.matched, total.active, total.candidate),
                    line_abs_difference=difference,
                    line_active=active,
                    candidate_mean_ms=stats.latency_ms.candidate_mean,
                    active_mean_ms=stats.latency_ms.active_mean,
                )
            )
        p95s = [
            s.latency_ms.candidate_p95 for s in figures if s.latency_ms.candidate_p95 is not None
        ]
        summaries.append(
            CandidateSummary(
                candidate=candidate,
                sha256=sha256,
                devices=len(members),
                active_models=sorted({s.active for s in figures}),
                frames=sum(s.frames for s in figures),
                frames_skipped=sum(s.frames_skipped for s in figures),
                detections=_detections(
                    sum(t.active for t in totals),
                    sum(t.candidate for t in totals),
                    sum(t.matched for t in totals),
                ),
                classes={name: _detections(*sums) for name, sums in sorted(classes.items())},
                lines=Lines.model_validate(
                    {
                        "lines": len(names),
                        "in": Direction(
                            active=directions["in"][0],
                            candidate=directions["in"][1],
                            abs_difference=directions["in"][2],
                        ),
                        "out": Direction(
                            active=directions["out"][0],
                            candidate=directions["out"][1],
                            abs_difference=directions["out"][2],
                        ),
                        "relative_error": None
                        if active_crossings == 0
                        else round(abs_difference / active_crossings, 4),
                    }
                ),
                latency_ms=Latency(
                    active_mean=_weighted([(s.latency_ms.active_mean, s.frames) for s in figures]),
                    candidate_mean=_weighted(
                        [(s.latency_ms.candidate_mean, s.frames) for s in figures]
                    ),
                    candidate_p95_max=max(p95s) if p95s else None,
                ),
                per_device=per_device,
            )
        )
    return summaries


@router.get(
    "/shadow",
    summary="Shadow-mode candidates across the fleet: agreement with the active models",
    description="Sums the shadow-mode figures of each device's latest heartbeat per "
    "candidate model: detections matched per class, line crossings counted from each "
    "model's detections, and time per frame. Only numbers come from the devices; no "
    "image leaves them for this.",
    response_model=ShadowReport,
    response_model_by_alias=True,
    responses=error_responses(404),
)
def shadow_report(
    *,
    candidate: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9a-f]{64}$",
            description="Only this candidate (its SHA-256, lower-case hex); 404 when no "
            "device runs it.",
        ),
    ] = None,
    context: Ctx,
) -> ShadowReport:
    rows = []
    for status in context.sources.ledger.devices():
        stats = parse_shadow(parse_health(status.health))
        if stats is not None:
            rows.append((device_id_hex(status.device_id), status.health_at, stats))
    summaries = summarise(rows)
    if candidate is not None:
        summaries = [s for s in summaries if s.sha256 == candidate]
        if not summaries:
            raise NotFoundError(f"no device runs candidate {candidate} in shadow mode")
    return ShadowReport(devices_reporting=len(rows), candidates=summaries)
