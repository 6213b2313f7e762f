"""Run a detector over a frame stream with decoding and pre-processing overlapped.

A worker thread pulls frames from the source and prepares the next input while
ONNX Runtime (which releases the GIL) runs the current one, so the model, not the
Python around it, sets the pace.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge_agent.detectors.preprocess import Prepared
from edge_agent.detectors.types import Detections
from edge_agent.sources.prefetch import prefetched


class StagedDetector(Protocol):
    """A detector split into prepare → infer → finish."""

    def prepare(self, frame_bgr: npt.NDArray[np.uint8]) -> Prepared: ...

    def infer(self, prepared: Prepared) -> list[npt.NDArray[np.float32]]: ...

    def finish(self, outputs: list[npt.NDArray[np.float32]], prepared: Prepared) -> Detections: ...


def detect_stream(
    detector: StagedDetector,
    frames: Iterable[npt.NDArray[np.uint8]],
    *,
    depth: int = 2,
) -> Iterator[tuple[npt.NDArray[np.uint8], Detections]]:
    """Yield ``(frame, detections)`` in source order; ``depth`` inputs are prepared ahead."""

    def prepare_all() -> Iterator[tuple[npt.NDArray[np.uint8], Prepared]]:
        for frame in frames:
            yield frame, detector.prepare(frame)

    ahead = prefetched(prepare_all(), depth=depth, name="detect-prepare")
    try:
        for frame, prepared in ahead:
            yield frame, detector.finish(detector.infer(prepared), prepared)
    finally:
        # Stops the preparing thread as soon as the consumer stops, not at collection.
        ahead.close()
