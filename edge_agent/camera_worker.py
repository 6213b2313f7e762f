"""One camera's perception loop in its own thread, restarted whenever it fails.

A run opens the camera, feeds its events through the camera pipeline and submits the
intervals it closes. A run that raises, for whatever reason, is logged and started
again after a backoff delay; only a stop, or a file that has played out, ends the
worker. :meth:`CameraWorker.healthy` tells the watchdog whether the worker still
makes progress.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from edge_agent.camera_pipeline import PerceptionPipeline
from edge_agent.detectors.types import Detector
from edge_agent.health.stats import PerceptionStats
from edge_agent.reporting import Submit
from edge_agent.sources.camera import open_camera
from edge_agent.sources.config import CameraConfig
from edge_agent.sources.events import Frame, Offline, SourceEvent
from edge_agent.sources.stream import SourceStats
from fieldproof.backoff import Backoff, BackoffPolicy, UniformSource
from fieldproof.wire import ModelRef

log = logging.getLogger(__name__)

STATS_EVERY_S = 1.0
RESTART_BACKOFF = BackoffPolicy(initial_s=1.0, max_s=60.0, jitter=0.2)
# A run that lasted this long was healthy: its failure restarts from the first delay.
HEALTHY_RUN_S = 60.0
# Slack over the longest a working camera goes without an event (a reconnect delay, an
# open and a read timing out, a restart delay), for slow inference and scheduling.
STALL_MARGIN_S = 60.0


class EventSource(Protocol):
    """What a worker reads a camera through (:class:`~edge_agent.sources.CameraSource`)."""

    @property
    def stats(self) -> SourceStats: ...

    def events(self) -> Iterator[SourceEvent]: ...

    def close(self) -> None: ...


SourceOpener = Callable[[CameraConfig, threading.Event], EventSource]

FrameObserver = Callable[[Frame, PerceptionPipeline], None]
"""Sees each frame after the pipeline handled it (the local view, shadow mode); it runs
on the camera's thread, so it must be quick and must not keep the pipeline."""


def _open_source(camera: CameraConfig, stop: threading.Event) -> EventSource:
    return open_camera(camera, stop=stop)


def _model_ref(detector: Detector) -> ModelRef:
    return ModelRef.from_sha256_hex(detector.model_id, detector.sha256)


class CameraWorker:
    """Runs one camera until stopped; ``detector()`` gives the detector to use now.

    ``open_source``, ``wait``, ``clock`` and ``uniform`` are injectable for tests:
    ``wait(seconds)`` returns True when the worker was stopped meanwhile.
    """

    def __init__(
        self,
        camera: CameraConfig,
        detector: Callable[[], Detector],
        submit: Submit,
        stats: PerceptionStats,
        *,
        open_source: SourceOpener = _open_source,
        restart: BackoffPolicy = RESTART_BACKOFF,
        wait: Callable[[float], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        uniform: UniformSource | None = None,
        observers: Sequence[FrameObserver] = (),
    ) -> None:
        self.camera = camera
        self._observers = tuple(observers)
        self._pipeline: PerceptionPipeline | None = None
        self._detector = detector
        self._submit = submit
        self._stats = stats
        self._open_source = open_source
        self._backoff = Backoff(restart, uniform)
        self._clock = clock
        self._stop = threading.Event()
        self._run_stop = threading.Event()
        self._wait = wait if wait is not None else self._stop.wait
        self._started = False
        self.restarts = 0
        self.frames = 0
        self.finished = False
        self.last_progress = clock()
        self.stall_after_s = (
            max(camera.reconnect.max_s, restart.max_s)
            + camera.open_timeout_s
            + camera.read_timeout_s
            + STALL_MARGIN_S
        )
        self._thread = threading.Thread(
            target=self._supervise, name=f"camera-{camera.name}", daemon=True
        )

    def start(self) -> None:
        self._started = True
        self.last_progress = self._clock()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._run_stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def reconfigure(self, camera: CameraConfig) -> None:
        """Count with ``camera``'s lines and zones from the next interval boundary on."""
        self.camera = camera
        pipeline = self._pipeline
        if pipeline is not None:
            pipeline.reconfigure(camera)

    def healthy(self) -> bool:
        """False when the thread died, or has made no progress for ``stall_after_s``."""
        if not self._started or self.finished or self._stop.is_set():
            return True
        if not self._thread.is_alive():
            return False
        return self._clock() - self.last_progress <= self.stall_after_s

    def _supervise(self) -> None:
        while not self._stop.is_set():
            started = self._clock()
            self.last_progress = started
            try:
                self._run_once()
            except Exception:
                if self._stop.is_set():
                    break
                if self._clock() - started >= HEALTHY_RUN_S:
                    self._backoff.reset()
                delay = self._backoff.next_delay()
                self.restarts += 1
                log.exception(
                    "camera %s failed; restart %d in %.1f s", self.camera.name, self.restarts, delay
                )
                # The restart delay is bounded, so waiting it out counts as progress.
                self.last_progress = self._clock()
                if self._wait(delay):
                    break
                continue
            if not self._stop.is_set():
                self.finished = True
                log.info("camera %s: source ended", self.camera.name)
            break

    def _run_once(self) -> None:
        # Each run has its own stop event: closing a failed run's source must not stop
        # the worker, while stop() reaches the run in progress.
        run_stop = threading.Event()
        self._run_stop = run_stop
        if self._stop.is_set():
            return
        source = self._open_source(self.camera, run_stop)
        try:
            self._consume(source)
        finally:
            if self._pipeline is not None:
                # Cameras batched with this one stop waiting for its frames.
                self._pipeline.close()
            self._stats.report_camera(
                self.camera.name, fps=0.0, dropped_frames=source.stats.dropped, connected=False
            )
            source.close()

    def _consume(self, source: EventSource) -> None:
        detector = self._detector()
        model = _model_ref(detector)
        camera = self.camera
        pipeline = PerceptionPipeline(camera, detector)
        self._pipeline = pipeline
        if self.camera is not camera:  # reconfigured while the pipeline was built
            pipeline.reconfigure(self.camera)
        observer_failed = False
        last_frames, last_detect, last_processed = 0, 0.0, 0
        last_at = self._clock()
        for event in source.events():
            if self._stop.is_set():
                break
            self.last_progress = self._clock()
            current = self._detector()
            if current is not detector:
                detector = current
                model = _model_ref(detector)
                pipeline.detector = current
            connected = isinstance(event, Frame)
            if connected:
                self.frames += 1
            for summary in pipeline.process(event):
                self._submit(int(summary.start), int(summary.end), summary.records(), model)
            if connected and self._observers:
                assert isinstance(event, Frame)
                for observe in self._observers:
                    try:
                        observe(event, pipeline)
                    except Exception:  # an observer never stops the counting
                        if not observer_failed:
                            log.exception("camera %s: frame observer failed", self.camera.name)
                        observer_failed = True
            now = self._clock()
            if now - last_at >= STATS_EVERY_S or isinstance(event, Offline):
                timings = pipeline.timings
                processed = timings.processed - last_processed
                if processed:
                    ms = 1000.0 * (timings.detect_s - last_detect) / processed
                    self._stats.report_inference_ms(ms)
                self._stats.report_camera(
                    self.camera.name,
                    fps=(timings.frames - last_frames) / max(now - last_at, 1e-9),
                    dropped_frames=source.stats.dropped,
                    connected=connected,
                )
                last_frames, last_detect = timings.frames, timings.detect_s
                last_processed, last_at = timings.processed, now
