"""Shared plumbing of ONNX detectors: the runner, thresholds and the class filter.

Detection is split in three stages (``prepare`` → ``infer`` → ``finish``) so a
pipeline can prepare the next frame while ONNX Runtime, which releases the GIL,
runs the current one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge_agent.detectors.nms import batched_nms
from edge_agent.detectors.preprocess import Prepared
from edge_agent.detectors.types import COCO_CLASSES, Detections, class_ids_for
from edge_agent.inference.runner import OnnxRunner


class OnnxDetector(ABC):
    """Base of detectors that run one ONNX model."""

    def __init__(
        self,
        model_path: Path,
        *,
        providers: Sequence[str] | None = None,
        score_threshold: float,
        iou_threshold: float,
        classes: Sequence[str] | None,
        max_detections: int = 300,
        expected_sha256: str | None = None,
        fp16: bool = False,
    ) -> None:
        self.runner = OnnxRunner(
            model_path, providers=providers, expected_sha256=expected_sha256, fp16=fp16
        )
        self.model_id: str = self.runner.model_id
        self.sha256: str = self.runner.sha256
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.max_detections = max_detections
        self.classes: tuple[str, ...] = tuple(classes) if classes is not None else COCO_CLASSES
        self.class_ids = class_ids_for(list(self.classes))
        self._class_mask = np.zeros(len(COCO_CLASSES), dtype=bool)
        self._class_mask[self.class_ids] = True

    @abstractmethod
    def prepare(self, frame_bgr: npt.NDArray[np.uint8]) -> Prepared:
        """Frame → model input."""

    def infer(self, prepared: Prepared) -> list[npt.NDArray[np.float32]]:
        """Run the model on a prepared input."""
        return self.runner.run(prepared.tensor)

    @abstractmethod
    def finish(self, outputs: list[npt.NDArray[np.float32]], prepared: Prepared) -> Detections:
        """Raw outputs → detections in source-frame pixels."""

    def detect(self, frame_bgr: npt.NDArray[np.uint8]) -> Detections:
        prepared = self.prepare(frame_bgr)
        return self.finish(self.infer(prepared), prepared)

    def select(
        self,
        boxes: npt.NDArray[np.float32],
        scores: npt.NDArray[np.float32],
        class_ids: npt.NDArray[np.int64],
        prepared: Prepared,
    ) -> Detections:
        """Keep allowed classes, run class-aware NMS, map boxes to the source frame."""
        allowed = self._class_mask[np.clip(class_ids, 0, len(COCO_CLASSES) - 1)] & (
            class_ids < len(COCO_CLASSES)
        )
        boxes, scores, class_ids = boxes[allowed], scores[allowed], class_ids[allowed]
        keep = batched_nms(boxes, scores, class_ids, self.iou_threshold, self.max_detections)
        return Detections(
            boxes=prepared.transform.to_source(boxes[keep]),
            scores=scores[keep].astype(np.float32),
            class_ids=class_ids[keep].astype(np.int64),
        )
