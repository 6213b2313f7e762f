"""Polls one sensor driver in its own thread and hands readings to a callback.

A driver error never ends the loop: it is counted, and the next attempt waits
out a capped, growing delay so a missing device is not hammered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from edge_agent.errors import AgentError
from edge_agent.sensors.types import Reading, SensorDriver
from fieldproof.backoff import Backoff, BackoffPolicy

log = logging.getLogger(__name__)

DEFAULT_BACKOFF = BackoffPolicy(initial_s=1.0, max_s=60.0, jitter=0.2)


class SensorPoller:
    """Reads ``driver`` every ``period_s`` until stopped or the driver is exhausted."""

    def __init__(
        self,
        driver: SensorDriver,
        on_readings: Callable[[str, Sequence[Reading]], None],
        *,
        period_s: float = 0.0,
        backoff: BackoffPolicy = DEFAULT_BACKOFF,
        stop: threading.Event | None = None,
    ) -> None:
        self.driver = driver
        self.stop = stop or threading.Event()
        self._on_readings = on_readings
        self._period_s = period_s
        self._backoff = Backoff(backoff)
        self.delays: list[float] = []
        self._thread = threading.Thread(target=self.run, name=f"sensor-{driver.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self.stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.driver.close()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                readings = self.driver.read()
            except (AgentError, OSError) as exc:
                self.driver.stats.errors += 1
                delay = self._backoff.next_delay()
                self.delays.append(delay)
                log.warning("sensor %s: %s; retrying in %.2f s", self.driver.name, exc, delay)
                self.stop.wait(delay)
                continue
            self._backoff.reset()
            if readings is None:
                return
            if readings:
                self._on_readings(self.driver.name, readings)
            if self._period_s > 0.0:
                self.stop.wait(self._period_s)
