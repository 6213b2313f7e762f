from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.analytics.config import TrackerConfig
from edge_agent.analytics.geometry import iou_matrix
from edge_agent.analytics.tracker import ByteTracker
from tests.edge_agent.analytics.synthetic import box_at, detections

PERSON, CAR, TRUCK = 0, 2, 7


def test_iou_matrix_known_values() -> None:
    a = [(0, 0, 10, 10)]
    b = [(0, 0, 10, 10), (5, 0, 15, 10), (20, 20, 30, 30)]
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_two_objects_keep_their_ids_while_passing() -> None:
    tracker = ByteTracker()
    seen: dict[int, list[float]] = {}
    for step in range(30):
        left = box_at(100 + 8 * step, 300)
        right = box_at(500 - 8 * step, 420)
        for track in tracker.update(detections((left, 0.9, PERSON), (right, 0.8, PERSON))):
            seen.setdefault(track.track_id, []).append((track.box[0] + track.box[2]) / 2)
    assert len(seen) == 2
    xs = sorted(seen.values(), key=lambda v: v[0])
    assert all(b > a for a, b in zip(xs[0], xs[0][1:], strict=False))
    assert all(b < a for a, b in zip(xs[1], xs[1][1:], strict=False))


def test_track_needs_two_sightings_and_one_off_noise_is_dropped() -> None:
    tracker = ByteTracker(TrackerConfig(min_hits=2))
    assert tracker.update(detections((box_at(100, 200), 0.9, CAR))) == []
    assert len(tracker.update(detections((box_at(104, 200), 0.9, CAR)))) == 1
    tracker.update(detections((box_at(108, 200), 0.9, CAR), (box_at(600, 500), 0.9, CAR)))
    # The lone sighting at x=600 never becomes a track.
    tracks = tracker.update(detections((box_at(112, 200), 0.9, CAR)))
    assert [t.track_id for t in tracks] == [1]


def test_low_score_detection_keeps_an_occluded_track() -> None:
    tracker = ByteTracker()
    for step in range(5):
        tracker.update(detections((box_at(100 + 5 * step, 200), 0.9, PERSON)))
    tracks = tracker.update(detections((box_at(125, 200), 0.2, PERSON)))
    assert [t.track_id for t in tracks] == [1]
    # Without the low-score stage a 0.2 detection would neither match nor start a track.
    assert tracker.live_tracks == 1


def test_lost_track_is_found_again_under_the_same_id() -> None:
    tracker = ByteTracker(TrackerConfig(lost_buffer=10))
    for step in range(6):
        tracks = tracker.update(detections((box_at(100 + 10 * step, 300), 0.9, PERSON)))
    first_id = tracks[0].track_id
    for _ in range(4):
        assert tracker.update(detections()) == []
    # Constant-velocity prediction carries the box on through the gap.
    tracks = tracker.update(detections((box_at(200, 300), 0.9, PERSON)))
    assert [t.track_id for t in tracks] == [first_id]


def test_lost_track_expires_after_buffer() -> None:
    tracker = ByteTracker(TrackerConfig(lost_buffer=2))
    for _ in range(4):
        tracks = tracker.update(detections((box_at(100, 300), 0.9, PERSON)))
    first_id = tracks[0].track_id
    for _ in range(3):
        tracker.update(detections())
    assert tracker.live_tracks == 0
    tracker.update(detections((box_at(100, 300), 0.9, PERSON)))
    tracks = tracker.update(detections((box_at(100, 300), 0.9, PERSON)))
    assert tracks[0].track_id != first_id


def test_class_flicker_keeps_one_class_by_vote() -> None:
    tracker = ByteTracker()
    classes = [CAR, CAR, TRUCK, CAR, TRUCK, CAR]
    for step, class_id in enumerate(classes):
        tracks = tracker.update(detections((box_at(100 + 5 * step, 300, 120, 80), 0.8, class_id)))
    assert [t.class_id for t in tracks] == [CAR]


def test_assignment_is_optimal_not_greedy() -> None:
    # Greedy highest-IoU-first would give track A the detection in the middle and
    # leave track B without a match; the optimal assignment matches both.
    tracker = ByteTracker(TrackerConfig(min_hits=1, match_iou=0.1))
    a0, b0 = (0.0, 0.0, 100.0, 100.0), (60.0, 0.0, 160.0, 100.0)
    tracker.update(detections((a0, 0.9, CAR), (b0, 0.9, CAR)))
    middle, far_left = (30.0, 0.0, 130.0, 100.0), (-30.0, 0.0, 70.0, 100.0)
    tracks = tracker.update(detections((middle, 0.9, CAR), (far_left, 0.9, CAR)))
    by_id = {t.track_id: t.box for t in tracks}
    assert by_id == {1: far_left, 2: middle}


boxes = st.tuples(st.floats(0, 600), st.floats(0, 400), st.floats(5, 150), st.floats(5, 150)).map(
    lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3])
)
frame = st.lists(st.tuples(boxes, st.floats(0.0, 1.0), st.sampled_from([0, 2, 7])), max_size=8)


@settings(max_examples=150, deadline=None)
@given(st.lists(frame, max_size=25))
def test_ids_are_unique_per_frame_and_never_reused(frames: list[list[tuple]]) -> None:
    tracker = ByteTracker()
    finished: set[int] = set()
    previous: set[int] = set()
    for items in frames:
        tracks = tracker.update(detections(*items))
        ids = [t.track_id for t in tracks]
        assert len(ids) == len(set(ids))
        assert len(tracks) <= len(items)  # only tracks matched this frame are reported
        assert not set(ids) & finished
        live = tracker.live_ids
        finished |= previous - live
        previous = live
        for track in tracks:
            assert track.time_since_update == 0
            assert track.box in [tuple(float(v) for v in np.float32(b)) for b, _, _ in items]
