"""Multi-object tracker in the ByteTrack manner.

Confident detections are matched first against every confirmed track (including
recently lost ones); the remaining tracked objects then get a second chance
against low-score detections, which recovers objects that are partly occluded.
Each stage solves a real assignment problem over an IoU cost matrix with
``scipy.optimize.linear_sum_assignment``.

Given what each box looks like (colour histograms, :mod:`.appearance`), the first
stage also refuses pairs that do not look alike, and a last stage gives a confident
box that matched nothing to a lost track that looks like it and was lost near it,
instead of starting a new identity: a person who walks behind another keeps theirs,
so a line they crossed while hidden is still counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from edge_agent.analytics import kalman
from edge_agent.analytics.appearance import Descriptors, likeness
from edge_agent.analytics.config import TrackerConfig
from edge_agent.analytics.geometry import iou_matrix

Box = tuple[float, float, float, float]
_REFUSED = 1e6  # cost of a pair outside a gate


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
    appearance: npt.NDArray[np.float32] | None = None  # running mean of confident looks

    @property
    def predicted_box(self) -> Box:
        return kalman.state_to_box(self.mean)

    @property
    def class_id(self) -> int:
        # Detectors flicker between near classes (car/truck); the score-weighted
        # vote keeps one class per track so it is counted under one name.
        return max(self.class_votes.items(), key=lambda item: (item[1], -item[0]))[0]

    def look(self, appearance: npt.NDArray[np.float32] | None, weight: float) -> None:
        """Blend a confident sighting's appearance into the track's."""
        if appearance is None:
            return
        if self.appearance is None:
            self.appearance = appearance.copy()
        else:
            self.appearance = (1.0 - weight) * self.appearance + weight * appearance

    def observe(self, box: Box, score: float, class_id: int) -> None:
        self.mean, self.covariance = kalman.update(
            self.mean, self.covariance, kalman.box_to_measurement(box)
        )
        self.box = box
        self.score = score
        self.hits += 1
        self.time_since_update = 0
        self.class_votes[class_id] += score

    def reacquire(self, box: Box) -> None:
        """Seen again after a gap: restart the motion model at the new box."""
        self.mean, self.covariance = kalman.initiate(kalman.box_to_measurement(box))


def _similarity(
    tracks: list[_Track], appearance: Descriptors | None, rows: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64] | None:
    """Likeness of each track's look to each detection's (None: nothing to compare)."""
    if appearance is None or not tracks or any(t.appearance is None for t in tracks):
        return None
    return likeness(np.array([t.appearance for t in tracks]), appearance[rows])


def _solve(
    cost: npt.NDArray[np.float64], allowed: npt.NDArray[np.bool_], *, gated: bool = False
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Optimal assignment; pairs outside ``allowed`` are refused after solving, or kept
    out of the solution altogether when ``gated`` (costs with no natural bound)."""
    n_tracks, n_boxes = cost.shape
    if n_tracks == 0 or n_boxes == 0:
        return [], list(range(n_tracks)), list(range(n_boxes))
    rows, cols = linear_sum_assignment(np.where(allowed, cost, _REFUSED) if gated else cost)
    matches = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if allowed[r, c]]
    matched_rows = {r for r, _ in matches}
    matched_cols = {c for _, c in matches}
    unmatched_tracks = [i for i in range(n_tracks) if i not in matched_rows]
    unmatched_dets = [j for j in range(n_boxes) if j not in matched_cols]
    return matches, unmatched_tracks, unmatched_dets


