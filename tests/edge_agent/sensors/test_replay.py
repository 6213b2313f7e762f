from __future__ import annotations

import csv
import itertools
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edge_agent.errors import AgentError
from edge_agent.sensors.replay import ReplayConfig, ReplayDriver

TMY3 = Path(__file__).resolve().parents[3] / "models" / "data" / "tmy3-723170.csv"


class FakeTime:
    def __init__(self) -> None:
        self.now = 5000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def config(path: Path, **kw: object) -> ReplayConfig:
    return ReplayConfig.model_validate({"name": "wx", "type": "replay", "path": path, **kw})


def test_tmy3_hourly_rows_at_3600x(tmp_path: Path) -> None:
    t = FakeTime()
    driver = ReplayDriver(
        config(TMY3, columns=["temp", "rh", "pres"], speed=3600.0), clock=t.clock, sleep=t.sleep
    )
    samples = [driver.read() for _ in range(4)]
    # One hour of file time per second of replay.
    assert t.sleeps == pytest.approx([1.0, 1.0, 1.0])
    first = {r.name: (r.value, r.unit) for r in samples[0] or []}
    with TMY3.open() as handle:
        row = next(csv.DictReader(handle))
    assert first == {
        "wx/temp": (float(row["temp"]), "Cel"),
        "wx/rh": (float(row["rh"]), "%RH"),
        "wx/pres": (float(row["pres"]), "Pa"),
    }
    assert [s[0].time for s in samples if s] == pytest.approx([5000.0, 5001.0, 5002.0, 5003.0])


def test_file_times_kept_and_unpaced(tmp_path: Path) -> None:
    t = FakeTime()
    driver = ReplayDriver(
        config(TMY3, columns=["temp"], realtime=False, retime=False), clock=t.clock, sleep=t.sleep
    )
    reading = (driver.read() or [])[0]
    assert reading.time == datetime.fromisoformat("1988-01-01T06:00:00+00:00").timestamp()
    assert t.sleeps == []


def test_parquet_with_bad_values_and_loop(tmp_path: Path) -> None:
    path = tmp_path / "pm.parquet"
    table = pa.table(
        {"time": [0.0, 10.0, 20.0], "pm25": [5.0, None, 7.5], "noise_db": [40.0, 41.0, 42.0]}
    )
    pq.write_table(table, path)
    t = FakeTime()
    cfg = config(path, units={"noise_db": "dB"}, speed=10.0, loop=True)
    driver = ReplayDriver(cfg, clock=t.clock, sleep=t.sleep)
    rows = [driver.read() for _ in range(5)]
    assert [[(r.name, r.value) for r in row or []] for row in rows[:3]] == [
        [("wx/noise_db", 40.0), ("wx/pm25", 5.0)],
        [("wx/noise_db", 41.0)],
        [("wx/noise_db", 42.0), ("wx/pm25", 7.5)],
    ]
    assert driver.stats.bad_frames == 2  # the empty pm25 cell, met again on the second loop
    times = [row[0].time for row in rows if row]
    assert times == sorted(times)
    assert len(set(times)) == 5  # looping keeps time moving forward


def test_end_of_file_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("time,temp,mystery\n1,20.5,3\nnot-a-time,21,4\n")
    driver = ReplayDriver(config(path, realtime=False))
    assert [(r.name, r.value) for r in driver.read() or []] == [("wx/temp", 20.5)]
    assert driver.read() is None
    assert driver.stats.bad_frames == 1
    with pytest.raises(AgentError, match="'mystery' is not a catalogued metric"):
        ReplayDriver(config(path, columns=["mystery"]))
    with pytest.raises(AgentError, match="no time column 'ts'"):
        ReplayDriver(config(path, time_column="ts"))
    with pytest.raises(AgentError, match="cannot read"):
        ReplayDriver(config(tmp_path / "missing.csv"))


def test_time_jumps_and_reversals_replay_at_the_nominal_interval(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "spliced.csv"
    # Hourly rows; a year-long hole after row 2; a step back in time after row 4.
    times = [0, 3600, 7200, 7200 + 365 * 86400, 7200 + 365 * 86400 + 3600, 3600 * 5, 3600 * 6]
    path.write_text("time,temp\n" + "".join(f"{t},{i}.0\n" for i, t in enumerate(times)))
    t = FakeTime()
    driver = ReplayDriver(config(path, speed=3600.0), clock=t.clock, sleep=t.sleep)
    assert driver.nominal_interval() == 3600.0
    with caplog.at_level("WARNING"):
        rows = [driver.read() for _ in range(len(times))]
    # The sensor keeps producing a sample every replayed second: no year of silence.
    assert all(row for row in rows)
    stamps = [row[0].time for row in rows if row]
    assert [b - a for a, b in itertools.pairwise(stamps)] == [1.0] * (len(times) - 1)
    assert max(t.sleeps) <= 1.0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2
    assert "row 3" in warnings[0]
    assert "row 5" in warnings[1]
