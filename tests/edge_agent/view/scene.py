"""A synthetic street for the view and shadow tests: a textured "person" walks down the
frame again and again, and a detector that finds it by its colour."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from edge_agent.detectors.types import Detections
from edge_agent.sources.events import Frame, SourceEvent
from edge_agent.sources.stream import SourceStats

WIDTH, HEIGHT = 320, 240
BOX_W, BOX_H = 40, 60
# One walk from the top to the bottom takes this many frames.
WALK_FRAMES = 30


def person_box(index: int) -> tuple[int, int, int, int]:
    """Where the person stands in frame ``index``: x1, y1, x2, y2."""
    step = index % WALK_FRAMES
    top = 10 + step * (HEIGHT - BOX_H - 20) // (WALK_FRAMES - 1)
    left = 140
    return left, top, left + BOX_W, top + BOX_H


def scene_frame(index: int) -> npt.NDArray[np.uint8]:
    """A grey street with the person: a red and white checkerboard of 4-pixel squares."""
    image = np.full((HEIGHT, WIDTH, 3), 90, dtype=np.uint8)
    x1, y1, x2, y2 = person_box(index)
    ys, xs = np.mgrid[y1:y2, x1:x2]
    checker = ((xs // 4 + ys // 4) % 2).astype(bool)
    patch = np.empty((y2 - y1, x2 - x1, 3), dtype=np.uint8)
    patch[checker] = (0, 0, 255)
    patch[~checker] = (255, 255, 255)
    image[y1:y2, x1:x2] = patch
    return image


class SceneDetector:
    """Finds the person by its red squares; ``shift`` moves its boxes (a worse model)."""

    model_id = "scene-detector"
    sha256 = "5" * 64

    def __init__(self, shift: float = 0.0, model_id: str = "scene-detector") -> None:
        self.shift = shift
        self.model_id = model_id
        self.calls = 0

    def detect(self, frame_bgr: npt.NDArray[np.uint8]) -> Detections:
        self.calls += 1
        red = (frame_bgr[:, :, 2] > 200) & (frame_bgr[:, :, 1] < 60)
        ys, xs = np.nonzero(red)
        if xs.size == 0:
            return Detections.empty()
        box = [xs.min() + self.shift, ys.min(), xs.max() + 1 + self.shift, ys.max() + 1]
        return Detections(
            boxes=np.array([box], dtype=np.float32),
            scores=np.array([0.9], dtype=np.float32),
            class_ids=np.array([0], dtype=np.int64),
        )


class SceneSource:
    """Frames of the scene at ``fps`` in real time until stopped (or ``frames`` run out)."""

    def __init__(
        self,
        stop: threading.Event,
        fps: float = 30.0,
        frames: int | None = None,
        *,
        still: bool = False,
    ) -> None:
        self.stats = SourceStats()
        self._stop = stop
        self._period = 1.0 / fps
        self._frames = frames
        self._still = still

    def events(self) -> Iterator[SourceEvent]:
        index = 0
        while not self._stop.is_set() and (self._frames is None or index < self._frames):
            yield Frame(scene_frame(0 if self._still else index), index, time.time())
            index += 1
            self._stop.wait(self._period)

    def close(self) -> None:
        self._stop.set()


def scene_frames(count: int, start: float = 1000.0, fps: float = 10.0) -> list[Frame]:
    """``count`` frames of the scene in video time from ``start``."""
    return [Frame(scene_frame(i), i, start + i / fps) for i in range(count)]
