"""Frames of the shipped sample video, read once per test session."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

VIDEO = Path(__file__).resolve().parents[3] / "models" / "vtest.avi"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@cache
def vtest_frames(step: int = 40, count: int = 8) -> tuple[npt.NDArray[np.uint8], ...]:
    """Every ``step``-th frame of vtest.avi, ``count`` of them."""
    capture = cv2.VideoCapture(str(VIDEO))
    frames = []
    index = 0
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(np.asarray(frame, dtype=np.uint8))
        index += 1
    capture.release()
    assert len(frames) == count, f"could not read {count} frames from {VIDEO}"
    return tuple(frames)
