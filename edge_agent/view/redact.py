"""Blurring persons and vehicles out of a frame before it is shown to another host."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.detectors.types import COCO_CLASSES, TRAFFIC_CLASSES

Box = tuple[float, float, float, float]

# Persons and every vehicle class of the vocabulary.
REDACTED_CLASSES: frozenset[str] = frozenset((*TRAFFIC_CLASSES, "train", "boat"))
REDACTED_IDS: frozenset[int] = frozenset(
    i for i, name in enumerate(COCO_CLASSES) if name in REDACTED_CLASSES
)
# Boxes grow by this share of their size on each side: detector boxes are often tight.
MARGIN = 0.15
# A blurred region keeps about this many blocks across its longer side.
BLOCKS = 6


def redact(image: npt.NDArray[np.uint8], boxes: Iterable[Box]) -> npt.NDArray[np.uint8]:
    """A copy of ``image`` with each box (source pixels) blurred beyond recognition."""
    out = image.copy()
    height, width = out.shape[:2]
    for x1, y1, x2, y2 in boxes:
        mx, my = (x2 - x1) * MARGIN, (y2 - y1) * MARGIN
        left, top = max(0, int(x1 - mx)), max(0, int(y1 - my))
        right, bottom = min(width, int(np.ceil(x2 + mx))), min(height, int(np.ceil(y2 + my)))
        if right - left < 1 or bottom - top < 1:
            continue
        region = out[top:bottom, left:right]
        w, h = right - left, bottom - top
        # Averaging down to a few blocks removes faces and plates; the smooth upscale
        # leaves a blob rather than a mosaic that still hints at shapes.
        scale = max(w, h) / BLOCKS
        small = cv2.resize(
            region,
            (max(1, round(w / scale)), max(1, round(h / scale))),
            interpolation=cv2.INTER_AREA,
        )
        out[top:bottom, left:right] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out
