"""One factory: the series URL's scheme picks the backend."""

from __future__ import annotations

from urllib.parse import urlsplit

from aggregator.errors import AggregatorValueError
from aggregator.series.base import SeriesStore


def open_series(url: str) -> SeriesStore:
    """``sqlite:///path`` or ``influx://host:port/db`` (``influxs://``); else an error."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from aggregator.series.sqlite import SqliteSeries

        return SqliteSeries(url)
    if scheme in ("influx", "influxs"):
        from aggregator.series.influx import InfluxSeries

        return InfluxSeries(url)
    raise AggregatorValueError(f"series URL {url!r}: unknown scheme {scheme!r} (sqlite or influx)")
