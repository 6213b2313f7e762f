"""Retention: purge series points, health history and dead letters older than
configured ages.

Deletes run in bounded chunks (one short transaction each) so a large purge never holds
the writer up. Raw reports are never purged here: epoch bundles and proofs rest on them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aggregator.config import RetentionConfig
from aggregator.ledger.sql import SqlLedger
from aggregator.series.base import SeriesStore

log = logging.getLogger(__name__)

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class PurgeResult:
    series_deleted: int
    health_deleted: int
    dead_letters_deleted: int = 0


def purge_in_chunks(purge: Callable[[float, int], int], before: float, chunk: int) -> int:
    """Call ``purge(before, chunk)`` until a call removes less than a full chunk; the rows
    removed in all, or -1 as soon as the store says it cannot count them."""
    total = 0
    while True:
        n = purge(before, chunk)
        if n < 0:
            return -1
        total += n
        if n < chunk:
            return total


def purge_once(
    ledger: SqlLedger, series: SeriesStore, config: RetentionConfig, now: float | None = None
) -> PurgeResult:
    """One full purge pass; returns the rows removed (-1 where the store cannot tell)."""
    now = time.time() if now is None else now
    series_deleted = health_deleted = dead_deleted = 0
    if config.series_days is not None:
        before = now - config.series_days * DAY_S
        series_deleted = purge_in_chunks(series.purge, before, config.chunk)
    if config.health_days is not None:
        before = now - config.health_days * DAY_S
        health_deleted = purge_in_chunks(ledger.purge_health, before, config.chunk)
    if config.dead_letter_days is not None:
        before = now - config.dead_letter_days * DAY_S
        dead_deleted = purge_in_chunks(ledger.purge_dead_letters, before, config.chunk)
        dead_deleted += purge_in_chunks(ledger.purge_dead_points, before, config.chunk)
    return PurgeResult(series_deleted, health_deleted, dead_deleted)


class RetentionWorker:
    """Runs :func:`purge_once` every ``interval_s`` in a background thread."""

    def __init__(self, ledger: SqlLedger, series: SeriesStore, config: RetentionConfig) -> None:
        self.ledger = ledger
        self.series = series
        self.config = config
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.config.interval_s):
            try:
                result = purge_once(self.ledger, self.series, self.config)
                log.info("retention purge: %s", result)
            except Exception:
                log.exception("retention purge failed; next try in %.0f s", self.config.interval_s)
