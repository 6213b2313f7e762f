"""The series projection: follows the ledger's row-id cursor and writes points.

The cursor lives in the ledger and moves only after the series store took the points,
so when the store is down the ledger keeps accepting and the projection catches up
afterwards from where it stopped. Writes are idempotent (same point, same key), so two
processes projecting the same rows, or a crash between write and cursor update, repeat
work but never lose or double anything.
"""

from __future__ import annotations

import logging

from aggregator.errors import AggregatorError
from aggregator.ledger.sql import SqlLedger
from aggregator.series.base import SeriesStore, SeriesUnavailableError
from aggregator.series.points import Point, points_from_stored
from fieldproof.wire import WireError

log = logging.getLogger(__name__)

CURSOR_NAME = "series"


class Projector:
    """Moves ledger rows into a series store, ``batch`` rows per step."""

    def __init__(
        self, ledger: SqlLedger, series: SeriesStore, *, batch: int = 500, name: str = CURSOR_NAME
    ) -> None:
        self.ledger = ledger
        self.series = series
        self.batch = batch
        self.name = name
        self.skipped = 0

    def lag(self) -> int:
        """Ledger rows not projected yet."""
        return max(0, self.ledger.max_row_id() - self.ledger.get_cursor(self.name))

    def step(self) -> int:
        """Project up to ``batch`` rows; return how many. Raises SeriesUnavailableError."""
        position = self.ledger.get_cursor(self.name)
        rows = self.ledger.reports_after(position, self.batch)
        if not rows:
            return 0
        points: list[Point] = []
        for row in rows:
            try:
                points.extend(points_from_stored(row.raw))
            except WireError as exc:  # stored reports were verified; this is defensive
                log.error("ledger row %d does not decode: %s", row.row_id, exc)
        try:
            self.series.write(points)
        except SeriesUnavailableError:
            raise
        except AggregatorError as exc:
            # The store refused these points for good (not a transient outage): move on
            # rather than stall every later report behind them.
            self.skipped += len(rows)
            log.error("series store refused rows %d..%d: %s", rows[0].row_id, rows[-1].row_id, exc)
        self.ledger.set_cursor(self.name, position, rows[-1].row_id)
        return len(rows)

    def catch_up(self, max_steps: int = 1_000_000) -> int:
        """Project until the cursor reaches the ledger's end; return the rows projected."""
        total = 0
        for _ in range(max_steps):
            moved = self.step()
            if moved == 0:
                break
            total += moved
        return total
