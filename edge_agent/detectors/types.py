"""Common output type of every detector, and the class vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge_agent.errors import AgentValueError

COCO_CLASSES: tuple[str, ...] = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)

TRAFFIC_CLASSES: tuple[str, ...] = ("person", "bicycle", "car", "motorcycle", "bus", "truck")

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Detections:
    """Detections of one frame.

    ``boxes`` is ``(N, 4)`` float32 ``x1, y1, x2, y2`` in source-frame pixels,
    ``scores`` ``(N,)`` float32, ``class_ids`` ``(N,)`` int64 COCO-80 indices (0-based).
    """

    boxes: FloatArray
    scores: FloatArray
    class_ids: IntArray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @staticmethod
    def empty() -> Detections:
        """No detections."""
        return Detections(
            boxes=np.zeros((0, 4), dtype=np.float32),
            scores=np.zeros((0,), dtype=np.float32),
            class_ids=np.zeros((0,), dtype=np.int64),
        )

    def class_names(self) -> tuple[str, ...]:
        """COCO name of each detection, in order."""
        return tuple(COCO_CLASSES[int(i)] for i in self.class_ids)


class Detector(Protocol):
    """What every detector plugin offers."""

    model_id: str
    sha256: str

    def detect(self, frame_bgr: npt.NDArray[np.uint8]) -> Detections:
        """Detect objects in one BGR ``(H, W, 3)`` uint8 frame."""
        ...


def class_ids_for(names: tuple[str, ...] | list[str]) -> IntArray:
    """COCO indices of the given class names; an unknown name raises ``AgentValueError``."""
    ids = []
    for name in names:
        try:
            ids.append(COCO_CLASSES.index(name))
        except ValueError as exc:
            raise AgentValueError(f"unknown COCO class {name!r}") from exc
    return np.asarray(ids, dtype=np.int64)
