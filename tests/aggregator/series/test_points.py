"""SenML records → series points: the mapping, and the fast path for stored reports."""

from __future__ import annotations

from aggregator.series.points import points_from_report, points_from_stored, series_key
from fieldproof.wire import Record, decode_report, sign_report
from tests.aggregator.reports import new_device


def test_series_keys() -> None:
    assert series_key("temp") == ("temp", ())
    assert series_key("bme280/temp") == ("temp", (("path", "bme280"),))
    assert series_key("line1/car/in") == (
        "traffic",
        (("class", "car"), ("direction", "in"), ("line", "line1")),
    )
    assert series_key("zone1/person/occupancy_max") == (
        "occupancy_max",
        (("path", "zone1/person"),),
    )


def test_stored_fast_path_equals_the_strict_decoder() -> None:
    device = new_device()
    records = (
        Record(name="temp", value=21.5, time=1_700_000_000.0),
        Record(name="cam0/uptime", unit="s", value=59.0),
        Record(name="line1/bus/out", unit="count", sum=12.0, time=1_700_000_030.0),
        Record(name="cam0/label", string_value="north gate"),
    )
    raw = sign_report(device.report(1, start=1_700_000_000, records=records), device.key)
    points = points_from_stored(raw)
    assert points == points_from_report(decode_report(raw).report)
    assert [(p.measurement, p.time_ms, p.value) for p in points] == [
        ("temp", 1_700_000_000_000, 21.5),
        ("uptime", 1_700_000_000_000, 59.0),
        ("traffic", 1_700_000_030_000, 12.0),
    ]
