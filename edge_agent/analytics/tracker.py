"""Multi-object tracker in the ByteTrack manner.

Confident detections are matched first against every confirmed track (including
recently lost ones); the remaining tracked objects then get a second chance
against low-score detections, which recovers objects that are partly occluded.
Each stage solves a real assignment problem over an IoU cost matrix with
``scipy.optimize.linear_sum_assignment``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from edge_agent.analytics import kalman
from edge_agent.analytics.config import TrackerConfig
from edge_agent.analytics.geometry import iou_matrix

Box = tuple[float, float, float, float]


class DetectionsLike(Protocol):
    """What the tracker reads from a detector's output."""

    @property
    def boxes(self) -> npt.NDArray[np.float32]: ...

    @property
    def scores(self) -> npt.NDArray[np.float32]: ...

    @property
    def class_ids(self) -> npt.NDArray[np.int64]: ...


@dataclass(frozen=True, slots=True)
class TrackState:
    """A confirmed track as seen after one update."""

    track_id: int
    box: Box
    class_id: int
    score: float
    hits: int
    time_since_update: int


@dataclass(slots=True)
class _Track:
    track_id: int
    mean: kalman.Vector
    covariance: kalman.Matrix
    box: Box
    score: float
    hits: int = 1
    time_since_update: int = 0
    confirmed: bool = False
    class_votes: dict[int, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def predicted_box(self) -> Box:
        return kalman.state_to_box(self.mean)

    @property
    def class_id(self) -> int:
        # Detectors flicker between near classes (car/truck); the score-weighted
        # vote keeps one class per track so it is counted under one name.
        return max(self.class_votes.items(), key=lambda item: (item[1], -item[0]))[0]

    def observe(self, box: Box, score: float, class_id: int) -> None:
        self.mean, self.covariance = kalman.update(
            self.mean, self.covariance, kalman.box_to_measurement(box)
        )
        self.box = box
        self.score = score
        self.hits += 1
        self.time_since_update = 0
        self.class_votes[class_id] += score


def _assign(
    tracks: list[_Track], boxes: npt.NDArray[np.float64], min_iou: float
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Optimal IoU matching; pairs below ``min_iou`` are rejected after solving."""
    if not tracks or boxes.shape[0] == 0:
        return [], list(range(len(tracks))), list(range(boxes.shape[0]))
    ious = iou_matrix(np.array([t.predicted_box for t in tracks]), boxes)
    rows, cols = linear_sum_assignment(1.0 - ious)
    matches = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if ious[r, c] >= min_iou]
    matched_rows = {r for r, _ in matches}
    matched_cols = {c for _, c in matches}
    unmatched_tracks = [i for i in range(len(tracks)) if i not in matched_rows]
    unmatched_dets = [j for j in range(boxes.shape[0]) if j not in matched_cols]
    return matches, unmatched_tracks, unmatched_dets


class ByteTracker:
    """Keeps object identities across processed frames."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def live_tracks(self) -> int:
        """Confirmed tracks, currently seen or lost but still re-identifiable."""
        return sum(1 for t in self._tracks if t.confirmed)

    @property
    def live_ids(self) -> set[int]:
        """Ids of every track still kept (tentative, seen or lost)."""
        return {t.track_id for t in self._tracks}

    def clear(self) -> None:
        """Forget every track (after an outage); ids keep counting up, never reused."""
        self._tracks = []

    def update(self, detections: DetectionsLike) -> list[TrackState]:
        """Step one processed frame; returns the confirmed tracks seen in it."""
        cfg = self.config
        boxes = np.asarray(detections.boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(detections.scores, dtype=np.float64).reshape(-1)
        classes = np.asarray(detections.class_ids, dtype=np.int64).reshape(-1)

        for track in self._tracks:
            track.mean, track.covariance = kalman.predict(track.mean, track.covariance)
            track.time_since_update += 1

        high = np.flatnonzero(scores >= cfg.high_score)
        low = np.flatnonzero((scores >= cfg.low_score) & (scores < cfg.high_score))
        confirmed = [t for t in self._tracks if t.confirmed]
        tentative = [t for t in self._tracks if not t.confirmed]

        # Stage 1: confident detections against every confirmed track, lost ones included.
        matches, rest_tracks, rest_high = _assign(confirmed, boxes[high], cfg.match_iou)
        for ti, dj in matches:
            d = int(high[dj])
            confirmed[ti].observe(_box(boxes[d]), float(scores[d]), int(classes[d]))

        # Stage 2: tracks seen last frame but unmatched now, against low-score detections.
        recent = [confirmed[i] for i in rest_tracks if confirmed[i].time_since_update == 1]
        matches, _, _ = _assign(recent, boxes[low], cfg.low_match_iou)
        for ti, dj in matches:
            d = int(low[dj])
            recent[ti].observe(_box(boxes[d]), float(scores[d]), int(classes[d]))

        # Stage 3: tentative tracks need a second sighting among the confident leftovers.
        leftover = high[rest_high]
        matches, dead_tentative, rest_new = _assign(
            tentative, boxes[leftover], cfg.unconfirmed_match_iou
        )
        for ti, dj in matches:
            d = int(leftover[dj])
            track = tentative[ti]
            track.observe(_box(boxes[d]), float(scores[d]), int(classes[d]))
            track.confirmed = track.hits >= cfg.min_hits
        dead = {id(tentative[i]) for i in dead_tentative}

        for dj in rest_new:
            d = int(leftover[dj])
            if scores[d] >= cfg.new_track_score:
                self._start(_box(boxes[d]), float(scores[d]), int(classes[d]))

        self._tracks = [
            t for t in self._tracks if id(t) not in dead and t.time_since_update <= cfg.lost_buffer
        ]
        return [
            TrackState(
                track_id=t.track_id,
                box=t.box,
                class_id=t.class_id,
                score=t.score,
                hits=t.hits,
                time_since_update=t.time_since_update,
            )
            for t in self._tracks
            if t.confirmed and t.time_since_update == 0
        ]

    def _start(self, box: Box, score: float, class_id: int) -> None:
        mean, covariance = kalman.initiate(kalman.box_to_measurement(box))
        track = _Track(
            track_id=self._next_id, mean=mean, covariance=covariance, box=box, score=score
        )
        track.class_votes[class_id] += score
        track.confirmed = self.config.min_hits <= 1
        self._next_id += 1
        self._tracks.append(track)


def _box(row: npt.NDArray[np.float64]) -> Box:
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
