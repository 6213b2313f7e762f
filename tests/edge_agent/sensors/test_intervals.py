from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from edge_agent.sensors.intervals import SensorAggregator
from edge_agent.sensors.poller import SensorPoller
from edge_agent.sensors.replay import ReplayConfig, ReplayDriver
from edge_agent.sensors.types import DriverStats, Reading
from fieldproof.backoff import BackoffPolicy


def test_means_per_interval_with_health() -> None:
    agg = SensorAggregator(60.0, 0.0, sensors=["env"])
    stats = DriverStats()
    closed = []
    for t in range(0, 150, 10):
        stats.samples += 1
        if t == 70:
            stats.bad_frames += 1
        closed += agg.add([Reading("env/temp", "Cel", 20.0 + t / 10, float(t))], ("env", stats))
    closed += agg.advance(180.0)
    assert [(c.start, c.end) for c in closed] == [(0.0, 60.0), (60.0, 120.0), (120.0, 180.0)]
    first = {r.name: r.value for r in closed[0].records()}
    assert first["env/temp"] == pytest.approx(22.5)  # mean of 20.0 .. 25.0
    assert first["env/samples"] == 6.0
    second = {r.name: r.value for r in closed[1].records()}
    assert second["env/bad_frames"] == 1.0
    assert closed[1].series[0].values == (26.0, 27.0, 28.0, 29.0, 30.0, 31.0)
    units = {r.name: r.unit for r in closed[0].records()}
    assert units["env/temp"] == "Cel"


def test_silent_sensor_reports_zero_samples_not_a_value() -> None:
    agg = SensorAggregator(10.0, 0.0, sensors=["pm"])
    (interval,) = agg.advance(10.0)
    assert {r.name: r.value for r in interval.records()} == {
        "pm/samples": 0.0,
        "pm/bad_frames": 0.0,
    }


def test_poller_feeds_replayed_rows_until_the_file_ends(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "wx.csv"
    path.write_text("time,temp,rh\n0,10.5,80\n60,11.0,79\n120,11.5,78\n")
    driver = ReplayDriver(
        ReplayConfig(name="wx", type="replay", path=path, realtime=False, retime=False)
    )
    agg = SensorAggregator(60.0, 0.0)
    lock = threading.Lock()
    closed = []

    def sink(sensor: str, readings: Sequence[Reading]) -> None:
        with lock:
            closed.extend(agg.add(readings, (sensor, driver.stats)))

    poller = SensorPoller(driver, sink)
    poller.start()
    poller._thread.join(5.0)
    assert not poller._thread.is_alive()
    closed += agg.advance(180.0)
    temps = [r.value for c in closed for r in c.records() if r.name == "wx/temp"]
    assert temps == [10.5, 11.0, 11.5]
    assert [r.value for r in closed[0].records() if r.name == "wx/samples"] == [1.0]


class FlakyDriver:
    """Fails three times, then gives one sample, then is exhausted."""

    name = "flaky"

    def __init__(self) -> None:
        self.stats = DriverStats()
        self.calls = 0
        self.closed = False

    def read(self) -> Sequence[Reading] | None:
        self.calls += 1
        if self.calls <= 3:
            raise OSError(5, "Input/output error")
        if self.calls == 4:
            return [Reading("flaky/temp", "Cel", 1.0, 0.0)]
        return None

    def close(self) -> None:
        self.closed = True


def test_poller_backs_off_on_errors_and_survives() -> None:
    driver = FlakyDriver()
    got: list[Sequence[Reading]] = []
    poller = SensorPoller(
        driver, lambda _, r: got.append(r), backoff=BackoffPolicy(0.01, 0.03, jitter=0.0)
    )
    poller.run()  # in this thread: returns once the driver is exhausted
    assert poller.delays == [0.01, 0.02, 0.03]
    assert driver.stats.errors == 3
    assert len(got) == 1
    poller.close()
    assert driver.closed
