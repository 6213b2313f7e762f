"""What every series backend offers: write points, query them, purge old ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from aggregator.errors import AggregatorError, AggregatorValueError
from aggregator.series.points import Point, SeriesPoint

Aggregate = Literal["mean", "min", "max", "sum", "count"]
AGGREGATES: tuple[str, ...] = ("mean", "min", "max", "sum", "count")
# The device name of the points a fleet aggregate returns.
FLEET = "fleet"


def checked_bucket(every: int, agg: Aggregate | None) -> Aggregate:
    """The aggregate of a bucketed query, after checking it and the bucket width."""
    if agg is None or agg not in AGGREGATES:
        raise AggregatorValueError(f"agg: expected one of {AGGREGATES}, got {agg!r}")
    if every <= 0:
        raise AggregatorValueError(f"every: must be positive, got {every}")
    return agg


class SeriesUnavailableError(AggregatorError):
    """The series store cannot take writes right now; retry later (nothing was lost)."""


class SeriesRejectedError(AggregatorError):
    """The series store refused the points for good (sending them again cannot help):
    the projection sets them aside in the ledger and moves on."""


class SeriesStore(Protocol):
    """A time-series backend (SQLite or InfluxDB)."""

    url: str

    def write(self, points: Sequence[Point]) -> None:
        """Store ``points``; writing the same point twice keeps one. May raise
        :class:`SeriesUnavailableError` (retry later) or :class:`SeriesRejectedError`
        (some of the points can never be stored; the others may have been)."""

    def series(
        self,
        name: str,
        devices: Sequence[str] | None,
        start: float,
        end: float,
        *,
        every: int | None = None,
        agg: Aggregate | None = None,
    ) -> list[SeriesPoint]:
        """Points of record name ``name`` in ``[start, end)`` (Unix s), sorted by device
        then time; with ``every`` (s) and ``agg``, one aggregate per epoch-aligned bucket."""

    def fleet(
        self,
        name: str,
        devices: Sequence[str] | None,
        start: float,
        end: float,
        *,
        every: int,
        agg: Aggregate,
    ) -> list[SeriesPoint]:
        """One ``agg`` per ``every``-second bucket over the points of all selected devices
        (device :data:`FLEET`), aggregated in the store: a fleet-wide mean over a thousand
        devices never moves every device's buckets out of it."""

    def points(
        self,
        name: str,
        device: str,
        start: float,
        end: float,
        *,
        limit: int,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[SeriesPoint]:
        """One page of the raw points of record name ``name`` from one device in
        ``[start, end)``, in time order (newest first when asked): ``offset`` points
        skipped, at most ``limit`` returned. The store cuts the page, so a page of a long
        series costs what the page holds, not what the range holds."""

    def purge(self, before: float, chunk: int) -> int:
        """Delete points older than ``before``; return how many (-1 if unknown)."""

    def close(self) -> None: ...
