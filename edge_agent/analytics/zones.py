"""Polygon zones: how many tracked objects stand inside, by class."""

from __future__ import annotations

from collections import Counter

from edge_agent.analytics.config import ZoneConfig
from edge_agent.analytics.geometry import Point, bottom_centre, point_in_polygon
from edge_agent.analytics.tracker import TrackState


class Zone:
    """Occupancy of one polygon, judged by each track's bottom-centre point."""

    def __init__(self, config: ZoneConfig) -> None:
        self.config = config
        self._polygon: tuple[Point, ...] = tuple((float(x), float(y)) for x, y in config.polygon)

    @property
    def name(self) -> str:
        return self.config.name

    def occupancy(self, tracks: list[TrackState]) -> Counter[int]:
        """Objects inside, keyed by class id."""
        return Counter(
            t.class_id for t in tracks if point_in_polygon(bottom_centre(t.box), self._polygon)
        )
