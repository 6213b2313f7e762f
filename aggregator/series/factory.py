"""One factory: the series URL's scheme picks the backend."""

from __future__ import annotations

from urllib.parse import urlsplit

from aggregator.errors import AggregatorValueError, open_failure, redacted_url
from aggregator.series.base import SeriesStore


def open_series(url: str) -> SeriesStore:
    """``sqlite:///path`` or ``influx://host:port/db`` (``influxs://``); else an error."""
    scheme = urlsplit(url).scheme
    try:
        if scheme == "sqlite":
            from aggregator.series.sqlite import SqliteSeries

            return SqliteSeries(url)
        if scheme in ("influx", "influxs"):
            from aggregator.series.influx import InfluxSeries

            return InfluxSeries(url)
    except Exception as exc:  # any reason a store will not open is the operator's one line
        raise open_failure("series", url, exc) from exc
    raise AggregatorValueError(
        f"series URL {redacted_url(url)!r}: unknown scheme {scheme!r} (sqlite or influx)"
    )
