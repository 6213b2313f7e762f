"""Shared plumbing of ONNX detectors: the runner, thresholds and the class filter.

Detection is split in three stages (``prepare`` → ``infer`` → ``finish``) so a
pipeline can prepare the next frame while ONNX Runtime, which releases the GIL,
runs the current one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from edge_agent.detectors.candidates import Candidates
from edge_agent.detectors.nms import batched_nms
from edge_agent.detectors.preprocess import FrameTransform, Prepared
from edge_agent.detectors.types import COCO_CLASSES, Detections, class_ids_for
from edge_agent.inference.runner import OnnxRunner


class OnnxDetector(ABC):
    """Base of detectors that run one ONNX model.

    A subclass declares its ``default_iou``, checks the loaded model in
    :meth:`check_model` and turns raw outputs into candidates in :meth:`decode_outputs`.
    """

    default_iou: ClassVar[float]

    def __init__(
        self,
        model_path: Path,
        *,
        providers: Sequence[str] | None = None,
        score_threshold: float = 0.35,
        iou_threshold: float | None = None,
        classes: Sequence[str] | None = None,
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
        self.iou_threshold = float(self.default_iou if iou_threshold is None else iou_threshold)
        self.max_detections = max_detections
        self.classes: tuple[str, ...] = tuple(classes) if classes is not None else COCO_CLASSES
        self._class_mask = class_mask_for(self.classes)
        self.check_model(model_path)

    @abstractmethod
    def check_model(self, model_path: Path) -> None:
        """Raise if the loaded model is not one this detector can read."""

    @abstractmethod
    def prepare(self, frame_bgr: npt.NDArray[np.uint8]) -> Prepared:
        """Frame → model input."""

    def infer(self, prepared: Prepared) -> list[npt.NDArray[np.float32]]:
        """Run the model on a prepared input."""
        return self.runner.run(prepared.tensor)

    @abstractmethod
    def decode_outputs(self, outputs: list[npt.NDArray[np.float32]]) -> Candidates:
        """Raw outputs → candidate boxes in input pixels above the score threshold."""

    def finish(self, outputs: list[npt.NDArray[np.float32]], prepared: Prepared) -> Detections:
        """Raw outputs → detections in source-frame pixels."""
        boxes, scores, class_ids = self.decode_outputs(outputs)
        return self.select(boxes, scores, class_ids, prepared)

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
        return select_detections(
            boxes,
            scores,
            class_ids,
            prepared.transform,
            iou_threshold=self.iou_threshold,
            class_mask=self._class_mask,
            max_detections=self.max_detections,
        )


def class_mask_for(classes: Sequence[str] | None) -> npt.NDArray[np.bool_]:
    """Boolean mask over COCO-80 ids; ``None`` allows every class."""
    if classes is None:
        return np.ones(len(COCO_CLASSES), dtype=bool)
    mask = np.zeros(len(COCO_CLASSES), dtype=bool)
    mask[class_ids_for(list(classes))] = True
    return mask


def select_detections(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    class_ids: npt.NDArray[np.int64],
    transform: FrameTransform,
    *,
    iou_threshold: float,
    class_mask: npt.NDArray[np.bool_],
    max_detections: int,
) -> Detections:
    """Class filter, class-aware NMS and mapping to source pixels, as a pure function."""
    in_range = class_ids < class_mask.shape[0]
    allowed = in_range & class_mask[np.where(in_range, class_ids, 0)]
    boxes, scores, class_ids = boxes[allowed], scores[allowed], class_ids[allowed]
    keep = batched_nms(boxes, scores, class_ids, iou_threshold, max_detections)
    return Detections(
        boxes=transform.to_source(boxes[keep]),
        scores=scores[keep].astype(np.float32),
        class_ids=class_ids[keep].astype(np.int64),
    )
