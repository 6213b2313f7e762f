from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge_agent.analytics.config import LineConfig, TrackerConfig, ZoneConfig
from edge_agent.analytics.lines import LineCounter
from edge_agent.analytics.tracker import ByteTracker, TrackState
from edge_agent.analytics.zones import Zone
from tests.edge_agent.analytics.synthetic import box_at, detections

PERSON = 0
# Horizontal line at y=300 from x=100 to x=500; moving downward on screen is "in".
LINE = LineConfig(name="door", start=(100.0, 300.0), end=(500.0, 300.0), hysteresis=4.0)


def state(track_id: int, x: float, y: float, class_id: int = PERSON) -> TrackState:
    return TrackState(track_id, tuple(box_at(x, y)), class_id, 0.9, 5, 0)  # type: ignore[arg-type]


def run(counter: LineCounter, points: list[tuple[float, float]], track_id: int = 1) -> list[str]:
    out = []
    for x, y in points:
        out += [c.direction for c in counter.update([state(track_id, x, y)])]
    return out


def test_crossing_downward_is_in_and_counted_once() -> None:
    counter = LineCounter(LINE)
    assert run(counter, [(300, y) for y in range(200, 400, 10)]) == ["in"]


def test_crossing_upward_is_out() -> None:
    counter = LineCounter(LINE)
    assert run(counter, [(300, y) for y in range(400, 200, -10)]) == ["out"]


def test_passing_beside_the_segment_is_not_counted() -> None:
    counter = LineCounter(LINE)
    assert run(counter, [(700, y) for y in range(200, 400, 10)]) == []


def test_jitter_on_the_line_is_not_counted() -> None:
    counter = LineCounter(LINE)
    jitter = [(300 + i, 300 + (3 if i % 2 else -3)) for i in range(50)]
    assert run(counter, [(300, 250), *jitter]) == []


def test_back_and_forth_counts_each_direction_at_most_once() -> None:
    counter = LineCounter(LINE)
    path = [(300, 250), (300, 350), (300, 250), (300, 350), (300, 250)]
    assert run(counter, path) == ["in", "out"]


def test_lost_and_found_track_is_not_double_counted() -> None:
    line_counter = LineCounter(LINE)
    tracker = ByteTracker(TrackerConfig(lost_buffer=20))
    directions: list[str] = []
    ids: set[int] = set()

    def feed(dets: object) -> None:
        tracks = tracker.update(dets)  # type: ignore[arg-type]
        ids.update(t.track_id for t in tracks)
        directions.extend(c.direction for c in line_counter.update(tracks))

    for y in range(200, 330, 10):  # crosses at y=300
        feed(detections((box_at(300, y), 0.9, PERSON)))
    for _ in range(5):  # occluded just past the line
        feed(detections())
    for y in range(380, 460, 10):  # found again further on
        feed(detections((box_at(300, y), 0.9, PERSON)))
    assert len(ids) == 1
    assert directions == ["in"]


def test_zone_occupancy_by_class() -> None:
    zone = Zone(ZoneConfig(name="kerb", polygon=((0, 0), (200, 0), (200, 200), (0, 200))))
    tracks = [state(1, 100, 150), state(2, 150, 100, 2), state(3, 400, 100), state(4, 50, 50)]
    assert zone.occupancy(tracks) == {PERSON: 2, 2: 1}


points = st.tuples(st.floats(0, 600), st.floats(0, 600))


@settings(max_examples=200, deadline=None)
@given(st.lists(points, max_size=60))
def test_any_path_counts_each_direction_at_most_once(path: list[tuple[float, float]]) -> None:
    counter = LineCounter(LINE)
    directions = run(counter, path)
    assert directions.count("in") <= 1
    assert directions.count("out") <= 1
    # Alternation: a second crossing must go the other way.
    assert all(a != b for a, b in itertools.pairwise(directions))


@settings(max_examples=200, deadline=None)
@given(
    x=st.floats(110, 490),
    start=st.floats(0, 290),
    end=st.floats(310, 600),
    steps=st.integers(2, 40),
    downward=st.booleans(),
)
def test_straight_crossing_through_segment_counts_exactly_once(
    x: float, start: float, end: float, steps: int, downward: bool
) -> None:
    ys = [start + (end - start) * i / (steps - 1) for i in range(steps)]
    if not downward:
        ys.reverse()
    counter = LineCounter(LINE)
    assert run(counter, [(x, y) for y in ys]) == ["in" if downward else "out"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-4.0, 4.0), max_size=60), st.floats(100, 500))
def test_movement_within_hysteresis_never_counts(offsets: list[float], x: float) -> None:
    counter = LineCounter(LINE)
    assert run(counter, [(x, 300 + dy) for dy in offsets]) == []


CONFIRMED = LINE.model_copy(update={"hysteresis": 10.0, "confirm_frames": 3})


def test_a_turn_on_the_line_is_not_counted_when_crossings_must_persist() -> None:
    # Two frames beyond the band on the far side, then back: a person turning around.
    turn = [(300, 250), (300, 285), (300, 315), (300, 320), (300, 280), (300, 250)]
    assert run(LineCounter(CONFIRMED), turn) == []
    assert run(LineCounter(CONFIRMED.model_copy(update={"confirm_frames": 1})), turn) == [
        "in",
        "out",
    ]


def test_a_persisting_crossing_counts_once_on_its_confirming_frame() -> None:
    counter = LineCounter(CONFIRMED)
    path = [(300, 250), (300, 320), (300, 305), (300, 330)]  # 305 lies inside the band
    counted = [run(counter, [p]) for p in path]
    # The frame inside the band neither confirms nor resets: the third frame beyond it does.
    assert counted == [[], [], [], []]
    assert run(counter, [(300, 340)]) == ["in"]
    assert run(counter, [(300, y) for y in range(345, 400, 5)]) == []


def test_a_box_that_briefly_jumps_across_is_not_counted() -> None:
    # A box spanning two people for one frame moves the ground point over and back.
    path = [(300, 260), (300, 270), (300, 330), (300, 272), (300, 268)]
    assert run(LineCounter(CONFIRMED), path) == []


def test_persistence_is_validated() -> None:
    with pytest.raises(ValidationError, match="confirm_frames"):
        LineConfig(name="x", start=(0.0, 0.0), end=(1.0, 0.0), confirm_frames=0)
