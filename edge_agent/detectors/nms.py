"""Vectorised non-maximum suppression in numpy (torchvision semantics)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# Class-aware NMS shifts each class's boxes by class_id * MAX_WH so boxes of different
# classes never overlap; the same constant Ultralytics uses, so results match it.
MAX_WH = 7680.0


def nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    iou_threshold: float,
    max_output: int | None = None,
) -> npt.NDArray[np.int64]:
    """Indices of kept boxes, highest score first.

    A box is suppressed when its IoU with a kept, higher-scoring box is strictly
    greater than ``iou_threshold`` (as ``torchvision.ops.nms``).
    """
    if boxes.shape[0] == 0:
        return np.zeros((0,), dtype=np.int64)
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if max_output is not None and len(keep) >= max_output:
            break
        rest = order[1:]
        width = np.clip(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0, None)
        height = np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0, None)
        inter = width * height
        iou = inter / (areas[best] + areas[rest] - inter)
        order = rest[~(iou > iou_threshold)]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    class_ids: npt.NDArray[np.int64],
    iou_threshold: float,
    max_output: int | None = None,
) -> npt.NDArray[np.int64]:
    """Class-aware NMS: boxes only suppress boxes of their own class."""
    if boxes.shape[0] == 0:
        return np.zeros((0,), dtype=np.int64)
    offsets = (class_ids.astype(np.float32) * np.float32(MAX_WH))[:, None]
    return nms(boxes + offsets, scores, iou_threshold, max_output)
