"""SQLite series store: the embedded default."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aggregator.ledger.sqlite import sqlite_path
from aggregator.series.base import FLEET, Aggregate, SeriesRejectedError, checked_bucket
from aggregator.series.points import Point, SeriesPoint, series_key, tags_text

_SQL_AGG = {"mean": "AVG", "min": "MIN", "max": "MAX", "sum": "SUM", "count": "COUNT"}


class SqliteSeries:
    """Points in one table keyed by (measurement, tags, device, time)."""

    def __init__(self, url: str) -> None:
        self.url = url
        path = sqlite_path(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS points (measurement TEXT NOT NULL, tags TEXT NOT NULL, "
            "device TEXT NOT NULL, t INTEGER NOT NULL, value REAL NOT NULL, "
            "UNIQUE (measurement, tags, device, t))"
        )
        self._conn.execute("CREATE INDEX IF NOT EXISTS points_t ON points (t)")

    def write(self, points: Sequence[Point]) -> None:
        if not points:
            return
        rows = [(p.measurement, tags_text(p.tags), p.device, p.time_ms, p.value) for p in points]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                # Same point again overwrites, as in InfluxDB.
                self._conn.executemany("INSERT OR REPLACE INTO points VALUES (?,?,?,?,?)", rows)
            except sqlite3.IntegrityError as exc:  # a NaN value binds as NULL
                self._conn.execute("ROLLBACK")
                raise SeriesRejectedError(f"SQLite: {exc}") from exc
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

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
        measurement, tags = series_key(name)
        where = "measurement = ? AND tags = ? AND t >= ? AND t < ?"
        params: list[Any] = [measurement, tags_text(tags), round(start * 1000), round(end * 1000)]
        if devices is not None:
            if not devices:
                return []
            where += f" AND device IN ({','.join('?' * len(devices))})"
            params.extend(devices)
        if every is None:
            sql = f"SELECT device, t, value FROM points WHERE {where} ORDER BY device, t"
        else:
            agg = checked_bucket(every, agg)
            step = every * 1000
            sql = (
                f"SELECT device, (t / {step}) * {step} AS bucket, {_SQL_AGG[agg]}(value) "
                f"FROM points WHERE {where} GROUP BY device, bucket ORDER BY device, bucket"
            )
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [SeriesPoint(str(r[0]), int(r[1]) / 1000, float(r[2])) for r in rows]

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
        agg = checked_bucket(every, agg)
        if devices is not None and not devices:
            return []
        measurement, tags = series_key(name)
        where = "measurement = ? AND tags = ? AND t >= ? AND t < ?"
        params: list[Any] = [measurement, tags_text(tags), round(start * 1000), round(end * 1000)]
        if devices is not None:
            where += f" AND device IN ({','.join('?' * len(devices))})"
            params.extend(devices)
        step = every * 1000
        # Left to itself SQLite walks the (measurement, tags, …) key over every device and
        # time; over many devices the time index is several times faster.
        sql = (
            f"SELECT (t / {step}) * {step} AS bucket, {_SQL_AGG[agg]}(value) "
            f"FROM points INDEXED BY points_t WHERE {where} GROUP BY bucket ORDER BY bucket"
        )
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [SeriesPoint(FLEET, int(r[0]) / 1000, float(r[1])) for r in rows]

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
        measurement, tags = series_key(name)
        order = "DESC" if newest_first else "ASC"
        sql = (
            "SELECT t, value FROM points WHERE measurement = ? AND tags = ? AND device = ? "
            f"AND t >= ? AND t < ? ORDER BY t {order} LIMIT ? OFFSET ?"
        )
        params = (
            measurement,
            tags_text(tags),
            device,
            round(start * 1000),
            round(end * 1000),
            max(limit, 0),
            max(offset, 0),
        )
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [SeriesPoint(device, int(r[0]) / 1000, float(r[1])) for r in rows]

    def purge(self, before: float, chunk: int) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "DELETE FROM points WHERE rowid IN (SELECT rowid FROM points WHERE t < ? LIMIT ?)",
                (round(before * 1000), chunk),
            )
            return int(cursor.rowcount)

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM points").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
