"""The time-series projection of the ledger (SQLite or InfluxDB) and its queries."""

from aggregator.series.base import SeriesRejectedError, SeriesStore, SeriesUnavailableError
from aggregator.series.factory import open_series
from aggregator.series.points import Point, SeriesPoint, points_from_report, series_key
from aggregator.series.projection import Projector

__all__ = [
    "Point",
    "Projector",
    "SeriesPoint",
    "SeriesRejectedError",
    "SeriesStore",
    "SeriesUnavailableError",
    "open_series",
    "points_from_report",
    "series_key",
]
