"""Config models of the analytics stage: tracker, counting lines, zones."""

from __future__ import annotations

from pydantic import Field, model_validator

from fieldproof.config import ConfigModel


class TrackerConfig(ConfigModel):
    """ByteTrack-style association thresholds."""

    high_score: float = Field(
        default=0.5, ge=0.0, le=1.0, description="First-stage detection score."
    )
    low_score: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Detections between this and high_score rescue tracks.",
    )
    new_track_score: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Unmatched detections at least this sure start tracks.",
    )
    match_iou: float = Field(default=0.2, ge=0.0, le=1.0, description="Min IoU, first stage.")
    low_match_iou: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Min IoU, low-score stage."
    )
    unconfirmed_match_iou: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Min IoU for a tentative track's second sighting."
    )
    lost_buffer: int = Field(
        default=30, ge=0, description="Processed frames a lost track is kept for re-identification."
    )
    min_hits: int = Field(
        default=2, ge=1, description="Matched frames before a track is confirmed."
    )
    appearance: bool = Field(
        default=False,
        description="Compare what boxes look like (colour histograms of each box's upper and "
        "lower half): a first-stage pair must look alike, and a lost track is re-linked to a "
        "new box that looks like it near where it was lost.",
    )
    match_similarity: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Least likeness (Bhattacharyya coefficient) of a first-stage pair.",
    )
    relink_speed: float = Field(
        default=0.15,
        ge=0.0,
        le=2.0,
        allow_inf_nan=False,
        description="Re-link gate: the track's heights per processed frame since it was last "
        "seen that its ground point may have moved; 0 turns re-linking off.",
    )
    relink_similarity: float = Field(
        default=0.75, ge=0.0, le=1.0, description="Least likeness of a re-linked pair."
    )
    relink_size_ratio: float = Field(
        default=1.5,
        ge=1.0,
        allow_inf_nan=False,
        description="Largest ratio of box heights re-linked.",
    )
    appearance_weight: float = Field(
        default=0.1,
        gt=0.0,
        le=1.0,
        description="Weight of each confident sighting in a track's running look.",
    )


class LineConfig(ConfigModel):
    """A directed counting segment; ``in`` is a crossing to its right as seen on screen."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Record name prefix.")
    start: tuple[float, float] = Field(description="First end point, source pixels.")
    end: tuple[float, float] = Field(description="Second end point, source pixels.")
    hysteresis: float = Field(
        default=4.0,
        ge=0.0,
        allow_inf_nan=False,
        description="Pixels a point must clear the line by to change side: a band of twice "
        "this width where box-bottom jitter and feet moving along the line count for neither "
        "side.",
    )
    confirm_frames: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Processed frames in a row a track must stay beyond the band on the new "
        "side before its crossing counts; a track that steps over and back sooner is not "
        "counted.",
    )

    @model_validator(mode="after")
    def _check_length(self) -> LineConfig:
        if self.start == self.end:
            raise ValueError(f"line {self.name}: start and end are the same point")
        return self


class ZoneConfig(ConfigModel):
    """A polygon whose occupancy (tracked objects inside) is reported."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Record name prefix.")
    polygon: tuple[tuple[float, float], ...] = Field(
        min_length=3, description="Vertices in source pixels."
    )
