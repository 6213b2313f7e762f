"""Detections of two models on one frame, matched one to one within each class."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge_agent.analytics.geometry import iou_matrix
from edge_agent.detectors.types import Detections


def matched_by_class(active: Detections, candidate: Detections, min_iou: float) -> Counter[int]:
    """How many detections of each class match (IoU >= ``min_iou``), one to one.

    Each class is an assignment problem over IoU, so a crowd is not matched greedily
    box by box and one box never counts for two.
    """
    matched: Counter[int] = Counter()
    classes = set(active.class_ids.tolist()) & set(candidate.class_ids.tolist())
    for class_id in classes:
        a = active.boxes[active.class_ids == class_id]
        c = candidate.boxes[candidate.class_ids == class_id]
        iou = iou_matrix(a, c)
        rows, cols = linear_sum_assignment(-iou)
        matched[int(class_id)] = int(np.count_nonzero(iou[rows, cols] >= min_iou))
    return matched


def by_class(detections: Detections) -> Counter[int]:
    return Counter(int(c) for c in detections.class_ids.tolist())
