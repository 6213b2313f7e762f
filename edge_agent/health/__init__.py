"""Health of the device: perception stats, system readers, heartbeat, /metrics, watchdog."""

from __future__ import annotations

from edge_agent.health.config import HealthConfig
from edge_agent.health.stats import CameraHealth, PerceptionStats, StatsRegistry

__all__ = ["CameraHealth", "HealthConfig", "PerceptionStats", "StatsRegistry"]
