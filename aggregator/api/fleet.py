"""Aggregates over many devices at once: one value per bucket for the whole selection.

The series stores aggregate per device; a fleet-wide hourly mean over a thousand
devices would mean moving every device's buckets out of the store. These read-only
helpers push the aggregation down to the backend instead (one SQL ``GROUP BY`` or one
InfluxQL ``GROUP BY time``), with the same filters the stores' own queries apply; any
other store falls back to combining per-device sums, counts, minima and maxima.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.series.base import Aggregate, SeriesStore
from aggregator.series.influx import InfluxSeries
from aggregator.series.points import TRAFFIC_MEASUREMENT, SeriesPoint, series_key, tags_text
from aggregator.series.sqlite import SqliteSeries

FLEET = "fleet"


@dataclass(frozen=True, slots=True)
class FleetQuery:
    name: str
    devices: Sequence[str] | None
    start: float
    end: float
    every: int
    agg: Aggregate


_SQL_AGG = {"mean": "AVG", "min": "MIN", "max": "MAX", "sum": "SUM", "count": "COUNT"}


def _quote_ident(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sqlite(store: SqliteSeries, q: FleetQuery) -> list[SeriesPoint]:
    name, devices, start, end, every, agg = q.name, q.devices, q.start, q.end, q.every, q.agg
    measurement, tags = series_key(name)
    where = "measurement = ? AND tags = ? AND t >= ? AND t < ?"
    params: list[object] = [measurement, tags_text(tags), round(start * 1000), round(end * 1000)]
    if devices is not None:
        where += f" AND device IN ({','.join('?' * len(devices))})"
        params.extend(devices)
    step = every * 1000
    sql = (
        f"SELECT (t / {step}) * {step} AS bucket, {_SQL_AGG[agg]}(value) FROM points "
        f"{{hint}} WHERE {where} GROUP BY bucket ORDER BY bucket"
    )
    with store._lock:
        try:
            # Left to itself SQLite walks the (measurement, tags, …) key over every device
            # and time; over many devices the time index is several times faster.
            rows = store._conn.execute(sql.format(hint="INDEXED BY points_t"), params).fetchall()
        except sqlite3.OperationalError:  # no such index in this schema version
            rows = store._conn.execute(sql.format(hint=""), params).fetchall()
    return [SeriesPoint(FLEET, int(r[0]) / 1000, float(r[1])) for r in rows]


def _influx(store: InfluxSeries, q: FleetQuery) -> list[SeriesPoint]:
    name, devices, start, end, every, agg = q.name, q.devices, q.start, q.end, q.every, q.agg
    measurement, tags = series_key(name)
    conditions = [f"{_quote_ident(k)} = {_quote_literal(v)}" for k, v in tags]
    if "path" not in {k for k, _ in tags} and measurement != TRAFFIC_MEASUREMENT:
        conditions.append("\"path\" = ''")  # as the store's own query: no path means none
    conditions.append(f"time >= {round(start * 1000) * 1_000_000}")
    conditions.append(f"time < {round(end * 1000) * 1_000_000}")
    if devices is not None:
        conditions.append(
            "(" + " OR ".join(f'"device" = {_quote_literal(d)}' for d in devices) + ")"
        )
    statement = (
        f'SELECT {agg}("value") FROM {_quote_ident(measurement)} WHERE {" AND ".join(conditions)} '
        f"GROUP BY time({every}s) fill(none)"
    )
    out: list[SeriesPoint] = []
    for item in store._query(statement):
        for row in item.get("values") or []:
            if row[1] is not None:
                out.append(SeriesPoint(FLEET, int(row[0]) / 1000, float(row[1])))
    out.sort(key=lambda p: p.time)
    return out


def _combined(store: SeriesStore, q: FleetQuery) -> list[SeriesPoint]:
    name, devices, start, end, every, agg = q.name, q.devices, q.start, q.end, q.every, q.agg
    parts: dict[str, list[SeriesPoint]] = {}
    wanted: tuple[Aggregate, ...] = ("sum", "count") if agg == "mean" else (agg,)
    for kind in wanted:
        parts[kind] = store.series(name, devices, start, end, every=every, agg=kind)
    merged: dict[str, dict[float, float]] = {}
    for part, points in parts.items():
        into: dict[float, float] = defaultdict(float) if part in ("sum", "count") else {}
        for p in points:
            if part in ("sum", "count"):
                into[p.time] += p.value
            elif p.time not in into:
                into[p.time] = p.value
            else:
                into[p.time] = (
                    min(into[p.time], p.value) if part == "min" else max(into[p.time], p.value)
                )
        merged[part] = into
    if agg == "mean":
        sums, counts = merged["sum"], merged["count"]
        return [SeriesPoint(FLEET, t, sums[t] / counts[t]) for t in sorted(counts) if counts[t]]
    return [SeriesPoint(FLEET, t, v) for t, v in sorted(merged[agg].items())]


def fleet_series(
    store: SeriesStore,
    name: str,
    devices: Sequence[str] | None,
    start: float,
    end: float,
    *,
    every: int,
    agg: Aggregate,
) -> list[SeriesPoint]:
    """One ``agg`` per ``every``-second bucket over all points of the selected devices."""
    if devices is not None and not devices:
        return []
    q = FleetQuery(name, devices, start, end, every, agg)
    if isinstance(store, SqliteSeries):
        return _sqlite(store, q)
    if isinstance(store, InfluxSeries):
        return _influx(store, q)
    return _combined(store, q)
