"""Directed counting lines crossed by a track's bottom-centre point.

A track's side of a line only changes once its point clears the line by the
hysteresis margin, so an object standing on the line and jittering is not
counted; with ``confirm_frames`` above 1 it must also stay beyond the margin on
the new side for that many processed frames in a row, so a person who turns
around on the line, or a box that briefly spans two people, is not counted. A
crossing is the move between the last point firmly on one side and the first
point firmly on the other, and it must pass through the segment itself. Each
track is counted at most once per line and direction, so a track that is lost
and found again under the same id is never counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge_agent.analytics.config import LineConfig
from edge_agent.analytics.geometry import Point, bottom_centre, segments_intersect, side_of
from edge_agent.analytics.tracker import TrackState

Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class Crossing:
    """One counted crossing."""

    line: str
    track_id: int
    class_id: int
    direction: Direction


@dataclass(slots=True)
class _TrackSide:
    side: int
    anchor: Point  # last point firmly on ``side``
    pending: int = 0  # the other side while it awaits confirmation, else 0
    first: Point | None = None  # first firm point on the pending side
    run: int = 0  # frames in a row on the pending side


class LineCounter:
    """Counts crossings of one directed segment."""

    def __init__(self, config: LineConfig) -> None:
        self.config = config
        self._state: dict[int, _TrackSide] = {}
        self._counted: set[tuple[int, Direction]] = set()

    @property
    def name(self) -> str:
        return self.config.name

    def update(self, tracks: list[TrackState]) -> list[Crossing]:
        """Feed the tracks seen in one processed frame; returns new crossings."""
        crossings = []
        for track in tracks:
            crossing = self._step(track.track_id, track.class_id, bottom_centre(track.box))
            if crossing is not None:
                crossings.append(crossing)
        return crossings

    def forget(self, live_ids: set[int]) -> None:
        """Drop state of tracks the tracker no longer keeps (bounded memory)."""
        for track_id in [t for t in self._state if t not in live_ids]:
            del self._state[track_id]
        self._counted = {key for key in self._counted if key[0] in live_ids}

    def _step(self, track_id: int, class_id: int, point: Point) -> Crossing | None:
        start, end = self.config.start, self.config.end
        distance = side_of(point, start, end)
        if abs(distance) <= self.config.hysteresis:
            return None  # inside the band: neither side, and no confirmation progress
        side = 1 if distance > 0 else -1
        state = self._state.get(track_id)
        if state is None:
            self._state[track_id] = _TrackSide(side, point)
            return None
        if side == state.side:
            state.anchor, state.pending, state.first, state.run = point, 0, None, 0
            return None
        if state.pending != side:
            state.pending, state.first, state.run = side, point, 0
        state.run += 1
        if state.run < self.config.confirm_frames:
            return None
        anchor, first = state.anchor, state.first or point
        self._state[track_id] = _TrackSide(side, point)
        if not segments_intersect(anchor, first, start, end):
            # Changed side beside the segment, not through it.
            return None
        direction: Direction = "in" if side > 0 else "out"
        if (track_id, direction) in self._counted:
            return None
        self._counted.add((track_id, direction))
        return Crossing(self.config.name, track_id, class_id, direction)
