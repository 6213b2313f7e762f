"""Runs the shadow candidate on sampled frames and tallies its agreement with the active model.

The cameras hand frames over without waiting: a sample goes into a short queue, and
when the candidate falls behind the frame is skipped and counted, so shadow mode never
slows the active pipeline. The candidate's detections go nowhere but into the tally;
the published counts come from the active model alone.

Sampling is by windows: every processed frame of a camera for ``window_s`` seconds,
once every ``every_s``. Within a window both models' detections feed a tracker and the
camera's counting lines of their own, started together at the window's first frame,
so the per-line counts compare like with like.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.analytics.appearance import describe
from edge_agent.analytics.lines import LineCounter
from edge_agent.analytics.tracker import ByteTracker
from edge_agent.camera_pipeline import PerceptionPipeline, camera_detector
from edge_agent.detectors.types import Detections, Detector
from edge_agent.model_swap import WARM_UP_SHAPE
from edge_agent.remote.shadow import ShadowCandidate
from edge_agent.shadow.compare import by_class, matched_by_class
from edge_agent.shadow.tally import ShadowTally
from edge_agent.sources.config import BatchingConfig, CameraConfig
from edge_agent.sources.events import Frame

log = logging.getLogger(__name__)

QUEUE_SIZE = 4
SIDES = ("active", "candidate")


@dataclass(frozen=True, slots=True)
class _Sample:
    generation: int
    camera: CameraConfig
    window: int
    image: npt.NDArray[np.uint8]
    active: Detections
    active_ms: float | None


@dataclass(slots=True)
class _Window:
    number: int
    camera: CameraConfig
    trackers: dict[str, ByteTracker] = field(default_factory=dict)
    lines: dict[str, list[LineCounter]] = field(default_factory=dict)


@dataclass(slots=True)
class _CameraClock:
    cycle_start: float | None = None
    window: int = 0
    processed: int = 0
    detect_s: float = 0.0


def _no_active_model() -> str:
    return ""


class ShadowRunner:
    """The candidate's thread, its frame observer and its tally.

    ``build(path)`` makes a detector of a model file; ``active_model()`` names the
    active model, and a change of it starts the tally afresh.
    """

    def __init__(
        self,
        build: Callable[[Path], Detector],
        *,
        active_model: Callable[[], str] = _no_active_model,
        queue_size: int = QUEUE_SIZE,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._build = build
        self._active_model = active_model
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Sample | None] = queue.Queue(maxsize=queue_size)
        self._generation = 0
        self._candidate: ShadowCandidate | None = None
        self._detector: Detector | None = None
        self._staged: tuple[Path, Detector] | None = None
        self._tally: ShadowTally | None = None
        self._clocks: dict[str, _CameraClock] = {}
        self._windows: dict[str, _Window] = {}
        self._tiled: dict[str, tuple[Detector, Detector]] = {}
        self._thread: threading.Thread | None = None

    # -- the candidate ---------------------------------------------------------------

    def warm_up(self, path: Path) -> None:
        """Build the candidate on ``path`` and run it once (a model install's check)."""
        detector = self._build(path)
        detector.detect(np.zeros(WARM_UP_SHAPE, dtype=np.uint8))
        self._staged = (path, detector)

    def set_candidate(self, candidate: ShadowCandidate | None) -> None:
        """Run ``candidate`` from now on (None: stop); the tally starts afresh."""
        staged, self._staged = self._staged, None
        with self._lock:
            self._generation += 1
            self._candidate = candidate
            self._detector = (
                staged[1]
                if staged is not None and candidate and staged[0] == candidate.path
                else None
            )
            self._tally = None if candidate is None else self._new_tally(candidate)
            self._clocks.clear()
            self._windows.clear()
            self._tiled.clear()

    @property
    def candidate(self) -> ShadowCandidate | None:
        with self._lock:
            return self._candidate

    def _new_tally(self, candidate: ShadowCandidate) -> ShadowTally:
        return ShadowTally(
            candidate.model_id,
            candidate.sha256,
            self._active_model(),
            self._wall(),
            candidate.sampling.match_iou,
        )

    def _current_tally(self) -> ShadowTally | None:
        # Figures against one active model only: a model update starts them again.
        tally = self._tally
        candidate = self._candidate
        if tally is not None and candidate is not None and tally.active != self._active_model():
            tally = self._tally = self._new_tally(candidate)
            self._windows.clear()
        return tally

    def stats(self) -> dict[str, Any] | None:
        """The heartbeat's shadow figures; None without a candidate."""
        with self._lock:
            tally = self._current_tally()
            return None if tally is None else tally.stats().to_json()

    # -- the cameras' side -----------------------------------------------------------

    def observe(self, frame: Frame, pipeline: PerceptionPipeline) -> None:
        """A camera's frame observer: hand sampled, processed frames to the candidate."""
        candidate = self._candidate
        if candidate is None or not pipeline.last_processed:
            return
        camera = pipeline.camera
        timings = pipeline.timings
        now = self._clock()
        with self._lock:
            tally = self._current_tally()
            if tally is None:
                return
            state = self._clocks.setdefault(camera.name, _CameraClock())
            # The active model's time on exactly this frame, when it is the only new one.
            active_ms = None
            if timings.processed == state.processed + 1:
                active_ms = 1000.0 * (timings.detect_s - state.detect_s)
            state.processed, state.detect_s = timings.processed, timings.detect_s
            sampling = candidate.sampling
            if state.cycle_start is None or now - state.cycle_start >= sampling.every_s:
                state.cycle_start = now
                state.window += 1
                tally.windows += 1
            if now - state.cycle_start >= sampling.window_s:
                return
            sample = _Sample(
                self._generation,
                camera,
                state.window,
                frame.image,
                pipeline.last_detections,
                active_ms,
            )
            try:
                self._queue.put_nowait(sample)
            except queue.Full:
                tally.frames_skipped += 1

    # -- the candidate's thread ------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued sample is tallied (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _run(self) -> None:
        while True:
            sample = self._queue.get()
            try:
                if sample is None:
                    return
                self._process(sample)
            except Exception:  # a broken candidate must not end shadow mode's thread
                log.exception("shadow candidate failed on a frame")
            finally:
                self._queue.task_done()

    def _candidate_detector(self, sample: _Sample) -> Detector | None:
        with self._lock:
            if sample.generation != self._generation or self._candidate is None:
                return None
            candidate, detector = self._candidate, self._detector
        if detector is None:
            detector = self._build(candidate.path)
            with self._lock:
                if sample.generation != self._generation:
                    return None
                self._detector = detector
        name = sample.camera.name
        cached = self._tiled.get(name)
        if cached is None or cached[0] is not detector:
            # The candidate sees a camera as the active model does: tiled where it is;
            # it stays out of the cameras' shared batches.
            unbatched = sample.camera.model_copy(update={"batching": BatchingConfig()})
            cached = (detector, camera_detector(unbatched, detector))
            self._tiled[name] = cached
        return cached[1]

    def _process(self, sample: _Sample) -> None:
        detector = self._candidate_detector(sample)
        if detector is None:
            return
        started = time.perf_counter()
        found = detector.detect(sample.image)
        candidate_ms = 1000.0 * (time.perf_counter() - started)
        matched = matched_by_class(sample.active, found, self._match_iou())
        with self._lock:
            tally = self._current_tally()
            if tally is None or sample.generation != self._generation:
                return
            window = self._window(sample, tally)
            for side, detections in (("active", sample.active), ("candidate", found)):
                # Both sides track as the camera does, so their counts compare.
                looks = (
                    describe(sample.image, detections.boxes)
                    if sample.camera.tracker.appearance
                    else None
                )
                tracks = window.trackers[side].update(detections, looks)
                for counter in window.lines[side]:
                    for crossing in counter.update(tracks):
                        line = f"{sample.camera.name}/{crossing.line}"
                        tally.crossing(line, crossing.direction, side)
            tally.frame(
                by_class(sample.active), by_class(found), matched, sample.active_ms, candidate_ms
            )

    def _match_iou(self) -> float:
        candidate = self._candidate
        return 0.5 if candidate is None else candidate.sampling.match_iou

    def _window(self, sample: _Sample, tally: ShadowTally) -> _Window:
        camera = sample.camera
        window = self._windows.get(camera.name)
        if window is None or window.number != sample.window or window.camera != camera:
            window = _Window(sample.window, camera)
            for side in SIDES:
                window.trackers[side] = ByteTracker(camera.tracker)
                window.lines[side] = [LineCounter(line) for line in camera.lines]
            for line in camera.lines:
                tally.line(f"{camera.name}/{line.name}")
            self._windows[camera.name] = window
        return window
