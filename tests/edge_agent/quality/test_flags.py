"""Sensor fault flags: raised after a run of faulty windows, cleared by clean ones."""

from __future__ import annotations

import pytest

from edge_agent.errors import AgentValueError
from edge_agent.quality import QualityResult, SensorFaultFlags

CLEAN = QualityResult(0.93, None)
STUCK = QualityResult(0.02, "stuck")
SPIKE = QualityResult(0.1, "spike")
HOUR = 3600.0


def test_flag_raises_after_the_configured_time_and_clears_when_clean() -> None:
    flags = SensorFaultFlags(raise_after_s=3 * HOUR)
    assert flags.update("bme280", CLEAN, 0.0) is None
    assert flags.update("bme280", STUCK, 1 * HOUR) is None
    assert flags.update("bme280", SPIKE, 2 * HOUR) is None
    assert flags.update("bme280", STUCK, 3 * HOUR) is None
    change = flags.update("bme280", STUCK, 4 * HOUR)
    assert change is not None
    assert change.raised
    assert (change.flag.sensor, change.flag.fault, change.flag.since) == ("bme280", "stuck", HOUR)
    assert flags.active() == (change.flag,)
    assert flags.update("bme280", STUCK, 5 * HOUR) is None  # raised once, not again
    cleared = flags.update("bme280", CLEAN, 6 * HOUR)
    assert cleared is not None
    assert not cleared.raised
    assert cleared.flag == change.flag
    assert flags.active() == ()


def test_a_clean_window_resets_the_faulty_stretch() -> None:
    flags = SensorFaultFlags(raise_after_s=2 * HOUR)
    for hour in (0, 1):
        assert flags.update("sds011", SPIKE, hour * HOUR) is None
    assert flags.update("sds011", CLEAN, 2 * HOUR) is None
    assert flags.update("sds011", SPIKE, 3 * HOUR) is None
    assert flags.update("sds011", SPIKE, 4 * HOUR) is None
    change = flags.update("sds011", SPIKE, 5 * HOUR)
    assert change is not None
    assert change.flag.since == 3 * HOUR


def test_clearing_can_wait_for_a_clean_stretch_and_sensors_are_independent() -> None:
    flags = SensorFaultFlags(raise_after_s=0.0, clear_after_s=2 * HOUR)
    raised = flags.update("a", STUCK, 0.0)
    assert raised is not None
    assert raised.raised
    assert flags.update("b", CLEAN, 0.0) is None
    assert flags.update("a", CLEAN, 1 * HOUR) is None
    assert flags.update("a", CLEAN, 2 * HOUR) is None
    assert [f.sensor for f in flags.active()] == ["a"]
    cleared = flags.update("a", CLEAN, 3 * HOUR)
    assert cleared is not None
    assert not cleared.raised
    assert flags.active() == ()


def test_refuses_negative_times() -> None:
    with pytest.raises(AgentValueError):
        SensorFaultFlags(raise_after_s=-1.0)
