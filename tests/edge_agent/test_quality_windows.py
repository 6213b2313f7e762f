"""Quality scores in sensor reports: windows of recent readings through the shipped model."""

from __future__ import annotations

import csv
from pathlib import Path

from edge_agent.quality import QualityScorer
from edge_agent.quality_windows import QualityWindows
from edge_agent.sensors.intervals import SensorInterval, SensorSeries

WEATHER = Path(__file__).resolve().parents[2] / "models" / "data" / "tmy3-723170.csv"


def _temperatures(count: int) -> list[float]:
    with WEATHER.open() as handle:
        rows = list(csv.DictReader(handle))
    # A stretch inside one month (TMY3 splices months from different years).
    return [float(row["temp"]) for row in rows[100 : 100 + count]]


def _interval(index: int, values: list[float]) -> SensorInterval:
    return SensorInterval(
        float(index), float(index + 1), (SensorSeries("wx/temp", "Cel", tuple(values)),), ()
    )


def test_no_score_until_the_window_holds_enough_readings() -> None:
    windows = QualityWindows(QualityScorer())
    temps = _temperatures(QualityWindows.MIN_READINGS)
    for i, value in enumerate(temps[:-1]):
        assert windows.score(_interval(i, [value])) == ()
    (record,) = windows.score(_interval(99, [temps[-1]]))
    assert record.name == "wx/qc"


def test_real_weather_scores_higher_than_a_stuck_sensor() -> None:
    real = QualityWindows(QualityScorer())
    stuck = QualityWindows(QualityScorer())
    temps = _temperatures(24)
    real_scores = [real.score(_interval(i, [v])) for i, v in enumerate(temps)]
    stuck_scores = [stuck.score(_interval(i, [temps[0]])) for i in range(24)]
    (real_last,) = real_scores[-1]
    (stuck_last,) = stuck_scores[-1]
    assert real_last.value is not None
    assert stuck_last.value is not None
    assert real_last.value > 0.5 > stuck_last.value


def test_out_of_range_reading_scores_zero() -> None:
    windows = QualityWindows(QualityScorer())
    temps = _temperatures(12)
    temps[5] = 150.0  # beyond any air temperature on Earth
    (record,) = [windows.score(_interval(i, [v])) for i, v in enumerate(temps)][-1]
    assert record.value == 0.0
    assert windows.model.model_id == QualityScorer().model_id
