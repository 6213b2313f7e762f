"""Feeding a source's events to the interval aggregator, as the agent does."""

from __future__ import annotations

from collections.abc import Sequence

from edge_agent.analytics.intervals import IntervalAggregator, IntervalSummary
from edge_agent.sources import Frame, Offline


def offline_total(events: Sequence[object]) -> float:
    """Seconds the source reported itself offline."""
    return sum(e.end - e.start for e in events if isinstance(e, Offline))


def summarise(
    agg: IntervalAggregator, events: Sequence[Frame | Offline], until: float
) -> list[IntervalSummary]:
    """Every interval ``agg`` closes for ``events`` (frames processed), up to ``until``."""
    summaries: list[IntervalSummary] = []
    for event in events:
        if isinstance(event, Offline):
            summaries += agg.offline(event.start, event.end)
        else:
            summaries += agg.frame(event.timestamp, processed=True)
    summaries += agg.advance(until)
    return summaries
