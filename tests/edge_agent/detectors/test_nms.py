"""Properties of the numpy NMS against a plain greedy reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.detectors.nms import batched_nms, nms


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _reference(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, thr: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    for i in order:
        if all(classes[k] != classes[i] or _iou(boxes[k], boxes[i]) <= thr for k in kept):
            kept.append(i)
    return kept


@st.composite
def detections(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=0, max_value=40))
    seed = draw(st.integers(min_value=0, max_value=2**31 - 1))
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 200, size=(n, 2))
    wh = rng.uniform(1, 80, size=(n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    # Distinct scores keep the greedy order unambiguous.
    scores = rng.permutation(np.linspace(0.05, 0.95, n)).astype(np.float32)
    classes = rng.integers(0, 3, size=n).astype(np.int64)
    return boxes, scores, classes


@settings(max_examples=150, deadline=None)
@given(detections(), st.sampled_from([0.3, 0.5, 0.7]))
def test_batched_nms_equals_greedy_reference(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], thr: float
) -> None:
    boxes, scores, classes = data
    got = batched_nms(boxes, scores, classes, thr)
    assert got.tolist() == _reference(boxes, scores, classes, thr)


@settings(max_examples=100, deadline=None)
@given(detections())
def test_kept_boxes_do_not_overlap_and_are_sorted(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    boxes, scores, _ = data
    keep = nms(boxes, scores, 0.5)
    assert np.all(np.diff(scores[keep]) <= 0)
    for a in range(len(keep)):
        for b in range(a + 1, len(keep)):
            assert _iou(boxes[keep[a]], boxes[keep[b]]) <= 0.5 + 1e-6


def test_max_output_and_empty() -> None:
    boxes = np.asarray([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], np.float32)
    scores = np.asarray([0.9, 0.8, 0.7], np.float32)
    assert nms(boxes, scores, 0.5, max_output=2).tolist() == [0, 1]
    assert nms(boxes[:0], scores[:0], 0.5).shape == (0,)


def test_other_classes_are_not_suppressed() -> None:
    boxes = np.asarray([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    scores = np.asarray([0.9, 0.8], np.float32)
    assert batched_nms(boxes, scores, np.asarray([0, 0]), 0.5).tolist() == [0]
    assert batched_nms(boxes, scores, np.asarray([0, 2]), 0.5).tolist() == [0, 1]
