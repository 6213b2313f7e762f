"""The running totals of shadow mode, turned into the heartbeat's figures."""

from __future__ import annotations

from collections import Counter, deque

import numpy as np

from edge_agent.analytics.lines import Direction
from edge_agent.detectors.types import COCO_CLASSES
from fieldproof.protocol.shadow import (
    ClassAgreement,
    DirectionCounts,
    Latency,
    LineAgreement,
    ShadowStats,
)

# The p95 is taken over this many recent frames.
LATENCY_WINDOW = 1000
Side = str  # "active" | "candidate"


def _name(class_id: int) -> str:
    return COCO_CLASSES[class_id] if 0 <= class_id < len(COCO_CLASSES) else str(class_id)


class ShadowTally:
    """Agreement since ``since`` (Unix time) for one candidate against one active model."""

    def __init__(
        self, candidate: str, sha256: str, active: str, since: float, match_iou: float
    ) -> None:
        self.candidate = candidate
        self.sha256 = sha256
        self.active = active
        self.since = since
        self.match_iou = match_iou
        self.frames = 0
        self.frames_skipped = 0
        self.windows = 0
        self.detections: dict[Side, Counter[int]] = {"active": Counter(), "candidate": Counter()}
        self.matched: Counter[int] = Counter()
        self.crossings: Counter[tuple[str, Direction, Side]] = Counter()
        self.lines: set[str] = set()
        self._active_ms = 0.0
        self._active_frames = 0
        self._candidate_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._candidate_sum = 0.0

    def frame(
        self,
        active: Counter[int],
        candidate: Counter[int],
        matched: Counter[int],
        active_ms: float | None,
        candidate_ms: float,
    ) -> None:
        self.frames += 1
        self.detections["active"].update(active)
        self.detections["candidate"].update(candidate)
        self.matched.update(matched)
        if active_ms is not None:
            self._active_ms += active_ms
            self._active_frames += 1
        self._candidate_ms.append(candidate_ms)
        self._candidate_sum += candidate_ms

    def line(self, name: str) -> None:
        """Report ``name`` even while neither model has counted on it."""
        self.lines.add(name)

    def crossing(self, line: str, direction: Direction, side: Side) -> None:
        self.lines.add(line)
        self.crossings[(line, direction, side)] += 1

    def stats(self) -> ShadowStats:
        classes = sorted(set(self.detections["active"]) | set(self.detections["candidate"]))
        candidate_mean = self._candidate_sum / self.frames if self.frames else None
        p95 = float(np.percentile(list(self._candidate_ms), 95)) if self._candidate_ms else None

        def counts(line: str, direction: Direction) -> DirectionCounts:
            return DirectionCounts(
                active=self.crossings[(line, direction, "active")],
                candidate=self.crossings[(line, direction, "candidate")],
            )

        return ShadowStats(
            candidate=self.candidate,
            candidate_sha256=self.sha256,
            active=self.active,
            since=self.since,
            frames=self.frames,
            frames_skipped=self.frames_skipped,
            windows=self.windows,
            match_iou=self.match_iou,
            classes={
                _name(c): ClassAgreement(
                    active=self.detections["active"][c],
                    candidate=self.detections["candidate"][c],
                    matched=self.matched[c],
                )
                for c in classes
            },
            lines={
                line: LineAgreement.model_validate(
                    {"in": counts(line, "in"), "out": counts(line, "out")}
                )
                for line in sorted(self.lines)
            },
            latency_ms=Latency(
                active_mean=None
                if not self._active_frames
                else round(self._active_ms / self._active_frames, 3),
                candidate_mean=None if candidate_mean is None else round(candidate_mean, 3),
                candidate_p95=None if p95 is None else round(p95, 3),
            ),
        )
