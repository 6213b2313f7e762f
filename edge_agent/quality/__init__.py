"""Sensor data quality: a per-interval fault score from an ONNX model plus physical rules."""

from __future__ import annotations

from edge_agent.quality.features import (
    FEATURE_NAMES,
    MetricLimits,
    batch_features,
    limits_for,
    window_features,
)
from edge_agent.quality.flags import FlagChange, SensorFaultFlags, SensorFlag
from edge_agent.quality.scorer import QualityResult, QualityScorer

__all__ = [
    "FEATURE_NAMES",
    "FlagChange",
    "MetricLimits",
    "QualityResult",
    "QualityScorer",
    "SensorFaultFlags",
    "SensorFlag",
    "batch_features",
    "limits_for",
    "window_features",
]
