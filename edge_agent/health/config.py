"""Config of the health heartbeat and the local Prometheus endpoint."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fieldproof.config import ConfigModel


class HealthConfig(ConfigModel):
    """How often health is published and where metrics are served."""

    interval_s: float = Field(default=30.0, gt=0.0, description="Heartbeat period.")
    metrics_bind: str = Field(
        default="127.0.0.1", description="Address of the /metrics endpoint (loopback only)."
    )
    metrics_port: int = Field(
        default=9108, ge=0, le=65535, description="Port of /metrics; 0 turns it off."
    )
    sysfs_root: Path = Field(
        default=Path("/"), description="Root for /sys and /proc readers (tests use a fake tree)."
    )
    disk_path: Path = Field(default=Path("."), description="Filesystem whose use is reported.")
    sensor_stale_intervals: int = Field(
        default=3,
        ge=1,
        description="A sensor that yields no sample for this many report intervals is "
        "flagged stale in health and /metrics (fieldproof_sensor_stale) and logged.",
    )
    sensor_fault_after_s: float = Field(
        default=6 * 3600.0,
        ge=0.0,
        description="A sensor whose quality windows stay faulty this long is flagged in "
        "health and /metrics (fieldproof_sensor_fault) and logged; a clean window clears it.",
    )
