"""Config models of a camera: where it is, how to reconnect, motion gating, lines, zones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge_agent.analytics.config import LineConfig, TrackerConfig, ZoneConfig
from fieldproof.backoff import BackoffPolicy
from fieldproof.config import ConfigModel


class BackoffConfig(ConfigModel):
    """Delays between reconnect attempts: ``initial_s * factor**n`` capped at ``max_s``."""

    initial_s: float = Field(
        default=0.5, gt=0.0, allow_inf_nan=False, description="Delay after the first failure."
    )
    factor: float = Field(
        default=2.0, ge=1.0, allow_inf_nan=False, description="Growth per further failure."
    )
    max_s: float = Field(
        default=30.0, gt=0.0, allow_inf_nan=False, description="Cap on any one delay."
    )
    jitter: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Random share taken off each delay so many cameras don't retry in step.",
    )
    max_attempts: int | None = Field(
        default=None, ge=1, description="Give up after this many failed opens (None: never)."
    )

    @model_validator(mode="after")
    def _check_cap(self) -> BackoffConfig:
        if self.max_s < self.initial_s:
            raise ValueError("max_s must not be below initial_s")
        return self

    def policy(self) -> BackoffPolicy:
        """The backoff these settings describe."""
        return BackoffPolicy(self.initial_s, self.max_s, self.factor, self.jitter)


class MotionConfig(ConfigModel):
    """Frames with too little change skip the detector to save power."""

    enabled: bool = Field(default=True, description="Gate the detector on motion.")
    downscale: int = Field(default=4, ge=1, le=32, description="Compare frames shrunk by this.")
    pixel_threshold: int = Field(
        default=25, ge=1, le=255, description="Grey-level change that marks a pixel as moved."
    )
    min_changed: float = Field(
        default=0.002, ge=0.0, le=1.0, description="Share of moved pixels that wakes the detector."
    )
    refresh_s: float = Field(
        default=10.0,
        gt=0.0,
        description="Run the detector at least this often even on a still scene.",
    )


class TilingConfig(ConfigModel):
    """Far field: tiles over a region where objects are small, in one batched inference call."""

    enabled: bool = Field(default=False, description="Also run the detector on tiles of region.")
    region: tuple[float, float, float, float] | None = Field(
        default=None,
        description="x1, y1, x2, y2 in source pixels; where distant objects appear.",
    )
    columns: int = Field(default=2, ge=1, le=8, description="Tiles across the region.")
    rows: int = Field(default=1, ge=1, le=4, description="Tiles down the region.")
    overlap: float = Field(
        default=0.25,
        ge=0.0,
        le=0.5,
        description="Share of a tile its neighbour also covers; objects narrower than it "
        "are seen whole by one tile.",
    )
    full_frame: bool = Field(
        default=True, description="Run the whole frame in the same batch as the tiles."
    )
    edge_margin: float = Field(
        default=2.0,
        ge=0.0,
        description="Pixels: tile boxes this close to a tile edge inside the frame are "
        "partial views and dropped.",
    )

    @model_validator(mode="after")
    def _check_region(self) -> TilingConfig:
        if self.region is not None:
            x1, y1, x2, y2 = self.region
            if not (x2 > x1 >= 0 and y2 > y1 >= 0):
                raise ValueError(f"tiling region {self.region}: need 0 <= x1 < x2, 0 <= y1 < y2")
        if self.enabled and self.region is None:
            raise ValueError("tiling is enabled but has no region")
        return self


class BatchingConfig(ConfigModel):
    """Several cameras on one accelerator: inputs of cameras that enable it share calls."""

    enabled: bool = Field(
        default=False,
        description="Run this camera's frames in one inference call with the other cameras "
        "that enable batching (same model and max_wait_ms); tracking and counting stay "
        "per camera. With NanoDet-m it was slower than a session per camera on a 2-core "
        "CPU and on a 16-core GPU host (bench/README.md).",
    )
    max_wait_ms: float = Field(
        default=20.0,
        ge=0.0,
        le=1000.0,
        allow_inf_nan=False,
        description="Longest a frame waits for the other cameras' frames before its batch "
        "runs without them.",
    )


class CameraConfig(ConfigModel):
    """One camera: a file, an RTSP/HTTP URL, or a V4L2 device (``/dev/videoN`` or its index)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Record name prefix.")
    url: str | int = Field(description="File path, rtsp://, http(s)://, /dev/videoN or index.")
    share_frames: bool = Field(
        default=False,
        description="Allow frames of this camera to leave the device. Off: none ever do.",
    )
    redact_shared_frames: bool = Field(
        default=True,
        description="Frames that leave the device (share_frames) have persons and vehicles "
        "blurred; off: they are sent as captured.",
    )
    file_pacing: Literal["fast", "native"] = Field(
        default="fast",
        description="Files: read as fast as inference allows, or at the file's own frame rate.",
    )
    file_loop: bool = Field(
        default=False, description="Files: start over at the end (demos, soak tests)."
    )
    reconnect: BackoffConfig = Field(default_factory=BackoffConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    open_timeout_s: float = Field(default=10.0, gt=0.0, description="Stream open timeout.")
    read_timeout_s: float = Field(default=10.0, gt=0.0, description="Stream read timeout.")
    interval_s: float = Field(default=60.0, gt=0.0, description="Report interval length.")
    lines: tuple[LineConfig, ...] = Field(default=(), description="Counting lines.")
    zones: tuple[ZoneConfig, ...] = Field(default=(), description="Occupancy zones.")
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    tiling: TilingConfig = Field(
        default_factory=TilingConfig, description="Far-field tiles (off unless enabled)."
    )
    batching: BatchingConfig = Field(
        default_factory=BatchingConfig,
        description="Batched inference across cameras (off unless enabled).",
    )

    @model_validator(mode="after")
    def _check_names(self) -> CameraConfig:
        names = [line.name for line in self.lines] + [zone.name for zone in self.zones]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"camera {self.name}: line/zone names used twice: {duplicates}")
        return self
