"""CVML ground truth: parsing, clipping, and true crossings by the agent's counting rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.analytics.config import LineConfig
from edge_agent.analytics.groundtruth import TrackBox, parse_cvml, true_crossings
from edge_agent.errors import AgentValueError

CVML = """<?xml version='1.0' encoding='utf-8'?>
<dataset>
  <frame number="0"><objectlist>
    <object id="3"><box h="100" w="40" xc="100" yc="150" /></object>
    <object id="4"><box h="100" w="40" xc="20" yc="560" /></object>
  </objectlist></frame>
  <frame number="1"><objectlist>
    <object id="3"><box h="100" w="40" xc="102" yc="152" /></object>
  </objectlist></frame>
  <frame number="2"><objectlist /></frame>
</dataset>
"""

LINE = LineConfig(name="h", start=(0.0, 300.0), end=(768.0, 300.0))


def walk(track_id: int, bottoms: list[float], x: float = 200.0) -> dict[int, list[TrackBox]]:
    """One person whose feet are at ``bottoms[i]`` in frame ``i``."""
    return {
        i: [TrackBox(track_id, (x - 20.0, y - 100.0, x + 20.0, y))] for i, y in enumerate(bottoms)
    }


def test_parse_reads_centre_width_height_as_corners() -> None:
    frames = parse_cvml(CVML)
    assert sorted(frames) == [0, 1, 2]
    first = {o.track_id: o.box for o in frames[0]}
    assert first[3] == (80.0, 100.0, 120.0, 200.0)
    assert frames[2] == ()


def test_parse_clips_to_the_frame_and_limits_frames() -> None:
    frames = parse_cvml(CVML, frames=range(1), clip_to=(768, 576))
    assert sorted(frames) == [0]
    clipped = {o.track_id: o.box for o in frames[0]}
    assert clipped[4] == (0.0, 510.0, 40.0, 576.0)


def test_parse_refuses_what_is_not_xml() -> None:
    with pytest.raises(AgentValueError):
        parse_cvml("<dataset><frame")


def test_crossings_by_direction() -> None:
    down = walk(1, [250.0, 280.0, 310.0, 340.0])
    up = walk(2, [340.0, 310.0, 280.0, 250.0], x=400.0)
    tracks = {i: [*down[i], *up[i]] for i in down}
    assert true_crossings(tracks, [LINE]) == {"h": {"in": 1, "out": 1}}


def test_jitter_inside_the_hysteresis_is_not_a_crossing() -> None:
    tracks = walk(1, [298.0, 302.0, 297.0, 303.0, 299.0])
    assert true_crossings(tracks, [LINE]) == {"h": {"in": 0, "out": 0}}


def test_a_new_id_on_the_other_side_is_not_a_crossing() -> None:
    tracks = {0: walk(1, [280.0])[0], 1: walk(2, [320.0])[0]}
    assert true_crossings(tracks, [LINE]) == {"h": {"in": 0, "out": 0}}


@settings(max_examples=60, deadline=None)
@given(
    bottoms=st.lists(st.floats(min_value=200.0, max_value=400.0), min_size=2, max_size=12),
    splits=st.lists(st.integers(min_value=1, max_value=4), min_size=12, max_size=12),
)
def test_counts_do_not_change_when_steps_are_split(bottoms: list[float], splits: list[int]) -> None:
    # A straight step cut into equal sub-steps crosses the line where the whole step
    # does, so sampling the same walk more finely must give the same counts.
    fine = [bottoms[0]]
    for a, b, parts in zip(bottoms, bottoms[1:], splits, strict=False):
        fine += [a + (b - a) * k / parts for k in range(1, parts + 1)]
    assert true_crossings(walk(1, fine), [LINE]) == true_crossings(walk(1, bottoms), [LINE])


def test_the_truth_is_counted_by_the_line_s_own_persistence_rule() -> None:
    # Feet step over the line for two frames and come back: one crossing each way by
    # the plain rule, none once a crossing must persist for three frames.
    tracks = walk(1, [270.0, 290.0, 315.0, 320.0, 290.0, 270.0])
    assert true_crossings(tracks, [LINE]) == {"h": {"in": 1, "out": 1}}
    strict = LINE.model_copy(update={"confirm_frames": 3})
    assert true_crossings(tracks, [strict]) == {"h": {"in": 0, "out": 0}}
