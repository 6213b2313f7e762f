"""Pure analytics over detections: tracking, counting lines, zones, interval aggregation."""

from edge_agent.analytics.config import LineConfig, TrackerConfig, ZoneConfig
from edge_agent.analytics.intervals import IntervalAggregator, IntervalSummary, ZoneOccupancy
from edge_agent.analytics.lines import Crossing, LineCounter
from edge_agent.analytics.tracker import ByteTracker, TrackState
from edge_agent.analytics.zones import Zone

__all__ = [
    "ByteTracker",
    "Crossing",
    "IntervalAggregator",
    "IntervalSummary",
    "LineConfig",
    "LineCounter",
    "TrackState",
    "TrackerConfig",
    "Zone",
    "ZoneConfig",
    "ZoneOccupancy",
]
