"""Per-run latency record with percentiles."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Summary of recent run latencies in milliseconds."""

    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float


class LatencyTracker:
    """Keeps the last ``window`` latencies (seconds in, milliseconds out); thread-safe."""

    def __init__(self, window: int = 2048) -> None:
        self._samples: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._samples.append(seconds * 1000.0)

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()

    def stats(self) -> LatencyStats:
        with self._lock:
            samples = np.asarray(self._samples, dtype=np.float64)
        if samples.size == 0:
            return LatencyStats(count=0, mean_ms=0.0, p50_ms=0.0, p95_ms=0.0, max_ms=0.0)
        p50, p95 = np.percentile(samples, [50, 95])
        return LatencyStats(
            count=int(samples.size),
            mean_ms=float(samples.mean()),
            p50_ms=float(p50),
            p95_ms=float(p95),
            max_ms=float(samples.max()),
        )
