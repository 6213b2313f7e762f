"""Shadow-mode agreement: what a device says, in its heartbeat, about a candidate model.

A candidate model runs beside the active one on a sample of frames, and the device
reports only numbers: how many detections each model made and how many of them match,
per class; how many crossings each counted on each line, by direction; how long each
took per frame. No image, crop or box leaves the device. The heartbeat carries this
under :data:`SHADOW_KEY`; devices and aggregator read it with the same model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SHADOW_KEY = "shadow"

Count = int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClassAgreement(_Strict):
    """Detections of one class by each model, and how many of them matched."""

    active: Count = Field(ge=0)
    candidate: Count = Field(ge=0)
    matched: Count = Field(ge=0)


class DirectionCounts(_Strict):
    """Crossings of one line in one direction, counted from each model's detections."""

    active: Count = Field(ge=0)
    candidate: Count = Field(ge=0)


class LineAgreement(_Strict):
    """One counting line (``camera/line``), both directions."""

    in_: DirectionCounts = Field(alias="in")
    out: DirectionCounts

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Latency(_Strict):
    """Milliseconds per frame over the sampled frames (None before the first)."""

    active_mean: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    candidate_mean: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    candidate_p95: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class ShadowStats(_Strict):
    """A device's agreement figures for its candidate since it was installed (or since the
    active model last changed)."""

    candidate: str = Field(min_length=1, max_length=128, description="Candidate model id.")
    candidate_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    active: str = Field(max_length=128, description="Active model id it is compared with.")
    since: float = Field(allow_inf_nan=False, description="Unix time the figures start.")
    frames: Count = Field(ge=0, description="Frames both models ran on.")
    frames_skipped: Count = Field(
        ge=0, description="Sampled frames the candidate could not keep up with."
    )
    windows: Count = Field(ge=0, description="Sampling windows started.")
    match_iou: float = Field(gt=0, le=1, description="IoU at which two detections match.")
    classes: dict[str, ClassAgreement] = Field(default_factory=dict, max_length=128)
    lines: dict[str, LineAgreement] = Field(default_factory=dict, max_length=256)
    latency_ms: Latency = Field(default_factory=Latency)

    def totals(self) -> ClassAgreement:
        """All classes together."""
        return ClassAgreement(
            active=sum(c.active for c in self.classes.values()),
            candidate=sum(c.candidate for c in self.classes.values()),
            matched=sum(c.matched for c in self.classes.values()),
        )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def agreement(matched: int, active: int, candidate: int) -> float | None:
    """Share of detections the two models agree on (F1 of the matches); None if none."""
    total = active + candidate
    return None if total == 0 else 2.0 * matched / total


def parse_shadow(health: Any) -> ShadowStats | None:
    """The shadow figures of a heartbeat document; None when absent or malformed."""
    if not isinstance(health, dict):
        return None
    section = health.get(SHADOW_KEY)
    if not isinstance(section, dict):
        return None
    try:
        return ShadowStats.model_validate(section)
    except ValidationError:
        return None
