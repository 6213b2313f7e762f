"""The perception loop of one camera.

source → motion gate → detector → tracker → counting lines / zones → interval
aggregator. Frames with too little motion skip the detector: tracks coast (the
tracker is not stepped, so nothing ages or drifts) and the skipped share is
reported. After an outage the tracker starts afresh, so an object seen before
the gap is never matched to a different one seen after it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from edge_agent.analytics.appearance import describe
from edge_agent.analytics.intervals import IntervalAggregator, IntervalSummary
from edge_agent.analytics.lines import Crossing, LineCounter
from edge_agent.analytics.tracker import ByteTracker, TrackState
from edge_agent.analytics.zones import Zone
from edge_agent.detectors.base import OnnxDetector
from edge_agent.detectors.multicam import BatchedCameraDetector, BatchMember, shared_batcher
from edge_agent.detectors.tiled import TiledDetector, TileLayout
from edge_agent.detectors.types import COCO_CLASSES, TRAFFIC_CLASSES, Detections, Detector
from edge_agent.sources.config import CameraConfig
from edge_agent.sources.events import Frame, Offline, SourceEvent
from edge_agent.sources.motion import MotionGate

# Line state of tracks the tracker has dropped is pruned this often (processed frames).
_PRUNE_EVERY = 100


def camera_detector(camera: CameraConfig, detector: Detector) -> Detector:
    """The shared detector as this camera runs it: tiled and/or batched with other
    cameras where its config asks for it. A batched camera's detector has ``close``,
    which takes it out of the batch."""
    tiling = camera.tiling
    member: BatchMember | None = None
    if camera.batching.enabled and isinstance(detector, OnnxDetector):
        member = shared_batcher(detector, max_wait_s=camera.batching.max_wait_ms / 1000.0).join()
        if not tiling.enabled:
            return BatchedCameraDetector(detector, member)
    if not tiling.enabled or tiling.region is None:
        return detector
    layout = TileLayout(
        region=tiling.region,
        columns=tiling.columns,
        rows=tiling.rows,
        overlap=tiling.overlap,
        full_frame=tiling.full_frame,
        edge_margin=tiling.edge_margin,
    )
    return TiledDetector(detector, layout, runner=member)


def release_detector(detector: Detector) -> None:
    """Take a camera's detector out of any batch it joined (no-op otherwise)."""
    runner = detector.runner if isinstance(detector, TiledDetector) else None
    if isinstance(detector, BatchedCameraDetector):
        detector.close()
    elif isinstance(runner, BatchMember):
        runner.leave()


@dataclass(frozen=True, slots=True)
class StageTimings:
    """Seconds spent per stage, summed over the frames seen so far."""

    frames: int
    processed: int
    source_s: float
    motion_s: float
    detect_s: float
    track_s: float
    count_s: float

    def per_frame_ms(self) -> dict[str, float]:
        """Mean milliseconds per delivered frame (detector: per processed frame)."""
        frames = max(1, self.frames)
        return {
            "source": 1000.0 * self.source_s / frames,
            "motion": 1000.0 * self.motion_s / frames,
            "detect": 1000.0 * self.detect_s / max(1, self.processed),
            "track": 1000.0 * self.track_s / max(1, self.processed),
            "count": 1000.0 * self.count_s / frames,
        }


