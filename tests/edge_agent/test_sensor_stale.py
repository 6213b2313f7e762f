"""A sensor that stops yielding samples is flagged in health and /metrics, then cleared."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.health.snapshot import HealthCollector, render_prometheus
from edge_agent.health.stats import StatsRegistry
from edge_agent.sensor_hub import SensorHub
from edge_agent.sensors.replay import ReplayConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _hub(tmp_path: Path, stats: StatsRegistry, clock: Clock) -> SensorHub:
    sensors = tuple(
        ReplayConfig.model_validate({"name": name, "type": "replay", "path": tmp_path / "x.csv"})
        for name in ("wx", "air")
    )
    return SensorHub(sensors, lambda *a: None, 60.0, stats=stats, stale_intervals=3, clock=clock)


def test_a_silent_sensor_is_flagged_and_cleared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stats, clock = StatsRegistry(), Clock()
    hub = _hub(tmp_path, stats, clock)
    clock.now += 120.0
    hub.note_sample("wx")
    assert hub.check_stale() == ()
    clock.now += 61.0  # "air" has now been silent for 181 s, three intervals and more
    with caplog.at_level("WARNING"):
        assert hub.check_stale() == ("air",)
    assert "sensor air: no sample for 181 s" in caplog.text
    assert stats.stale_sensors() == ("air",)
    snapshot = HealthCollector("0xab", root=tmp_path, disk_path=tmp_path, stats=stats).collect()
    assert snapshot.to_json()["stale_sensors"] == ("air",)
    assert 'fieldproof_sensor_stale{sensor="air"} 1.0' in render_prometheus(snapshot)
    hub.note_sample("air")
    assert hub.check_stale() == ()
    assert stats.stale_sensors() == ()