def _relink(
    tracks: list[_Track],
    boxes: npt.NDArray[np.float64],
    similarity: npt.NDArray[np.float64] | None,
    cfg: TrackerConfig,
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Match lost tracks to new boxes that look like them, near where they were lost.

    The gate is on ground-point distance in the track's own heights: a person walks
    about ``relink_speed`` of their height per processed frame, so it grows with the
    frames since the track was last seen, where the Kalman prediction has long since
    drifted. Boxes whose height differs by more than ``relink_size_ratio`` are another
    object, and so are boxes less alike than ``relink_similarity``.
    """
    if not tracks or boxes.shape[0] == 0 or similarity is None:
        return [], list(range(len(tracks))), list(range(boxes.shape[0]))
    last = np.array([[(t.box[0] + t.box[2]) / 2.0, t.box[3], t.box[3] - t.box[1]] for t in tracks])
    seen = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2.0, boxes[:, 3], boxes[:, 3] - boxes[:, 1]], 1)
    heights = np.maximum(last[:, 2:3], 1.0)
    distance = np.hypot(seen[None, :, 0] - last[:, None, 0], seen[None, :, 1] - last[:, None, 1])
    distance = distance / heights
    gaps = np.array([[t.time_since_update] for t in tracks], dtype=np.float64)
    ratio = np.maximum(seen[None, :, 2], 1.0) / heights
    allowed = (
        (distance <= cfg.relink_speed * gaps)
        & (ratio <= cfg.relink_size_ratio)
        & (ratio >= 1.0 / cfg.relink_size_ratio)
    )
    allowed &= similarity >= cfg.relink_similarity
    return _solve(distance + (1.0 - similarity), allowed, gated=True)


def _assign(
    tracks: list[_Track],
    boxes: npt.NDArray[np.float64],
    min_iou: float,
    similarity: npt.NDArray[np.float64] | None = None,
    min_similarity: float = 0.0,
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Optimal IoU matching; pairs below ``min_iou`` (or unlike in appearance) are rejected."""
    if not tracks or boxes.shape[0] == 0:
        return [], list(range(len(tracks))), list(range(boxes.shape[0]))
    ious = iou_matrix(np.array([t.predicted_box for t in tracks]), boxes)
    allowed = ious >= min_iou
    cost = 1.0 - ious
    if similarity is not None:
        allowed &= similarity >= min_similarity
        cost = cost + (1.0 - similarity)
    return _solve(cost, allowed)


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

    def update(
        self,
        detections: DetectionsLike,
        appearance: Descriptors | None = None,
    ) -> list[TrackState]:
        """Step one processed frame; returns the confirmed tracks seen in it.

        ``appearance`` (one :func:`~edge_agent.analytics.appearance.describe` row per
        detection) lets the first stage refuse pairs that do not look alike and a
        fourth stage re-link lost tracks; without it the tracker matches on boxes alone.
        """
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

        def seen(track: _Track, d: int) -> None:
            track.observe(_box(boxes[d]), float(scores[d]), int(classes[d]))
            if appearance is not None and scores[d] >= cfg.high_score:
                track.look(appearance[d], cfg.appearance_weight)

        # Stage 1: confident detections against every confirmed track, lost ones included.
        matches, rest_tracks, rest_high = _assign(
            confirmed,
            boxes[high],
            cfg.match_iou,
            _similarity(confirmed, appearance, high),
            cfg.match_similarity,
        )
        for ti, dj in matches:
            seen(confirmed[ti], int(high[dj]))

        # Stage 2: tracks seen last frame but unmatched now, against low-score detections.
        recent = [confirmed[i] for i in rest_tracks if confirmed[i].time_since_update == 1]
        matches, _, _ = _assign(recent, boxes[low], cfg.low_match_iou)
        for ti, dj in matches:
            seen(recent[ti], int(low[dj]))

        # Stage 3: tentative tracks need a second sighting among the confident leftovers.
        leftover = high[rest_high]
        matches, dead_tentative, rest_new = _assign(
            tentative, boxes[leftover], cfg.unconfirmed_match_iou
        )
        for ti, dj in matches:
            track = tentative[ti]
            seen(track, int(leftover[dj]))
            track.confirmed = track.hits >= cfg.min_hits
        dead = {id(tentative[i]) for i in dead_tentative}

        # Stage 4: confident leftovers may be a lost track seen again after an occlusion.
        starters = leftover[rest_new]
        if appearance is not None and cfg.relink_speed > 0.0:
            unseen = [t for t in confirmed if t.time_since_update > 0]
            matches, _, rest = _relink(
                unseen, boxes[starters], _similarity(unseen, appearance, starters), cfg
            )
            for ti, dj in matches:
                d = int(starters[dj])
                unseen[ti].reacquire(_box(boxes[d]))
                seen(unseen[ti], d)
            starters = starters[rest]

        for d in (int(d) for d in starters):
            if scores[d] >= cfg.new_track_score:
                self._start(_box(boxes[d]), float(scores[d]), int(classes[d]))
                if appearance is not None:
                    self._tracks[-1].look(appearance[d], 1.0)

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
