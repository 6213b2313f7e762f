"""Accuracy of detections, tracks and line counts against ground truth.

Detections and ground truth are matched one-to-one per frame by the optimal
assignment over IoU; a pair counts when its IoU is at least ``min_iou``.
Tracking metrics (MOTA, IDF1) come from ``motmetrics`` with the same IoU gate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from edge_agent.analytics.geometry import iou_matrix
from edge_agent.analytics.lines import Direction

BoxArray = npt.NDArray[np.float64]


def matched_pairs(truth: npt.ArrayLike, found: npt.ArrayLike, min_iou: float) -> int:
    """How many of ``found`` boxes match a ``truth`` box one-to-one at IoU ≥ ``min_iou``."""
    ious = iou_matrix(truth, found)
    if ious.size == 0:
        return 0
    rows, cols = linear_sum_assignment(-ious)
    return int(np.count_nonzero(ious[rows, cols] >= min_iou))


@dataclass(frozen=True, slots=True)
class DetectionScore:
    """Matched, spurious and missed boxes summed over frames."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        present = self.true_positives + self.false_negatives
        return self.true_positives / present if present else 1.0


def score_detections(
    frames: Iterable[tuple[npt.ArrayLike, npt.ArrayLike]], min_iou: float = 0.5
) -> DetectionScore:
    """``frames`` yields (truth boxes, detected boxes) per frame, x1,y1,x2,y2 rows."""
    tp = fp = fn = 0
    for truth, found in frames:
        n_truth = np.asarray(truth, dtype=np.float64).reshape(-1, 4).shape[0]
        n_found = np.asarray(found, dtype=np.float64).reshape(-1, 4).shape[0]
        hits = matched_pairs(truth, found, min_iou)
        tp += hits
        fp += n_found - hits
        fn += n_truth - hits
    return DetectionScore(tp, fp, fn)


@dataclass(frozen=True, slots=True)
class TrackFrame:
    """Ground-truth and tracker ids and boxes of one frame."""

    truth_ids: tuple[int, ...]
    truth_boxes: BoxArray
    track_ids: tuple[int, ...]
    track_boxes: BoxArray


def tracking_scores(frames: Iterable[TrackFrame], min_iou: float = 0.5) -> dict[str, float]:
    """MOTA and IDF1 over the frames (``motmetrics``; a pair needs IoU ≥ ``min_iou``)."""
    import motmetrics  # type: ignore[import-untyped]

    accumulator: Any = motmetrics.MOTAccumulator(auto_id=True)
    for frame in frames:
        # IoU distance with "do not pair" as NaN, as motmetrics.distances.iou_matrix
        # gives (computed here: that helper does not run on NumPy 2).
        distances = 1.0 - iou_matrix(frame.truth_boxes, frame.track_boxes)
        distances[distances > 1.0 - min_iou] = np.nan
        accumulator.update(list(frame.truth_ids), list(frame.track_ids), distances)
    summary = motmetrics.metrics.create().compute(accumulator, metrics=["mota", "idf1"], name="all")
    return {"mota": float(summary["mota"].iloc[0]), "idf1": float(summary["idf1"].iloc[0])}


def error_fraction(counted: int, true: int) -> float:
    """``|counted − true| / true``; with no true crossings, each spurious one is a whole 1."""
    return abs(counted - true) / max(true, 1)


@dataclass(frozen=True, slots=True)
class LineScore:
    """Counted against true crossings of one line."""

    true: Mapping[Direction, int]
    counted: Mapping[Direction, int]

    @property
    def total_error(self) -> float:
        return error_fraction(sum(self.counted.values()), sum(self.true.values()))

    @property
    def direction_error(self) -> float:
        """The worse of the two directions' errors."""
        return max(
            error_fraction(self.counted.get(d, 0), self.true.get(d, 0)) for d in ("in", "out")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "true": dict(self.true),
            "counted": dict(self.counted),
            "total_error": round(self.total_error, 4),
            "direction_error": round(self.direction_error, 4),
        }
