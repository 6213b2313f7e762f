"""The small interface the perception side fills with per-camera and inference figures."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CameraHealth:
    """One camera as last reported."""

    name: str
    fps: float
    dropped_frames: int
    connected: bool
    updated_at: float


@dataclass(frozen=True, slots=True)
class SensorFault:
    """A sensor whose quality windows have stayed faulty since ``since``."""

    sensor: str
    fault: str | None
    since: float


class PerceptionStats(Protocol):
    """What sources and the inference loop call; cheap, thread-safe, never blocking."""

    def report_camera(
        self, name: str, *, fps: float, dropped_frames: int, connected: bool
    ) -> None: ...

    def report_inference_ms(self, milliseconds: float) -> None: ...


class StatsRegistry:
    """Thread-safe store behind :class:`PerceptionStats`; the heartbeat reads snapshots."""

    def __init__(self, window: int = 256, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._cameras: dict[str, CameraHealth] = {}
        self._inference: deque[float] = deque(maxlen=window)
        self._sensor_faults: tuple[SensorFault, ...] = ()
        self._stale_sensors: tuple[str, ...] = ()
        self._clock = clock

    def report_camera(self, name: str, *, fps: float, dropped_frames: int, connected: bool) -> None:
        with self._lock:
            self._cameras[name] = CameraHealth(name, fps, dropped_frames, connected, self._clock())

    def report_inference_ms(self, milliseconds: float) -> None:
        with self._lock:
            self._inference.append(milliseconds)

    def report_sensor_faults(self, faults: tuple[SensorFault, ...]) -> None:
        """The sensors flagged now (replaces the previous set)."""
        with self._lock:
            self._sensor_faults = faults

    def sensor_faults(self) -> tuple[SensorFault, ...]:
        with self._lock:
            return self._sensor_faults

    def report_stale_sensors(self, names: tuple[str, ...]) -> None:
        """The sensors that have sent no sample for too long (replaces the previous set)."""
        with self._lock:
            self._stale_sensors = names

    def stale_sensors(self) -> tuple[str, ...]:
        with self._lock:
            return self._stale_sensors

    def cameras(self) -> tuple[CameraHealth, ...]:
        with self._lock:
            return tuple(self._cameras[name] for name in sorted(self._cameras))

    def inference_ms(self) -> tuple[float | None, float | None]:
        """Mean and 95th percentile over the recent window (None before the first frame)."""
        with self._lock:
            values = sorted(self._inference)
        if not values:
            return None, None
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        return sum(values) / len(values), p95
