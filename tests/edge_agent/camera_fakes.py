"""Fakes around a camera worker: a detector, a report sink, a source that never delivers."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from edge_agent.detectors.types import Detections
from edge_agent.sources import CameraConfig, SourceEvent
from edge_agent.sources.stream import SourceStats
from fieldproof.wire import ModelRef, Record


class EmptyDetector:
    model_id = "empty"
    sha256 = "0" * 64

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0

    def detect(self, frame_bgr: npt.NDArray[np.uint8]) -> Detections:
        self.calls += 1
        if self.calls <= self.failures:
            raise ValueError("inference failed")
        return Detections.empty()


class Reports:
    def __init__(self) -> None:
        self.items: list[tuple[int, int, tuple[Record, ...], ModelRef | None]] = []

    def __call__(
        self, start: int, end: int, records: Sequence[Record], model: ModelRef | None = None
    ) -> int:
        self.items.append((start, end, tuple(records), model))
        return len(self.items)


def camera(**kw: object) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "name": "door",
            "url": "rtsp://cam.local/s",
            "motion": {"enabled": False},
            "reconnect": {"initial_s": 0.5, "max_s": 30.0, "jitter": 0.5},
            **kw,
        }
    )


class StuckSource:
    """A source whose events never come (a driver blocked in a read)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stats = SourceStats()
        self._stop = stop

    def events(self) -> Iterator[SourceEvent]:
        self._stop.wait()
        return iter(())

    def close(self) -> None:
        self._stop.set()
