"""The series projection: follows the ledger's row-id cursor and writes points.

The cursor lives in the ledger and moves only after the series store took the points,
so when the store is down the ledger keeps accepting and the projection catches up
afterwards from where it stopped. Writes are idempotent (same point, same key), so two
processes projecting the same rows, or a crash between write and cursor update, repeat
work but never lose or double anything.

A point the store refuses for good (:class:`SeriesRejectedError`, an InfluxDB 4xx such
as a field type conflict) is found by writing the step's reports one by one and then the
refused report's points one by one; it goes to the ledger's ``series_dead_points`` table,
in the same transaction that moves the cursor, and every other point is written. An
outage (:class:`SeriesUnavailableError`) or any other error leaves the cursor where it
is, so the step is retried and nothing is skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from aggregator.ledger.models import DeadPoint, StoredReport
from aggregator.ledger.sql import SqlLedger
from aggregator.metrics import IngestMetrics
from aggregator.series.base import SeriesRejectedError, SeriesStore
from aggregator.series.influx import line_protocol
from aggregator.series.points import Point, points_from_stored
from fieldproof.wire import WireError

log = logging.getLogger(__name__)

CURSOR_NAME = "series"


class Projector:
    """Moves ledger rows into a series store, ``batch`` rows per step."""

    def __init__(
        self,
        ledger: SqlLedger,
        series: SeriesStore,
        *,
        batch: int = 500,
        name: str = CURSOR_NAME,
        metrics: IngestMetrics | None = None,
    ) -> None:
        self.ledger = ledger
        self.series = series
        self.batch = batch
        self.name = name
        self.metrics = metrics
        self.dead_points = 0

    def lag(self) -> int:
        """Ledger rows not projected yet."""
        return max(0, self.ledger.max_row_id() - self.ledger.get_cursor(self.name))

    def step(self) -> int:
        """Project up to ``batch`` rows; return how many. Raises SeriesUnavailableError
        (nothing moved; retry later)."""
        position = self.ledger.get_cursor(self.name)
        rows = self.ledger.reports_after(position, self.batch)
        if not rows:
            return 0
        dead: list[DeadPoint] = []
        by_row: list[tuple[StoredReport, list[Point]]] = []
        for row in rows:
            try:
                by_row.append((row, points_from_stored(row.raw)))
            except WireError as exc:  # stored reports were verified; this is defensive
                dead.append(_dead(row, "", "", f"report does not decode: {exc}"))
        try:
            self.series.write([p for _, points in by_row for p in points])
        except SeriesRejectedError:
            dead.extend(self._isolate(by_row))
        if self.ledger.set_cursor_with_dead_points(self.name, position, rows[-1].row_id, dead):
            for d in dead:
                log.error(
                    "series store refused a point of ledger row %d (device 0x%s seq %d), "
                    "kept in series_dead_points: %s: %s",
                    d.report_id,
                    d.device_id.hex(),
                    d.seq,
                    d.line,
                    d.reason,
                )
            self.dead_points += len(dead)
            if self.metrics is not None and dead:
                self.metrics.count("series_dead_points", len(dead))
        return len(rows)

    def _isolate(self, by_row: Sequence[tuple[StoredReport, list[Point]]]) -> list[DeadPoint]:
        """Write report by report, then the refused reports point by point; return the
        points refused on their own."""
        dead: list[DeadPoint] = []
        for row, points in by_row:
            try:
                self.series.write(points)
                continue
            except SeriesRejectedError:
                pass
            for point in points:
                try:
                    self.series.write([point])
                except SeriesRejectedError as exc:
                    dead.append(_dead(row, point.measurement, line_protocol(point), str(exc)))
        return dead

    def catch_up(self, max_steps: int = 1_000_000) -> int:
        """Project until the cursor reaches the ledger's end; return the rows projected."""
        total = 0
        for _ in range(max_steps):
            moved = self.step()
            if moved == 0:
                break
            total += moved
        return total


def _dead(row: StoredReport, measurement: str, line: str, reason: str) -> DeadPoint:
    return DeadPoint(row.row_id, row.device_id, row.seq, measurement, line, reason, time.time())
