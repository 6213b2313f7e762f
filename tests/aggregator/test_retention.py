"""Retention purges old series points and health in chunks and keeps every raw report."""

from __future__ import annotations

import time
from pathlib import Path

from aggregator.config import RetentionConfig
from aggregator.ledger import (
    Batch,
    DeadLetter,
    DeadPoint,
    HealthUpdate,
    IncomingReport,
    open_ledger,
)
from aggregator.retention import DAY_S, purge_once
from aggregator.series import Point, open_series, series_key


def test_purge_keeps_reports_and_recent_data(tmp_path: Path) -> None:
    now = time.time()
    ledger = open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    series = open_series(f"sqlite:///{tmp_path}/series.db")
    device = b"\x01" * 32
    ages = [40, 35, 20, 5, 1]  # days
    ledger.write_batch(
        Batch(
            reports=[
                IncomingReport(device, i, now - d * DAY_S, 0, 60, b"raw%d" % i, b"h")
                for i, d in enumerate(ages)
            ],
            healths=[HealthUpdate(device, "{}", now - d * DAY_S) for d in ages for _ in range(5)],
            dead_letters=[
                DeadLetter(now - d * DAY_S, "fp/v1/x/report", "malformed", "x", b"", 0)
                for d in (100, 95, 3)
            ],
        )
    )
    measurement, tags = series_key("temp")
    series.write(
        [
            Point(measurement, tags, "0x01", round((now - d * DAY_S) * 1000) + k, 1.0)
            for d in ages
            for k in range(7)
        ]
    )
    refused = [
        DeadPoint(
            1, device, 0, "temp", "temp v=1", "HTTP 400: field type conflict", now - d * DAY_S
        )
        for d in (120, 91, 2)
    ]
    assert ledger.set_cursor_with_dead_points("series", 0, 1, refused)
    config = RetentionConfig(series_days=30, health_days=10, dead_letter_days=90, chunk=3)
    result = purge_once(ledger, series, config, now=now)
    # Refused series points age out with the dead letters.
    assert [round((now - p.at) / DAY_S) for p in ledger.dead_points()] == [2]
    assert result.series_deleted == 2 * 7
    assert result.health_deleted == 3 * 5
    assert ledger.count_health() == 2 * 5
    assert result.dead_letters_deleted == 2 + 2
    assert len(ledger.dead_letters()) == 1
    assert len(series.series("temp", None, 0, now + 1)) == 3 * 7
    assert ledger.count_reports() == len(ages)  # raw reports are never purged
