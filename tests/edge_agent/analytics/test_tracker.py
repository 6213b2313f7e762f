from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.analytics.appearance import SIZE
from edge_agent.analytics.config import LineConfig, TrackerConfig
from edge_agent.analytics.geometry import iou_matrix
from edge_agent.analytics.lines import LineCounter
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


def look(*bins: int) -> npt.NDArray[np.float32]:
    """A descriptor with its mass spread over ``bins``: looks sharing no bin are unlike."""
    row = np.zeros(SIZE, dtype=np.float32)
    row[list(bins)] = 1.0 / len(bins)
    return row


def looks(*rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.array(rows, dtype=np.float32).reshape(-1, SIZE)


RED, BLUE = look(0, 1), look(20, 21)


def small(cx: float, bottom: float) -> tuple[float, ...]:
    """A distant person: 40 px tall."""
    return box_at(cx, bottom, 16.0, 40.0)


def walk_then_hide(tracker: ByteTracker, appearance: bool) -> int:
    """A person 40 px tall walks down 5 px a frame for 8 frames (last seen with its
    ground point at y 135), then is hidden for 12; returns the id it had. Constant
    velocity predicts it 60 px further on when it reappears."""
    for step in range(8):
        seen = looks(RED) if appearance else None
        tracks = tracker.update(detections((small(200, 100 + 5 * step), 0.9, PERSON)), seen)
    for _ in range(12):
        tracker.update(detections(), looks() if appearance else None)
    return tracks[0].track_id


def test_lost_track_is_relinked_by_look_near_where_it_was_lost() -> None:
    tracker = ByteTracker(TrackerConfig(appearance=True))
    first = walk_then_hide(tracker, appearance=True)
    # It slowed down behind the occluder: 20 px further, 40 short of the prediction.
    back = small(200, 155)
    tracks = tracker.update(detections((back, 0.9, PERSON)), looks(RED))
    assert [t.track_id for t in tracks] == [first]
    # Without looks to compare, the same box starts a new identity.
    plain = ByteTracker(TrackerConfig(appearance=True))
    walk_then_hide(plain, appearance=False)
    for _ in range(2):
        tracks = plain.update(detections((back, 0.9, PERSON)))
    assert [t.track_id for t in tracks] == [2]


def test_someone_else_near_a_lost_track_gets_a_new_identity() -> None:
    tracker = ByteTracker(TrackerConfig(appearance=True))
    first = walk_then_hide(tracker, appearance=True)
    for _ in range(2):
        tracks = tracker.update(detections((small(200, 155), 0.9, PERSON)), looks(BLUE))
    assert [t.track_id for t in tracks] != [first]
    assert len(tracks) == 1


def test_relink_gate_grows_with_the_frames_lost() -> None:
    # Seen again 13 frames after it was last seen, at 0.15 heights a frame: 1.95
    # heights (78 px) from there, sideways here, away from the prediction.
    for distance, relinked in ((70.0, True), (86.0, False)):
        tracker = ByteTracker(TrackerConfig(appearance=True))
        first = walk_then_hide(tracker, appearance=True)
        far = small(200 + distance, 135)
        tracks = tracker.update(detections((far, 0.9, PERSON)), looks(RED))
        assert (tracks != [] and tracks[0].track_id == first) is relinked


def test_first_stage_refuses_a_pair_that_does_not_look_alike() -> None:
    tracker = ByteTracker(TrackerConfig(appearance=True))
    for step in range(3):
        tracks = tracker.update(detections((box_at(200 + 2 * step, 300), 0.9, PERSON)), looks(RED))
    first = tracks[0].track_id
    # Same place, another look: not the same person (the box starts a tentative track).
    assert tracker.update(detections((box_at(206, 300), 0.9, PERSON)), looks(BLUE)) == []
    plain = ByteTracker(TrackerConfig(appearance=True))
    for step in range(4):
        tracks = plain.update(detections((box_at(200 + 2 * step, 300), 0.9, PERSON)))
    assert [t.track_id for t in tracks] == [first]


def test_hidden_crossing_is_counted_once_the_track_is_relinked() -> None:
    line = LineConfig(name="door", start=(0.0, 140.0), end=(640.0, 140.0))
    for appearance, expected in ((True, 1), (False, 0)):
        tracker, counter = ByteTracker(TrackerConfig(appearance=True)), LineCounter(line)
        made = []
        for step in range(8):
            found = detections((small(200, 100 + 5 * step), 0.9, PERSON))
            made += counter.update(tracker.update(found, looks(RED) if appearance else None))
        for _ in range(12):
            tracker.update(detections(), looks() if appearance else None)
        for step in range(6):
            found = detections((small(200, 155 + 2 * step), 0.9, PERSON))
            made += counter.update(tracker.update(found, looks(RED) if appearance else None))
        assert [c.direction for c in made] == ["in"] * expected


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
