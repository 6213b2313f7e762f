"""All sensors of the device, their readings gathered into one report per interval."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from edge_agent.health.stats import StatsRegistry
from edge_agent.reporting import Submit
from edge_agent.sensors.registry import SensorConfig

if TYPE_CHECKING:
    from edge_agent.quality_windows import QualityWindows
    from edge_agent.sensors import Reading, SensorInterval

log = logging.getLogger(__name__)


class SensorHub:
    """All sensors' readings gathered into one report per interval.

    Readings arrive on each sensor's poller thread; a ticker closes intervals when no
    reading comes, so a silent sensor still yields a report saying it sent nothing.
    Each report carries a quality score per sensor (``<sensor>/qc``, 0..1) from the
    shipped quality model, and that model's id and hash.
    """

    def __init__(
        self,
        sensors: tuple[SensorConfig, ...],
        submit: Submit,
        interval_s: float,
        quality: QualityWindows | None = None,
        *,
        stats: StatsRegistry | None = None,
        stale_intervals: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from edge_agent.sensors import SensorAggregator

        now = clock()
        self._clock = clock
        self._stats = stats
        # A sensor is stale once it has sent nothing for this long (since start, at first).
        self._stale_after_s = stale_intervals * interval_s
        self._last_sample = {s.name: now for s in sensors}
        self._stale: tuple[str, ...] = ()
        self._submit_report = submit
        self._quality = quality
        self._lock = threading.Lock()
        self._aggregator = SensorAggregator(
            interval_s, math.floor(now / interval_s) * interval_s, [s.name for s in sensors]
        )
        self._configs = sensors
        self._pollers: list[Any] = []
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="sensor-ticker", daemon=True)

    def start(self) -> None:
        from edge_agent.sensors import SensorPoller, create_sensor

        for config in self._configs:
            driver = create_sensor(config)
            poller = SensorPoller(driver, self._on_readings, stop=self._stop)
            self._pollers.append(poller)
            poller.start()
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        for poller in self._pollers:
            poller.close()
        self._ticker.join(5)

    def _on_readings(self, name: str, readings: Sequence[Reading]) -> None:
        stats = next(p.driver.stats for p in self._pollers if p.driver.name == name)
        if readings:
            self.note_sample(name)
        with self._lock:
            closed = self._aggregator.add(readings, (name, stats))
        self._submit(closed)

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                closed = self._aggregator.advance(time.time())
            self._submit(closed)
            self.check_stale()

    def note_sample(self, name: str) -> None:
        """Sensor ``name`` delivered a sample now."""
        self._last_sample[name] = self._clock()

    def check_stale(self) -> tuple[str, ...]:
        """The sensors silent for too long; logs each change and tells health."""
        now = self._clock()
        stale = tuple(
            sorted(n for n, at in self._last_sample.items() if now - at > self._stale_after_s)
        )
        for name in sorted(set(stale) - set(self._stale)):
            log.warning("sensor %s: no sample for %.0f s", name, now - self._last_sample[name])
        for name in sorted(set(self._stale) - set(stale)):
            log.info("sensor %s: samples again", name)
        self._stale = stale
        if self._stats is not None:
            self._stats.report_stale_sensors(stale)
        return stale

    def _submit(self, intervals: Sequence[SensorInterval]) -> None:
        for interval in intervals:
            records = interval.records()
            model = None
            if self._quality is not None:
                records += self._quality.score(interval)
                model = self._quality.model
            self._submit_report(int(interval.start), int(interval.end), records, model)
