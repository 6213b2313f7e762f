"""Parsing of query parameters; every error names the parameter it is about."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from aggregator.api.errors import ParameterError
from aggregator.series.base import AGGREGATES, Aggregate

_DURATION = re.compile(r"([0-9]+)(s|m|h|d)?")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}

# Patterns the OpenAPI document states; the parsers below accept what they match.
DEVICE_PATTERN = r"^(0[xX])?[0-9a-fA-F]{64}$"
ADDRESS_PATTERN = r"^(0[xX])?[0-9a-fA-F]{40}$"
DURATION_PATTERN = r"^[0-9]+(s|m|h|d)?$"
# Sequence numbers, epochs and cursors are stored as signed 64-bit integers.
MAX_INT = 2**63 - 1
# Longest bucket or duration: a century, far past any range a query may span.
MAX_DURATION_S = 100 * 366 * 86400
# Times from year 1 to 9999, as Unix seconds.
MAX_TIME_S = 253_402_300_800


def parse_time(value: str, parameter: str) -> float:
    """Unix seconds (``1700000000``, ``1700000000.5``) or ISO 8601 (UTC when no zone)."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            seconds = parsed.timestamp()
        except (ValueError, OverflowError) as exc:
            raise ParameterError(
                parameter, f"expected Unix seconds or an ISO 8601 time, got {value!r}"
            ) from exc
    if not math.isfinite(seconds) or abs(seconds) > MAX_TIME_S:
        raise ParameterError(parameter, f"expected a finite time within ±{MAX_TIME_S}s")
    return seconds


def parse_duration(value: str, parameter: str) -> int:
    """``90s``, ``15m``, ``1h``, ``1d`` or plain seconds; must be positive."""
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise ParameterError(
            parameter, f"expected a duration such as 60s, 15m, 1h or 1d, got {value!r}"
        )
    digits = match.group(1).lstrip("0")
    if len(digits) > len(str(MAX_DURATION_S)):
        raise ParameterError(parameter, f"must be at most {MAX_DURATION_S}s")
    seconds = int(digits or "0") * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ParameterError(parameter, "must be positive")
    if seconds > MAX_DURATION_S:
        raise ParameterError(parameter, f"must be at most {MAX_DURATION_S}s")
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
