"""InfluxDB series store over the v1 HTTP API: line protocol on ``/write``, InfluxQL on
``/query``. InfluxDB 1.x serves it natively and 2.x/3.x through their v1-compatible
endpoints, so one client covers all three (Flux, which 3.x does not serve, is not used).

URL: ``influx://[user:password@]host:port/database`` (``influxs://`` for HTTPS). On 2.x
the password is an API token and the database a DBRP-mapped bucket.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from aggregator.errors import AggregatorError, AggregatorValueError
from aggregator.series.base import (
    FLEET,
    Aggregate,
    SeriesRejectedError,
    SeriesUnavailableError,
    checked_bucket,
)
from aggregator.series.points import TRAFFIC_MEASUREMENT, Point, SeriesPoint, series_key

_LINES_PER_REQUEST = 5000


def _escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


def _escape_tag(text: str) -> str:
    return _escape_measurement(text).replace("=", "\\=")


def _ident(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def line_protocol(point: Point) -> str:
    """One point as an InfluxDB line (millisecond precision)."""
    tags = "".join(
        f",{_escape_tag(k)}={_escape_tag(v)}"
        for k, v in sorted((*point.tags, ("device", point.device)))
        if v
    )
    return f"{_escape_measurement(point.measurement)}{tags} value={point.value!r} {point.time_ms}"


class InfluxSeries:
    """Series in an InfluxDB database, written in batches, queried with InfluxQL."""

    def __init__(self, url: str, *, timeout_s: float = 10.0, create_database: bool = True) -> None:
        self.url = url
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("influx", "influxs") or not parts.hostname:
            raise AggregatorValueError(f"{url!r}: expected influx://host:port/database")
        self.database = parts.path.strip("/")
        if not self.database:
            raise AggregatorValueError(f"{url!r}: the database name is missing")
        http = "https" if parts.scheme == "influxs" else "http"
        port = f":{parts.port}" if parts.port else ""
        self._base = f"{http}://{parts.hostname}{port}"
        self._auth: dict[str, str] = {}
        if parts.username:
            self._auth = {
                "u": urllib.parse.unquote(parts.username),
                "p": urllib.parse.unquote(parts.password or ""),
            }
        self.timeout_s = timeout_s
        if create_database:
            # Idempotent on 1.x; 2.x/3.x map databases to buckets and may refuse it.
            with contextlib.suppress(AggregatorError):
                self._request("POST", "/query", {"q": f"CREATE DATABASE {_ident(self.database)}"})

    def _request(self, method: str, path: str, params: dict[str, str], body: bytes = b"") -> Any:
        query = urllib.parse.urlencode({**params, **self._auth})
        request = urllib.request.Request(
            f"{self._base}{path}?{query}", data=body if method == "POST" else None, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            if exc.code >= 500 or exc.code == 429:
                raise SeriesUnavailableError(f"InfluxDB {path}: HTTP {exc.code}: {detail}") from exc
            if path == "/write":
                # 400 (a line it cannot parse, a field type conflict), 413, 422 (outside
                # the retention policy): the points are at fault and sending them again
                # cannot help. 401/403/404 (credentials, missing database) are the
                # server's setup, not the points': retry until it is put right.
                if exc.code in (400, 413, 422):
                    raise SeriesRejectedError(f"HTTP {exc.code}: {detail}") from exc
                raise SeriesUnavailableError(f"InfluxDB {path}: HTTP {exc.code}: {detail}") from exc
            raise AggregatorError(f"InfluxDB {path}: HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise SeriesUnavailableError(f"InfluxDB {self._base}: {exc}") from exc
        return json.loads(text) if text else None

    def write(self, points: Sequence[Point]) -> None:
        for i in range(0, len(points), _LINES_PER_REQUEST):
            body = "\n".join(line_protocol(p) for p in points[i : i + _LINES_PER_REQUEST])
            self._request("POST", "/write", {"db": self.database, "precision": "ms"}, body.encode())

    def _query(self, q: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/query", {"db": self.database, "epoch": "ms", "q": q})
        results = (data or {}).get("results") or [{}]
        if "error" in results[0]:
            raise AggregatorError(f"InfluxDB query failed: {results[0]['error']}")
        series: list[dict[str, Any]] = results[0].get("series") or []
        return series

    def _where(
        self, name: str, devices: Sequence[str], start: float, end: float
    ) -> tuple[str, str]:
        """The measurement of record name ``name`` and the condition selecting its points."""
        measurement, tags = series_key(name)
        keys = {k for k, _ in tags}
        conditions = [f"{_ident(k)} = {_literal(v)}" for k, v in tags]
        # A record name without a path must not match the same leaf under a path.
        if "path" not in keys and measurement != TRAFFIC_MEASUREMENT:
            conditions.append("\"path\" = ''")
        conditions.append(f"time >= {round(start * 1000) * 1_000_000}")
        conditions.append(f"time < {round(end * 1000) * 1_000_000}")
        if devices:
            conditions.append("(" + " OR ".join(f'"device" = {_literal(d)}' for d in devices) + ")")
        return measurement, " AND ".join(conditions)

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
        if devices is not None and not devices:
            return []
        measurement, where = self._where(name, devices or (), start, end)
        if every is None:
            q = f'SELECT "value" FROM {_ident(measurement)} WHERE {where} GROUP BY "device"'
        else:
            agg = checked_bucket(every, agg)
            q = (
                f'SELECT {agg}("value") FROM {_ident(measurement)} WHERE {where} '
                f'GROUP BY time({every}s), "device" fill(none)'
            )
        out: list[SeriesPoint] = []
        for item in self._query(q):
            device = str((item.get("tags") or {}).get("device", ""))
            for row in item.get("values") or []:
                if row[1] is not None:
                    out.append(SeriesPoint(device, int(row[0]) / 1000, float(row[1])))
        out.sort(key=lambda p: (p.device, p.time))
        return out

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
        measurement, where = self._where(name, devices or (), start, end)
        q = (
            f'SELECT {agg}("value") FROM {_ident(measurement)} WHERE {where} '
            f"GROUP BY time({every}s) fill(none)"
        )
        out: list[SeriesPoint] = []
        for item in self._query(q):
            for row in item.get("values") or []:
                if row[1] is not None:
                    out.append(SeriesPoint(FLEET, int(row[0]) / 1000, float(row[1])))
        out.sort(key=lambda p: p.time)
        return out

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
        if limit <= 0:
            return []
        measurement, where = self._where(name, (device,), start, end)
        order = "DESC" if newest_first else "ASC"
        q = (
            f'SELECT "value" FROM {_ident(measurement)} WHERE {where} '
            f"ORDER BY time {order} LIMIT {int(limit)} OFFSET {max(int(offset), 0)}"
        )
        return [
            SeriesPoint(device, int(row[0]) / 1000, float(row[1]))
            for item in self._query(q)
            for row in item.get("values") or []
            if row[1] is not None
        ]

    def purge(self, before: float, chunk: int) -> int:
        # InfluxDB deletes by time range in one statement (shards drop whole); the
        # chunk size applies to row stores only.
        statement = f"DELETE WHERE time < {round(before * 1000) * 1_000_000}"
        # Statements that change data must be POSTed on 1.x.
        self._request("POST", "/query", {"db": self.database, "q": statement})
        return -1

    def count(self) -> int:
        total = 0
        for item in self._query('SELECT COUNT("value") FROM /.*/'):
            for row in item.get("values") or []:
                total += int(row[1] or 0)
        return total

    def close(self) -> None:
        return None