class PerceptionPipeline:
    """Turns one camera's events into interval summaries."""

    def __init__(
        self,
        camera: CameraConfig,
        detector: Detector,
        *,
        class_names: Sequence[str] = COCO_CLASSES,
        report_classes: Sequence[str] = TRAFFIC_CLASSES,
        origin: float | None = None,
    ) -> None:
        self.camera = camera
        self.detector = detector  # wrapped per camera by the setter
        self.class_names = dict(enumerate(class_names))
        self.report_classes = tuple(report_classes)
        self.gate = MotionGate(camera.motion)
        self.tracker = ByteTracker(camera.tracker)
        self.lines = [LineCounter(line) for line in camera.lines]
        self.zones = [Zone(zone) for zone in camera.zones]
        self._origin = origin
        self._aggregator: IntervalAggregator | None = None
        self._occupancy: dict[str, dict[str, int]] = {zone.name: {} for zone in self.zones}
        self._last_time: float | None = None
        self._period = 0.0
        self._frames = 0
        self._processed = 0
        self._times = dict.fromkeys(("source", "motion", "detect", "track", "count"), 0.0)
        self.last_tracks: list[TrackState] = []
        self.last_detections = Detections.empty()
        # What the latest frame added, for observers (the local view, shadow mode).
        self.last_crossings: list[Crossing] = []
        self.last_processed = False
        self._pending: CameraConfig | None = None

    @property
    def detector(self) -> Detector:
        """What this camera runs: the shared detector, tiled if the camera asks for it."""
        return self._detector

    @detector.setter
    def detector(self, detector: Detector) -> None:
        # A model swap hands over the new shared detector; the camera's tiling and
        # batching wrap it, and the old one leaves its batch.
        previous = getattr(self, "_detector", None)
        self._detector = camera_detector(self.camera, detector)
        if previous is not None:
            release_detector(previous)

    def close(self) -> None:
        """The camera stopped: leave any batch shared with other cameras."""
        release_detector(self._detector)

    @property
    def pending(self) -> CameraConfig | None:
        """Lines and zones waiting for the next interval boundary, if any."""
        return self._pending

    def reconfigure(self, camera: CameraConfig) -> None:
        """Count with ``camera``'s lines and zones from the next interval boundary on.

        Switching at a boundary keeps each report's counts from one set of lines; the
        tracker carries over, so objects in view keep their ids. Only lines and zones
        change: the source, detector and tracker settings stay as they are.
        """
        self._pending = camera

    def _switch_at_boundary(self, t: float) -> list[IntervalSummary]:
        pending = self._pending
        if pending is None:
            return []
        closed = [] if self._aggregator is None else self._aggregator.advance(t)
        if self._aggregator is not None and not closed:
            return []
        self._pending = None
        # An unchanged line keeps its state, so a track half-way across still counts.
        kept = {counter.config.model_dump_json(): counter for counter in self.lines}
        self.lines = [kept.get(c.model_dump_json()) or LineCounter(c) for c in pending.lines]
        self.zones = [Zone(zone) for zone in pending.zones]
        self._occupancy = {zone.name: {} for zone in self.zones}
        self.camera = self.camera.model_copy(
            update={"lines": pending.lines, "zones": pending.zones}
        )
        if closed:
            self._aggregator = None
            self._origin = closed[-1].end
        return closed

    @property
    def timings(self) -> StageTimings:
        t = self._times
        return StageTimings(
            frames=self._frames,
            processed=self._processed,
            source_s=t["source"],
            motion_s=t["motion"],
            detect_s=t["detect"],
            track_s=t["track"],
            count_s=t["count"],
        )

    def _aggregator_for(self, t: float) -> IntervalAggregator:
        if self._aggregator is None:
            interval = self.camera.interval_s
            # Live cameras align intervals to the clock (minute boundaries for 60 s).
            origin = (
                self._origin if self._origin is not None else math.floor(t / interval) * interval
            )
            self._aggregator = IntervalAggregator(
                self.camera.name,
                interval,
                origin,
                lines=[line.name for line in self.lines],
                zones=[zone.name for zone in self.zones],
                classes=self.report_classes,
            )
        return self._aggregator

    def process(self, event: SourceEvent) -> list[IntervalSummary]:
        """Handle one source event; returns the intervals it closed."""
        if isinstance(event, Offline):
            self.tracker.clear()
            for counter in self.lines:
                counter.forget(set())
            self._last_time = event.end
            return self._aggregator_for(event.start).offline(event.start, event.end)
        return self._frame(event)

    def _frame(self, frame: Frame) -> list[IntervalSummary]:
        clock = time.perf_counter
        self._frames += 1
        if self._last_time is not None and frame.timestamp > self._last_time:
            self._period = frame.timestamp - self._last_time
        self._last_time = frame.timestamp
        switched = self._switch_at_boundary(frame.timestamp)
        aggregator = self._aggregator_for(frame.timestamp)
        self.last_crossings = []

        started = clock()
        decision = self.gate.check(frame.image, frame.timestamp)
        self._times["motion"] += clock() - started
        self.last_processed = decision.run_detector
        closed = switched + aggregator.frame(
            frame.timestamp, processed=decision.run_detector, dropped=frame.dropped
        )

        if decision.run_detector:
            self._processed += 1
            started = clock()
            detections = self.detector.detect(frame.image)
            detected = clock()
            self.last_detections = detections
            looks = (
                describe(frame.image, detections.boxes) if self.camera.tracker.appearance else None
            )
            tracks = self.tracker.update(detections, looks)
            tracked = clock()
            self._times["detect"] += detected - started
            self._times["track"] += tracked - detected
            self.last_tracks = tracks
            for counter in self.lines:
                crossings = counter.update(tracks)
                self.last_crossings.extend(crossings)
                aggregator.crossings(crossings, self.class_names)
            for zone in self.zones:
                by_class = zone.occupancy(tracks)
                self._occupancy[zone.name] = {
                    self.class_names.get(k, str(k)): n for k, n in by_class.items()
                }
            if self._processed % _PRUNE_EVERY == 0:
                live = self.tracker.live_ids
                for counter in self.lines:
                    counter.forget(live)
            self._times["count"] += clock() - tracked
        # Skipped frames repeat the last occupancy: nothing moved since it was measured.
        for zone_name, sample in self._occupancy.items():
            aggregator.occupancy(zone_name, sample)
        if self._occupancy:
            aggregator.occupancy_sampled()
        return closed

    def finish(self, end: float | None = None) -> IntervalSummary | None:
        """Close the open interval early (a file ended); None if nothing is open."""
        if self._aggregator is None:
            return None
        if end is None:
            # The last frame covers one frame period past its own timestamp.
            end = (self._last_time or 0.0) + self._period
        return self._aggregator.flush(end)

    def run(
        self, events: Iterable[SourceEvent], *, flush: bool = True
    ) -> Iterator[IntervalSummary]:
        """Process ``events`` to their end, yielding each interval as it closes."""
        iterator = iter(events)
        while True:
            started = time.perf_counter()
            event = next(iterator, None)
            self._times["source"] += time.perf_counter() - started
            if event is None:
                break
            yield from self.process(event)
        if flush:
            last = self.finish()
            if last is not None:
                yield last
