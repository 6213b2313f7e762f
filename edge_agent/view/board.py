"""What the view shows of each camera: its latest frame, detections, tracks and counts.

The board is a frame observer of the camera workers: it runs on each camera's thread
and only keeps references (a decoded frame is a new array each read), and it keeps a
frame only while someone watched the view recently, at most ``frames_per_s`` a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.analytics.config import LineConfig
from edge_agent.camera_pipeline import PerceptionPipeline
from edge_agent.detectors.types import COCO_CLASSES
from edge_agent.sources.config import CameraConfig
from edge_agent.sources.events import Frame
from edge_agent.view.config import ViewConfig
from edge_agent.view.redact import REDACTED_IDS, Box

# Frames are kept while the view was asked for one within this many seconds.
WATCH_S = 15.0


@dataclass(frozen=True, slots=True)
class FrameShot:
    """One kept frame and the person and vehicle boxes to blur in it."""

    camera: CameraConfig
    image: npt.NDArray[np.uint8]
    at: float
    sensitive: tuple[Box, ...]


@dataclass(slots=True)
class _Camera:
    camera: CameraConfig
    pending: CameraConfig | None = None
    at: float | None = None
    size: tuple[int, int] | None = None
    detections: list[dict[str, Any]] = field(default_factory=list)
    tracks: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    lines: dict[str, LineConfig] = field(default_factory=dict)
    shot: FrameShot | None = None
    kept_at: float = 0.0


def _class_name(class_id: int) -> str:
    return COCO_CLASSES[class_id] if 0 <= class_id < len(COCO_CLASSES) else str(class_id)


def _box(values: Any) -> list[float]:
    return [round(float(v), 1) for v in values]


class ViewBoard:
    """The latest of every camera, fed by :meth:`observe`, read by the view's server."""

    def __init__(self, config: ViewConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._cameras: dict[str, _Camera] = {}
        self._watched_until = 0.0

    def watch(self) -> None:
        """Someone looks at the view: keep frames for a while."""
        with self._lock:
            self._watched_until = self._clock() + WATCH_S

    def observe(self, frame: Frame, pipeline: PerceptionPipeline) -> None:
        camera = pipeline.camera
        now = self._clock()
        with self._lock:
            entry = self._cameras.get(camera.name)
            if entry is None or entry.camera.url != camera.url:
                entry = self._cameras[camera.name] = _Camera(camera)
            entry.camera = camera
            entry.pending = pipeline.pending
            self._count(entry, pipeline)
            entry.at = frame.timestamp
            entry.size = (int(frame.image.shape[1]), int(frame.image.shape[0]))
            detections = pipeline.last_detections
            entry.detections = [
                {"box": _box(box), "class": _class_name(int(c)), "score": round(float(s), 3)}
                for box, c, s in zip(
                    detections.boxes, detections.class_ids, detections.scores, strict=True
                )
            ]
            entry.tracks = [
                {"id": t.track_id, "box": _box(t.box), "class": _class_name(t.class_id)}
                for t in pipeline.last_tracks
            ]
            if now <= self._watched_until and now - entry.kept_at >= 1.0 / self.config.frames_per_s:
                entry.kept_at = now
                sensitive: list[Box] = [
                    (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
                    for b, c in zip(detections.boxes, detections.class_ids, strict=True)
                    if int(c) in REDACTED_IDS
                ]
                sensitive += [t.box for t in pipeline.last_tracks if t.class_id in REDACTED_IDS]
                entry.shot = FrameShot(camera, frame.image, frame.timestamp, tuple(sensitive))

    def _count(self, entry: _Camera, pipeline: PerceptionPipeline) -> None:
        # Counts run from when a line took its present place; a moved line starts at zero.
        lines = {line.name: line for line in pipeline.camera.lines}
        for name, line in lines.items():
            if entry.lines.get(name) != line:
                entry.counts[name] = {"in": 0, "out": 0}
        for name in set(entry.counts) - set(lines):
            del entry.counts[name]
        entry.lines = lines
        for crossing in pipeline.last_crossings:
            if crossing.line in entry.counts:
                entry.counts[crossing.line][crossing.direction] += 1

    def set_pending(self, camera: CameraConfig) -> None:
        """Lines just handed to the running camera, until its next frame says so itself."""
        with self._lock:
            entry = self._cameras.get(camera.name)
            if entry is not None:
                entry.pending = camera

    def cameras(self) -> list[str]:
        with self._lock:
            return sorted(self._cameras)

    def shot(self, camera: str) -> FrameShot | None:
        """The latest kept frame of ``camera`` (None before the first one)."""
        with self._lock:
            entry = self._cameras.get(camera)
            return None if entry is None else entry.shot

    def state(self, camera: str) -> dict[str, Any] | None:
        """The camera's lines, zones, detections, tracks and counts as JSON."""
        with self._lock:
            entry = self._cameras.get(camera)
            if entry is None:
                return None
            pending = entry.pending
            return {
                "name": camera,
                "at": entry.at,
                "width": None if entry.size is None else entry.size[0],
                "height": None if entry.size is None else entry.size[1],
                "lines": [_line_json(line) for line in entry.camera.lines],
                "zones": [
                    {"name": z.name, "polygon": [list(p) for p in z.polygon]}
                    for z in entry.camera.zones
                ],
                "pending_lines": None
                if pending is None
                else [_line_json(line) for line in pending.lines],
                "interval_s": entry.camera.interval_s,
                "detections": list(entry.detections),
                "tracks": list(entry.tracks),
                "counts": {k: dict(v) for k, v in entry.counts.items()},
                "frame_at": None if entry.shot is None else entry.shot.at,
                "share_frames": entry.camera.share_frames,
                "redact_shared_frames": entry.camera.redact_shared_frames,
            }


def _line_json(line: LineConfig) -> dict[str, Any]:
    return {"name": line.name, "start": list(line.start), "end": list(line.end)}
