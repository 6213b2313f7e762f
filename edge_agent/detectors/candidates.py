"""Candidate boxes as the decoders hand them to class filtering and NMS."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Candidates = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64]]
"""x1,y1,x2,y2 boxes in input pixels, their scores and their COCO class ids."""


def best_class(
    class_scores: npt.NDArray[np.float32], score_threshold: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.intp]]:
    """``(N, C)`` scores → each row's best class id and score, and the rows above the threshold.

    Both detector heads keep one class per anchor before NMS, as Ultralytics'
    ``non_max_suppression`` does without ``multi_label``.
    """
    ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(class_scores.shape[0]), ids]
    return ids, scores, np.flatnonzero(scores > score_threshold)


def no_candidates() -> Candidates:
    """The empty result of a frame with nothing above the threshold."""
    return (
        np.zeros((0, 4), np.float32),
        np.zeros((0,), np.float32),
        np.zeros((0,), np.int64),
    )
