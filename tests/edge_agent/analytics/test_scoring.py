"""Accuracy maths: detection matching, MOTA/IDF1 and line-count errors on hand-made data."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.analytics.scoring import (
    LineScore,
    TrackFrame,
    error_fraction,
    matched_pairs,
    score_detections,
    tracking_scores,
)

A = (0.0, 0.0, 10.0, 10.0)
B = (100.0, 0.0, 110.0, 10.0)


def boxes(*items: tuple[float, float, float, float]) -> np.ndarray:
    return np.array(items, dtype=np.float64).reshape(-1, 4)


def test_matching_is_one_to_one_at_the_iou_gate() -> None:
    # Two detections on one true box: one match, the other is a false positive.
    assert matched_pairs(boxes(A), boxes(A, (0.0, 0.0, 10.0, 11.0)), 0.5) == 1
    # IoU of 0.5 exactly counts; just below does not.
    assert matched_pairs(boxes(A), boxes((0.0, 0.0, 10.0, 20.0)), 0.5) == 1
    assert matched_pairs(boxes(A), boxes((0.0, 0.0, 10.0, 20.5)), 0.5) == 0
    assert matched_pairs(boxes(), boxes(A), 0.5) == 0


def test_precision_and_recall_over_frames() -> None:
    score = score_detections(
        [
            (boxes(A, B), boxes(A)),  # one hit, one miss
            (boxes(A), boxes(A, B)),  # one hit, one false positive
            (boxes(), boxes()),
        ]
    )
    assert (score.true_positives, score.false_positives, score.false_negatives) == (2, 1, 1)
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == pytest.approx(2 / 3)


def frame(truth: dict[int, tuple[float, ...]], tracks: dict[int, tuple[float, ...]]) -> TrackFrame:
    return TrackFrame(
        truth_ids=tuple(truth),
        truth_boxes=boxes(*truth.values()),  # type: ignore[arg-type]
        track_ids=tuple(tracks),
        track_boxes=boxes(*tracks.values()),  # type: ignore[arg-type]
    )


def test_perfect_tracks_score_one() -> None:
    frames = [frame({1: A, 2: B}, {7: A, 8: B}) for _ in range(5)]
    assert tracking_scores(frames) == {"mota": pytest.approx(1.0), "idf1": pytest.approx(1.0)}


def test_misses_switches_and_false_positives_lower_mota() -> None:
    frames = [
        frame({1: A}, {7: A}),
        frame({1: A}, {}),  # miss
        frame({1: A}, {8: A}),  # identity switch
        frame({1: A}, {8: A, 9: B}),  # false positive
    ]
    scores = tracking_scores(frames)
    # MOTA = 1 - (FN + FP + IDSW) / GT = 1 - (1 + 1 + 1) / 4.
    assert scores["mota"] == pytest.approx(0.25)
    # IDF1 = 2 IDTP / (GT + predictions): id 1 best matches 8 for two frames.
    assert scores["idf1"] == pytest.approx(2 * 2 / (4 + 4))


def test_line_errors_are_fractions_of_the_true_count() -> None:
    score = LineScore(true={"in": 10, "out": 10}, counted={"in": 9, "out": 12})
    assert score.total_error == pytest.approx(1 / 20)
    assert score.direction_error == pytest.approx(0.2)
    assert score.as_dict()["counted"] == {"in": 9, "out": 12}
    assert error_fraction(0, 0) == 0.0
    assert error_fraction(2, 0) == 2.0
