"""Sensor readings gathered per interval into SenML records.

Each metric's interval value is the mean of its readings; the raw series stays
available for quality scoring. An interval without a single reading from a
sensor reports its sample count as 0 rather than inventing a value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge_agent.errors import AgentValueError
from edge_agent.sensors.types import DriverStats, Reading
from fieldproof.wire import Record

MAX_EMPTY_INTERVALS = 100_000


@dataclass(frozen=True, slots=True)
class SensorSeries:
    """One metric's readings within an interval, in arrival order."""

    name: str
    unit: str
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / len(self.values)


@dataclass(frozen=True, slots=True)
class SensorHealth:
    """What a driver counted during the interval."""

    sensor: str
    samples: int
    bad_frames: int
    errors: int


@dataclass(frozen=True, slots=True)
class SensorInterval:
    start: float
    end: float
    series: tuple[SensorSeries, ...]
    health: tuple[SensorHealth, ...]

    def records(self) -> tuple[Record, ...]:
        # No per-record time: the report's interval start and end already say when.
        out = [Record(name=s.name, unit=s.unit, value=s.mean) for s in self.series]
        for h in self.health:
            out.append(Record(name=f"{h.sensor}/samples", unit="count", value=h.samples))
            out.append(Record(name=f"{h.sensor}/bad_frames", unit="count", value=h.bad_frames))
        return tuple(out)


class SensorAggregator:
    """Collects readings of several sensors into aligned intervals."""

    def __init__(self, interval_s: float, origin: float, sensors: Iterable[str] = ()) -> None:
        if not interval_s > 0.0 or not math.isfinite(interval_s):
            raise AgentValueError(f"sensor interval must be positive, got {interval_s}")
        self.interval_s = float(interval_s)
        self.origin = float(origin)
        self._sensors = list(sensors)
        self._index = 0
        self._values: dict[str, tuple[str, list[float]]] = {}
        self._baseline: dict[str, DriverStats] = {}
        self._current: dict[str, DriverStats] = {}

    @property
    def _end(self) -> float:
        return self.origin + (self._index + 1) * self.interval_s

    def add(
        self, readings: Sequence[Reading], stats: tuple[str, DriverStats] | None = None
    ) -> list[SensorInterval]:
        """Account one sample's readings (and its driver's counters after taking it).

        Readings past the open interval close it first, so counters always land in
        the interval their sample belongs to.
        """
        closed: list[SensorInterval] = []
        for reading in readings:
            closed += self.advance(reading.time)
            _unit, values = self._values.setdefault(reading.name, (reading.unit, []))
            values.append(reading.value)
        if stats is not None:
            self.stats(*stats)
        return closed

    def stats(self, sensor: str, stats: DriverStats) -> None:
        """The driver's cumulative counters now; intervals report the increase."""
        if sensor not in self._sensors:
            self._sensors.append(sensor)
        self._current[sensor] = DriverStats(
            stats.samples, stats.bad_frames, stats.skipped_bytes, stats.errors
        )

    def advance(self, now: float) -> list[SensorInterval]:
        closed = []
        if now >= self._end:
            skip = math.floor((now - self._end) / self.interval_s)
            if skip > MAX_EMPTY_INTERVALS:
                # The clock jumped (first time sync after boot): realign, don't emit years.
                closed.append(self._close())
                self._index += skip
        while now >= self._end:
            closed.append(self._close())
        return closed

    def _close(self) -> SensorInterval:
        start = self.origin + self._index * self.interval_s
        series = tuple(
            SensorSeries(name, unit, tuple(values))
            for name, (unit, values) in sorted(self._values.items())
            if values
        )
        health = []
        for sensor in self._sensors:
            now = self._current.get(sensor, DriverStats())
            before = self._baseline.get(sensor, DriverStats())
            health.append(
                SensorHealth(
                    sensor,
                    samples=now.samples - before.samples,
                    bad_frames=now.bad_frames - before.bad_frames,
                    errors=now.errors - before.errors,
                )
            )
            self._baseline[sensor] = now
        self._values = {}
        self._index += 1
        return SensorInterval(start, start + self.interval_s, series, tuple(health))
