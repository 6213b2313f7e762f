"""Ultralytics YOLOv8/YOLO11 ONNX exports: output ``[1, 4+nc, N]`` (cx, cy, w, h, scores)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge_agent.detectors.base import OnnxDetector, class_mask_for, select_detections
from edge_agent.detectors.candidates import Candidates, best_class
from edge_agent.detectors.plugin import DetectorConfigBase, DetectorPlugin, OutputLayout
from edge_agent.detectors.preprocess import FrameTransform, Prepared, letterbox, planar
from edge_agent.detectors.types import Detections
from edge_agent.inference.errors import InferenceError

KEY = "yolo"
DEFAULT_IOU = 0.7
MAX_CANDIDATES = 30000
# Ultralytics' input: RGB scaled to 0–1, no mean.
_NO_MEAN = np.zeros(3, dtype=np.float32)
_UNIT_SCALE = np.full(3, 1.0 / 255.0, dtype=np.float32)


def decode(raw: npt.NDArray[np.float32], score_threshold: float) -> Candidates:
    """``[1, 4+nc, N]`` → candidate x1,y1,x2,y2 boxes (input pixels), scores, class ids.

    Each anchor keeps its best class; anchors whose best score is not above
    ``score_threshold`` are dropped; at most ``MAX_CANDIDATES`` highest remain
    (the order and limits of Ultralytics' ``non_max_suppression``).
    """
    pred = raw[0]
    ids, scores, keep = best_class(pred[4:].T, score_threshold)
    if keep.size > MAX_CANDIDATES:
        keep = keep[np.argsort(-scores[keep], kind="stable")[:MAX_CANDIDATES]]
    cx, cy, w, h = pred[0, keep], pred[1, keep], pred[2, keep], pred[3, keep]
    half_w, half_h = w / 2, h / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    return boxes.astype(np.float32), scores[keep].astype(np.float32), ids[keep].astype(np.int64)


def postprocess(
    raw: npt.NDArray[np.float32],
    transform: FrameTransform,
    *,
    score_threshold: float,
    iou_threshold: float = DEFAULT_IOU,
    class_mask: npt.NDArray[np.bool_] | None = None,
    max_detections: int = 300,
) -> Detections:
    """Raw ``[1, 4+nc, N]`` output → detections in source pixels (decode, filter, NMS)."""
    boxes, scores, ids = decode(raw, score_threshold)
    return select_detections(
        boxes,
        scores,
        ids,
        transform,
        iou_threshold=iou_threshold,
        class_mask=class_mask if class_mask is not None else class_mask_for(None),
        max_detections=max_detections,
    )


class YoloDetector(OnnxDetector):
    """Any Ultralytics YOLOv8/YOLO11 detection export (letterboxed RGB/255 input)."""

    key: Literal["yolo"] = "yolo"
    default_iou = DEFAULT_IOU

    def check_model(self, model_path: Path) -> None:
        shape = self.runner.input_shapes[0]
        if len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]):
            raise InferenceError(
                f"{model_path}: expected a fixed [1, 3, H, W] input, got {list(shape)}"
            )
        self.input_height, self.input_width = int(shape[2]), int(shape[3])
        self._input_type = self.runner.input_types[0]

    def prepare(self, frame_bgr: npt.NDArray[np.uint8]) -> Prepared:
        padded, transform = letterbox(frame_bgr, self.input_width, self.input_height)
        tensor = planar(padded, _NO_MEAN, _UNIT_SCALE, reverse_channels=True)  # BGR → RGB
        return Prepared(tensor=tensor.astype(self._input_type, copy=False), transform=transform)

    def decode_outputs(self, outputs: list[npt.NDArray[np.float32]]) -> Candidates:
        return decode(outputs[0].astype(np.float32, copy=False), self.score_threshold)


class YoloConfig(DetectorConfigBase):
    type: Literal["yolo"] = Field(description="an Ultralytics YOLOv8/YOLO11 ONNX export")
    model: str = Field(description="path to the exported .onnx file")


def reads(outputs: OutputLayout) -> bool:
    """An Ultralytics export has one ``[1, 4+nc, N]`` output."""
    return len(outputs) == 1 and len(outputs[0][1]) == 3


PLUGIN = DetectorPlugin(key=KEY, config=YoloConfig, detector=YoloDetector, reads=reads)
