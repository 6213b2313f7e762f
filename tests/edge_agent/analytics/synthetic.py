"""Synthetic detections for the pure analytics tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class FakeDetections:
    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int64]


def detections(*items: tuple[tuple[float, float, float, float], float, int]) -> FakeDetections:
    """Build detections from ``(box, score, class_id)`` triples."""
    return FakeDetections(
        boxes=np.array([b for b, _, _ in items], dtype=np.float32).reshape(-1, 4),
        scores=np.array([s for _, s, _ in items], dtype=np.float32),
        class_ids=np.array([c for _, _, c in items], dtype=np.int64),
    )


def box_at(cx: float, bottom: float, w: float = 40.0, h: float = 100.0) -> tuple[float, ...]:
    """A box whose bottom-centre point is ``(cx, bottom)``."""
    return (cx - w / 2, bottom - h, cx + w / 2, bottom)
