"""Run a detector over a frame stream with decoding and pre-processing overlapped.

A worker thread pulls frames from the source and prepares the next input while
ONNX Runtime (which releases the GIL) runs the current one, so the model, not the
Python around it, sets the pace.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge_agent.detectors.preprocess import Prepared
from edge_agent.detectors.types import Detections


class StagedDetector(Protocol):
    """A detector split into prepare → infer → finish."""

    def prepare(self, frame_bgr: npt.NDArray[np.uint8]) -> Prepared: ...

    def infer(self, prepared: Prepared) -> list[npt.NDArray[np.float32]]: ...

    def finish(self, outputs: list[npt.NDArray[np.float32]], prepared: Prepared) -> Detections: ...


@dataclass(frozen=True, slots=True)
class _Failure:
    error: BaseException


_Item = tuple[npt.NDArray[np.uint8], Prepared] | _Failure | None  # None ends the stream


def detect_stream(
    detector: StagedDetector,
    frames: Iterable[npt.NDArray[np.uint8]],
    *,
    depth: int = 2,
) -> Iterator[tuple[npt.NDArray[np.uint8], Detections]]:
    """Yield ``(frame, detections)`` in source order; ``depth`` inputs are prepared ahead."""
    ready: queue.Queue[_Item] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: _Item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for frame in frames:
                if not put((frame, detector.prepare(frame))):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
            return
        put(None)

    worker = threading.Thread(target=produce, name="detect-prepare", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is None:
                return
            if isinstance(item, _Failure):
                raise item.error
            frame, prepared = item
            yield frame, detector.finish(detector.infer(prepared), prepared)
    finally:
        stop.set()
        worker.join(timeout=5)
