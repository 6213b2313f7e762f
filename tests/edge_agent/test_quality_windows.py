"""Quality scores in sensor reports: windows of recent readings through the shipped model."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from edge_agent.health.snapshot import HealthCollector, render_prometheus
from edge_agent.health.stats import StatsRegistry
from edge_agent.quality import QualityScorer
from edge_agent.quality_windows import QualityWindows
from edge_agent.sensors.intervals import SensorInterval, SensorSeries
from fieldproof.protocol import parse_health

WEATHER = Path(__file__).resolve().parents[2] / "models" / "data" / "tmy3-723170.csv"


def _temperatures(count: int) -> list[float]:
    with WEATHER.open() as handle:
        rows = list(csv.DictReader(handle))
    # A stretch inside one month (TMY3 splices months from different years).
    return [float(row["temp"]) for row in rows[100 : 100 + count]]


def _windows(**kwargs: Any) -> QualityWindows:
    # Each test interval lasts one second and holds one hourly reading: a replay at 3600x.
    return QualityWindows(QualityScorer(), time_scale={"wx": 3600.0}, **kwargs)


def _interval(index: int, values: list[float]) -> SensorInterval:
    return SensorInterval(
        float(index), float(index + 1), (SensorSeries("wx/temp", "Cel", tuple(values)),), ()
    )


def test_no_score_until_the_window_holds_enough_readings() -> None:
    windows = _windows()
    temps = _temperatures(QualityWindows.MIN_READINGS)
    for i, value in enumerate(temps[:-1]):
        assert windows.score(_interval(i, [value])) == ()
    (record,) = windows.score(_interval(99, [temps[-1]]))
    assert record.name == "wx/qc"


def test_real_weather_scores_higher_than_a_stuck_sensor() -> None:
    real = _windows()
    stuck = _windows()
    temps = _temperatures(24)
    real_scores = [real.score(_interval(i, [v])) for i, v in enumerate(temps)]
    stuck_scores = [stuck.score(_interval(i, [temps[0]])) for i in range(24)]
    (real_last,) = real_scores[-1]
    (stuck_last,) = stuck_scores[-1]
    assert real_last.value is not None
    assert stuck_last.value is not None
    assert real_last.value > 0.5 > stuck_last.value


def test_out_of_range_reading_scores_zero() -> None:
    windows = _windows()
    temps = _temperatures(12)
    temps[5] = 150.0  # beyond any air temperature on Earth
    (record,) = [windows.score(_interval(i, [v])) for i, v in enumerate(temps)][-1]
    assert record.value == 0.0
    assert windows.model.model_id == QualityScorer().model_id


def test_a_sensor_stuck_long_enough_is_flagged_in_health_and_cleared(tmp_path: Path) -> None:
    stats = StatsRegistry()
    windows = _windows(stats=stats, flag_after_s=6.0)
    temps = _temperatures(48)
    # Real readings, then the sensor freezes at its last value for a day of readings.
    for i, value in enumerate(temps[:24]):
        windows.score(_interval(i, [value]))
    assert stats.sensor_faults() == ()
    for i in range(24, 48):
        windows.score(_interval(i, [temps[23]]))
    (fault,) = stats.sensor_faults()
    assert fault.sensor == "wx"
    assert fault.fault == "stuck"
    health = HealthCollector("0xab", root=tmp_path, disk_path=tmp_path, stats=stats).collect()
    heartbeat = json.loads(json.dumps(health.to_json()))
    assert heartbeat["sensor_faults"] == [{"sensor": "wx", "fault": "stuck", "since": fault.since}]
    assert parse_health(json.dumps(heartbeat).encode()).device == "0xab"
    assert 'fieldproof_sensor_fault{fault="stuck",sensor="wx"} 1.0' in render_prometheus(health)
    # Real weather again: once the frozen stretch has left the window, the flag clears.
    for i, value in enumerate(temps, start=48):
        windows.score(_interval(i, [value]))
    assert stats.sensor_faults() == ()
    assert "fieldproof_sensor_fault{" not in render_prometheus(
        HealthCollector("0xab", root=tmp_path, disk_path=tmp_path, stats=stats).collect()
    )
