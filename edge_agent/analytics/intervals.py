"""Interval aggregation of one camera's perception into SenML records.

Intervals are aligned to an origin (``origin + k * length``). A camera that is
down reports its offline seconds and no counts for that time: an interval that
was offline throughout carries only ``uptime``/``offline`` records, so a dead
camera never reads as an empty street.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from edge_agent.analytics.lines import Crossing, Direction
from edge_agent.errors import AgentValueError
from fieldproof.wire import Record

DIRECTIONS: tuple[Direction, ...] = ("in", "out")
# Beyond this many intervals at once, time has jumped rather than passed.
MAX_EMPTY_INTERVALS = 100_000
_EPSILON_S = 1e-6


@dataclass(frozen=True, slots=True)
class ZoneOccupancy:
    """Occupancy of one zone by one class over an interval."""

    zone: str
    class_name: str
    mean: float
    maximum: int


@dataclass(frozen=True, slots=True)
class IntervalSummary:
    """Everything one camera saw in one interval; ``records()`` gives the SenML form."""

    camera: str
    start: float
    end: float
    counts: tuple[tuple[str, str, Direction, int], ...]
    occupancy: tuple[ZoneOccupancy, ...]
    frames: int
    processed: int
    motion_skipped: int
    dropped: int
    offline_seconds: float

    @property
    def uptime_seconds(self) -> float:
        return max(0.0, (self.end - self.start) - self.offline_seconds)

    def count(self, line: str, class_name: str, direction: Direction) -> int:
        for item_line, item_class, item_direction, n in self.counts:
            if (item_line, item_class, item_direction) == (line, class_name, direction):
                return n
        return 0

    def records(self) -> tuple[Record, ...]:
        """``<line>/<class>/<in|out>`` counts, zone occupancy and camera health."""
        t = self.start
        out: list[Record] = []
        if self.uptime_seconds > 0.0:
            out += [
                Record(name=f"{line}/{cls}/{direction}", unit="count", value=float(n), time=t)
                for line, cls, direction, n in self.counts
            ]
            for occ in self.occupancy:
                prefix = f"{occ.zone}/{occ.class_name}"
                out.append(
                    Record(name=f"{prefix}/occupancy_mean", unit="count", value=occ.mean, time=t)
                )
                out.append(
                    Record(
                        name=f"{prefix}/occupancy_max",
                        unit="count",
                        value=float(occ.maximum),
                        time=t,
                    )
                )
        cam = self.camera
        out += [
            Record(name=f"{cam}/uptime", unit="s", value=self.uptime_seconds, time=t),
            Record(name=f"{cam}/offline", unit="s", value=self.offline_seconds, time=t),
            Record(name=f"{cam}/frames", unit="count", value=float(self.frames), time=t),
            Record(name=f"{cam}/dropped_frames", unit="count", value=float(self.dropped), time=t),
        ]
        if self.frames > 0:
            share = self.motion_skipped / self.frames
            out.append(Record(name=f"{cam}/motion_skipped", unit="/", value=share, time=t))
        return tuple(out)


class _Bucket:
    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end
        self.counts: Counter[tuple[str, str, Direction]] = Counter()
        self.occupancy_sum: Counter[tuple[str, str]] = Counter()
        self.occupancy_max: Counter[tuple[str, str]] = Counter()
        self.occupancy_samples = 0
        self.frames = 0
        self.processed = 0
        self.motion_skipped = 0
        self.dropped = 0
        self.offline = 0.0


class IntervalAggregator:
    """Accumulates one camera's frames, crossings, occupancy and outages per interval."""

    def __init__(
        self,
        camera: str,
        interval_s: float,
        origin: float,
        *,
        lines: Iterable[str] = (),
        zones: Iterable[str] = (),
        classes: Iterable[str] = (),
    ) -> None:
        if not interval_s > 0.0 or not math.isfinite(interval_s):
            raise AgentValueError(f"camera {camera}: interval must be positive, got {interval_s}")
        self.camera = camera
        self.interval_s = float(interval_s)
        self.origin = float(origin)
        self._lines = tuple(lines)
        self._zones = tuple(zones)
        self._classes = tuple(classes)
        self._index = 0
        self._bucket = self._new_bucket(0)
        # Outage time that lies beyond the open interval, waiting for its bucket.
        self._pending_offline: list[tuple[float, float]] = []

    def _new_bucket(self, index: int) -> _Bucket:
        start = self.origin + index * self.interval_s
        return _Bucket(start, start + self.interval_s)

    def advance(self, now: float) -> list[IntervalSummary]:
        """Close every interval that ends at or before ``now``."""
        closed = []
        skip = math.floor((now - self._bucket.end) / self.interval_s)
        if skip > MAX_EMPTY_INTERVALS:
            # A clock jump (first NTP sync after boot), not an outage: close the open
            # interval and realign rather than emitting years of empty intervals.
            closed.append(self._close(self._bucket.end))
            self._index += 1 + skip
            self._bucket = self._new_bucket(self._index)
            self._pending_offline = []
        while now >= self._bucket.end:
            closed.append(self._close(self._bucket.end))
            self._index += 1
            self._bucket = self._new_bucket(self._index)
            self._apply_pending()
        return closed

    def flush(self, end: float) -> IntervalSummary | None:
        """Close the open interval early at ``end`` (end of a file); None if it is empty."""
        bucket = self._bucket
        end = min(max(end, bucket.start), bucket.end)
        if end <= bucket.start and bucket.frames == 0:
            return None
        summary = self._close(end)
        self._index += 1
        self._bucket = self._new_bucket(self._index)
        return summary

    def frame(self, t: float, *, processed: bool, dropped: int = 0) -> list[IntervalSummary]:
        """Account one delivered frame at time ``t`` (and frames dropped before it)."""
        closed = self.advance(t)
        bucket = self._bucket
        bucket.frames += 1
        bucket.dropped += dropped
        if processed:
            bucket.processed += 1
        else:
            bucket.motion_skipped += 1
        return closed

    def crossings(self, crossings: Iterable[Crossing], class_names: Mapping[int, str]) -> None:
        for crossing in crossings:
            name = class_names.get(crossing.class_id, str(crossing.class_id))
            self._bucket.counts[(crossing.line, name, crossing.direction)] += 1

    def occupancy(self, zone: str, by_class: Mapping[str, int]) -> None:
        """One occupancy sample of ``zone``; call once per frame per zone."""
        bucket = self._bucket
        for cls in set(by_class) | set(self._classes):
            n = by_class.get(cls, 0)
            bucket.occupancy_sum[(zone, cls)] += n
            bucket.occupancy_max[(zone, cls)] = max(bucket.occupancy_max[(zone, cls)], n)

    def occupancy_sampled(self) -> None:
        """Marks the end of one frame's occupancy samples (the mean's denominator)."""
        self._bucket.occupancy_samples += 1

    def offline(self, start: float, end: float) -> list[IntervalSummary]:
        """Account an outage from ``start`` to ``end``, split over the intervals it spans."""
        if end <= start:
            return []
        self._pending_offline.append((start, end))
        self._apply_pending()
        return self.advance(end)

    def _apply_pending(self) -> None:
        bucket = self._bucket
        keep = []
        for start, end in self._pending_offline:
            overlap = min(end, bucket.end) - max(start, bucket.start)
            if overlap > 0.0:
                bucket.offline += overlap
            if end > bucket.end:
                keep.append((max(start, bucket.end), end))
        self._pending_offline = keep

    def _close(self, end: float) -> IntervalSummary:
        bucket = self._bucket
        counts = Counter(bucket.counts)
        for line in self._lines:
            for cls in self._classes:
                for direction in DIRECTIONS:
                    counts[(line, cls, direction)] += 0
        samples = bucket.occupancy_samples
        occupancy = tuple(
            ZoneOccupancy(
                zone=zone,
                class_name=cls,
                mean=(bucket.occupancy_sum[(zone, cls)] / samples) if samples else 0.0,
                maximum=bucket.occupancy_max[(zone, cls)],
            )
            for zone, cls in sorted(bucket.occupancy_max)
        )
        length = end - bucket.start
        offline = min(bucket.offline, length)
        if length - offline < _EPSILON_S:
            # Summed outage pieces may fall short of the interval by rounding alone.
            offline = length
        return IntervalSummary(
            camera=self.camera,
            start=bucket.start,
            end=end,
            counts=tuple(sorted((line, cls, d, n) for (line, cls, d), n in counts.items())),
            occupancy=occupancy,
            frames=bucket.frames,
            processed=bucket.processed,
            motion_skipped=bucket.motion_skipped,
            dropped=bucket.dropped,
            offline_seconds=offline,
        )
