"""Sensor data quality: a per-interval fault score from an ONNX model plus physical rules."""

from __future__ import annotations

from edge_agent.quality.features import (
    FEATURE_NAMES,
    MetricLimits,
    limits_for,
    window_features,
)
from edge_agent.quality.scorer import QualityScorer

__all__ = ["FEATURE_NAMES", "MetricLimits", "QualityScorer", "limits_for", "window_features"]
