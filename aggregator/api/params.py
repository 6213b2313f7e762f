"""Parsing of query parameters; every error names the parameter it is about."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aggregator.api.errors import ParameterError
from aggregator.series.base import AGGREGATES, Aggregate

_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(value: str, parameter: str) -> float:
    """Unix seconds (``1700000000``, ``1700000000.5``) or ISO 8601 (UTC when no zone)."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ParameterError(
            parameter, f"expected Unix seconds or an ISO 8601 time, got {value!r}"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_duration(value: str, parameter: str) -> int:
    """``90s``, ``15m``, ``1h``, ``1d`` or plain seconds; must be positive."""
    text = value.strip()
    if text.isdigit():
        seconds = int(text)
    else:
        match = _DURATION.match(text)
        if match is None:
            raise ParameterError(
                parameter, f"expected a duration such as 60s, 15m, 1h or 1d, got {value!r}"
            )
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ParameterError(parameter, "must be positive")
    return seconds


def parse_device(value: str, parameter: str = "device") -> bytes:
    """A device id: 32 bytes as (0x-)hex."""
    text = value.strip().lower().removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise ParameterError(parameter, f"not hex: {value!r}") from exc
    if len(raw) != 32:
        raise ParameterError(parameter, f"expected 32 bytes (64 hex digits), got {len(raw)}")
    return raw


def parse_devices(values: list[str], parameter: str = "device") -> list[bytes]:
    out: list[bytes] = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                out.append(parse_device(part, parameter))
    return out


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """``min_lon,min_lat,max_lon,max_lat`` (the GeoJSON order)."""
    parts = value.split(",")
    if len(parts) != 4:
        raise ParameterError("bbox", "expected min_lon,min_lat,max_lon,max_lat")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError as exc:
        raise ParameterError("bbox", f"not numbers: {value!r}") from exc
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise ParameterError(
            "bbox", "needs -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90"
        )
    return west, south, east, north


def parse_agg(value: str | None, every: int | None) -> Aggregate | None:
    if value is None:
        return "mean" if every is not None else None
    if value not in AGGREGATES:
        raise ParameterError("agg", f"expected one of {', '.join(AGGREGATES)}, got {value!r}")
    if every is None:
        raise ParameterError("agg", "needs 'every' (the bucket length)")
    agg: Aggregate = value  # type: ignore[assignment]
    return agg


def parse_range(start: str, end: str, max_days: float) -> tuple[float, float]:
    t0 = parse_time(start, "start")
    t1 = parse_time(end, "end")
    if t1 <= t0:
        raise ParameterError("end", "must be after start")
    if t1 - t0 > max_days * 86400:
        raise ParameterError("end", f"the range may span at most {max_days:g} days")
    return t0, t1
