"""All sensors of the device, their readings gathered into one report per interval."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from edge_agent.reporting import Submit
from edge_agent.sensors.registry import SensorConfig

if TYPE_CHECKING:
    from edge_agent.quality_windows import QualityWindows
    from edge_agent.sensors import Reading, SensorInterval


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
    ) -> None:
        from edge_agent.sensors import SensorAggregator

        now = time.time()
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
        with self._lock:
            closed = self._aggregator.add(readings, (name, stats))
        self._submit(closed)

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                closed = self._aggregator.advance(time.time())
            self._submit(closed)

    def _submit(self, intervals: Sequence[SensorInterval]) -> None:
        for interval in intervals:
            records = interval.records()
            model = None
            if self._quality is not None:
                records += self._quality.score(interval)
                model = self._quality.model
            self._submit_report(int(interval.start), int(interval.end), records, model)
