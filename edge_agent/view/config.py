"""Config of the local view."""

from __future__ import annotations

from pydantic import Field

from fieldproof.config import ConfigModel


class ViewConfig(ConfigModel):
    """Where the view is served; frames for other hosts follow each camera's share_frames."""

    enabled: bool = Field(default=False, description="Serve the local view from `agent run`.")
    bind: str = Field(
        default="127.0.0.1",
        description="Address to listen on. Other hosts than the loopback get a camera's "
        "frames only where it has share_frames (redacted unless redact_shared_frames is "
        "off), and may not change lines.",
    )
    port: int = Field(default=9110, ge=0, le=65535, description="Port; 0 picks a free one.")
    jpeg_quality: int = Field(default=80, ge=10, le=100, description="JPEG quality of frames.")
    frames_per_s: float = Field(
        default=5.0,
        gt=0.0,
        le=30.0,
        description="Most frames per second kept per camera for the view, while it is watched.",
    )
