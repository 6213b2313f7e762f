"""From SenML records to series points, the same mapping for every series backend.

* ``line1/car/in`` (``<line>/<class>/<in|out>``, a traffic count) → measurement
  ``traffic`` with tags ``line``, ``class``, ``direction``;
* any other name → measurement = its last part (``bme280/temp`` → ``temp``) with the
  rest as tag ``path`` (absent when there is none).

Every point also has tag ``device`` (0x-hex id) and one float field ``value``, at the
record's time (else the interval start), in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fieldproof.wire import Record, Report, decode_report

TRAFFIC_MEASUREMENT = "traffic"
DIRECTIONS = ("in", "out")

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Point:
    """One value of one series."""

    measurement: str
    tags: Tags
    device: str
    time_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One row of a query result: a device's value (or bucket aggregate) at ``time`` (s)."""

    device: str
    time: float
    value: float


def series_key(name: str) -> tuple[str, Tags]:
    """Measurement and sorted tags (without ``device``) for a record name."""
    parts = name.split("/")
    if len(parts) == 3 and parts[2] in DIRECTIONS and all(parts):
        return TRAFFIC_MEASUREMENT, (
            ("class", parts[1]),
            ("direction", parts[2]),
            ("line", parts[0]),
        )
    path = "/".join(parts[:-1])
    return parts[-1], ((("path", path),) if path else ())


def points_from_report(report: Report) -> list[Point]:
    """The numeric records of ``report`` as points (text, bool and data values are not series)."""
    return _points("0x" + report.device_id.hex(), report.start, report.records)


def points_from_stored(raw: bytes) -> list[Point]:
    """Points of a report from the ledger."""
    return points_from_report(decode_report(raw).report)


def _points(device: str, start: int, records: Sequence[Record]) -> list[Point]:
    out: list[Point] = []
    for record in records:
        value = record.value if record.value is not None else record.sum
        if value is None:
            continue
        measurement, tags = series_key(record.name)
        when = record.time if record.time is not None else float(start)
        out.append(Point(measurement, tags, device, round(when * 1000), float(value)))
    return out


def tags_text(tags: Tags) -> str:
    """Canonical text form of a tag set (the SQLite backend's key)."""
    return ",".join(f"{key}={value}" for key, value in tags)
