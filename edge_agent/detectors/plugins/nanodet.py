"""NanoDet-m (COCO-80) detector: 416x416 BGR input, GFL integral box decoding."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge_agent.detectors.base import OnnxDetector
from edge_agent.detectors.candidates import Candidates, best_class, no_candidates
from edge_agent.detectors.plugin import DetectorConfigBase, DetectorPlugin, OutputLayout
from edge_agent.detectors.preprocess import Prepared, planar, stretch
from edge_agent.inference.errors import InferenceError

KEY = "nanodet"
DEFAULT_MODEL = "nanodet-m.onnx"
INPUT_SIZE = 416
STRIDES = (8, 16, 32)
REG_BINS = 11
MEAN = np.asarray([103.53, 116.28, 123.675], dtype=np.float32)
INV_STD = (1.0 / np.asarray([57.375, 57.12, 58.395], dtype=np.float32)).astype(np.float32)
DEFAULT_IOU = 0.6
OUTPUT_NAMES = ("cls_8", "box_8", "cls_16", "box_16", "cls_32", "box_32")


def _centres(stride: int, size: int) -> npt.NDArray[np.float32]:
    """``(H*W, 2)`` cell centres, row-major, as the GFL head lays them out."""
    cells = (size + stride - 1) // stride
    ys, xs = np.mgrid[0:cells, 0:cells]
    return (np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32) + 0.5) * stride


_CENTRES = {s: _centres(s, INPUT_SIZE) for s in STRIDES}
_BINS = np.arange(REG_BINS, dtype=np.float32)


def integral_distances(dist: npt.NDArray[np.float32], stride: int) -> npt.NDArray[np.float32]:
    """``(N, 44)`` bin logits → ``(N, 4)`` left/top/right/bottom distances in pixels."""
    logits = dist.reshape(-1, 4, REG_BINS)
    logits = logits - logits.max(axis=2, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=2, keepdims=True)
    distances: npt.NDArray[np.float32] = (weights @ _BINS).astype(np.float32)
    return distances * np.float32(stride)


def decode(outputs: Sequence[npt.NDArray[np.float32]], score_threshold: float) -> Candidates:
    """Outputs ``cls_8, box_8, cls_16, box_16, cls_32, box_32`` → boxes in input pixels.

    Each cell keeps its best class; cells at or below ``score_threshold`` are dropped
    before their boxes are decoded.
    """
    all_boxes, all_scores, all_ids = [], [], []
    for level, stride in enumerate(STRIDES):
        cls = outputs[2 * level].reshape(-1, outputs[2 * level].shape[-1])
        ids, scores, keep = best_class(cls, score_threshold)
        if keep.size == 0:
            continue
        dist = outputs[2 * level + 1].reshape(-1, 4 * REG_BINS)[keep]
        d = integral_distances(dist, stride)
        c = _CENTRES[stride][keep]
        boxes = np.concatenate([c - d[:, :2], c + d[:, 2:]], axis=1)
        all_boxes.append(np.clip(boxes, 0, INPUT_SIZE))
        all_scores.append(scores[keep])
        all_ids.append(ids[keep])
    if not all_boxes:
        return no_candidates()
    return (
        np.concatenate(all_boxes).astype(np.float32),
        np.concatenate(all_scores).astype(np.float32),
        np.concatenate(all_ids).astype(np.int64),
    )


class NanoDetDetector(OnnxDetector):
    """NanoDet-m COCO-80; the default detector."""

    key: Literal["nanodet"] = "nanodet"
    default_iou = DEFAULT_IOU

    def check_model(self, model_path: Path) -> None:
        if self.runner.output_names != OUTPUT_NAMES:
            raise InferenceError(
                f"{model_path} is not a NanoDet-m export: outputs "
                f"{self.runner.output_names}, expected {OUTPUT_NAMES}"
            )

    def prepare(self, frame_bgr: npt.NDArray[np.uint8]) -> Prepared:
        resized, transform = stretch(frame_bgr, INPUT_SIZE, INPUT_SIZE)
        return Prepared(tensor=planar(resized, MEAN, INV_STD), transform=transform)

    def decode_outputs(self, outputs: list[npt.NDArray[np.float32]]) -> Candidates:
        return decode(outputs, self.score_threshold)


class NanoDetConfig(DetectorConfigBase):
    type: Literal["nanodet"] = Field(description="NanoDet-m COCO-80 shipped in models/")
    model: str | None = Field(default=None, description="model path; default the shipped one")


def reads(outputs: OutputLayout) -> bool:
    """A NanoDet-m export names its six head outputs."""
    return tuple(name for name, _ in outputs) == OUTPUT_NAMES


PLUGIN = DetectorPlugin(
    key=KEY,
    config=NanoDetConfig,
    detector=NanoDetDetector,
    default_model=DEFAULT_MODEL,
    reads=reads,
)
