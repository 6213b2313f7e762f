"""Motion gate: skip the detector on frames where too little has changed.

The reference is the last frame the detector ran on, not the previous frame, so
slow movement accumulates until it is large enough to wake the detector. A still
scene is still re-checked every ``refresh_s`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.sources.config import MotionConfig


@dataclass(frozen=True, slots=True)
class MotionDecision:
    run_detector: bool
    changed: float  # share of pixels that moved against the reference


class MotionGate:
    """Decides per frame whether the detector should run."""

    def __init__(self, config: MotionConfig) -> None:
        self.config = config
        self._reference: npt.NDArray[np.uint8] | None = None
        self._reference_time = 0.0
        self.frames = 0
        self.skipped = 0

    def _small_grey(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        factor = self.config.downscale
        grey = np.asarray(
            cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image, dtype=np.uint8
        )
        if factor > 1:
            h, w = grey.shape[:2]
            grey = np.asarray(
                cv2.resize(
                    grey, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA
                ),
                dtype=np.uint8,
            )
        result = np.asarray(cv2.GaussianBlur(grey, (5, 5), 0), dtype=np.uint8)
        return result

    def check(self, image: npt.NDArray[np.uint8], timestamp: float) -> MotionDecision:
        self.frames += 1
        cfg = self.config
        if not cfg.enabled:
            return MotionDecision(True, 1.0)
        small = self._small_grey(image)
        reference = self._reference
        if reference is None or reference.shape != small.shape:
            changed = 1.0
        else:
            moved = cv2.absdiff(small, reference) >= cfg.pixel_threshold
            changed = float(np.count_nonzero(moved)) / moved.size
        stale = timestamp - self._reference_time >= cfg.refresh_s
        if reference is None or changed >= cfg.min_changed or stale:
            self._reference = small
            self._reference_time = timestamp
            return MotionDecision(True, changed)
        self.skipped += 1
        return MotionDecision(False, changed)

    @property
    def skipped_share(self) -> float:
        return self.skipped / self.frames if self.frames else 0.0
