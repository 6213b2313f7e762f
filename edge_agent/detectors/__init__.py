"""Object detectors as plugins; every one returns :class:`Detections` in source pixels.

``create_detector("nanodet")`` builds the default NanoDet-m model from ``models/``;
``create_detector("yolo:/path/model.onnx")`` any Ultralytics export; a bare model
path is matched to its plugin by manifest entry or output layout. Each plugin is one
module of ``plugins/``.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge_agent.detectors.base import OnnxDetector
from edge_agent.detectors.config import DetectorConfig
from edge_agent.detectors.nms import batched_nms, nms
from edge_agent.detectors.plugin import DetectorConfigBase, DetectorPlugin
from edge_agent.detectors.preprocess import FrameTransform, Prepared
from edge_agent.detectors.registry import (
    DEFAULT_DETECTOR,
    PLUGINS,
    build,
    build_from_config,
    default_config,
)
from edge_agent.detectors.stream import detect_stream
from edge_agent.detectors.types import (
    COCO_CLASSES,
    TRAFFIC_CLASSES,
    Detections,
    Detector,
    class_ids_for,
)

__all__ = [
    "COCO_CLASSES",
    "DEFAULT_DETECTOR",
    "PLUGINS",
    "TRAFFIC_CLASSES",
    "Detections",
    "Detector",
    "DetectorConfig",
    "DetectorConfigBase",
    "DetectorPlugin",
    "FrameTransform",
    "OnnxDetector",
    "Prepared",
    "batched_nms",
    "class_ids_for",
    "create_detector",
    "create_detector_from_config",
    "default_config",
    "detect_stream",
    "nms",
]


def create_detector(
    name_or_path: str,
    *,
    providers: Sequence[str] | None = None,
    score_threshold: float = 0.35,
    classes: Sequence[str] | None = TRAFFIC_CLASSES,
    iou_threshold: float | None = None,
    fp16: bool = False,
) -> OnnxDetector:
    """Build a detector: registry key (``nanodet``), ``KEY:PATH`` or a model path.

    ``classes=None`` keeps all 80 COCO classes.
    """
    return build(
        name_or_path,
        providers=providers,
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
        classes=classes,
        fp16=fp16,
    )


def create_detector_from_config(config: DetectorConfigBase) -> OnnxDetector:
    """Build the detector a validated config section describes."""
    return build_from_config(config)
