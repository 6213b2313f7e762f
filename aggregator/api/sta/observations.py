"""Observations: readings from the series store, each with the proof reference of the
signed report it came from (device, seq, epoch), found through the ledger.

A page is cut by the store (``SeriesStore.points``) when the query only bounds
phenomenonTime and orders by it; any other filter or order reads the whole time window,
which is refused past ``max_raw_points`` as the REST API refuses such a series query.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aggregator.api.context import ApiContext
from aggregator.api.errors import ParameterError
from aggregator.api.sta.catalog import Entity
from aggregator.api.sta.model import datastream_id, iso, observation_id
from aggregator.ledger.models import EpochRecord, ReportHead
from aggregator.series.points import SeriesPoint
from fieldproof.wire import WireError, decode_report

# Readings are stored in milliseconds; an unbounded window is [1970, 2100).
MS = 0.001
BEGINNING = 0.0
END_OF_TIME = 4_102_444_800.0

Stream = tuple[str, str]  # (device, record name)
LOOK_BACK = 16


@dataclass(frozen=True, slots=True)
class Window:
    """A phenomenonTime range ``[start, end)`` in Unix seconds."""

    start: float = BEGINNING
    end: float = END_OF_TIME

    @property
    def empty(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True, slots=True)
class Reading:
    stream: Stream
    time: float
    value: float


class ObservationReader:
    """Reads Observations of a set of Datastreams for one request."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context
        self.series = context.sources.series
        self._epochs: list[EpochRecord] | None = None

    # -- counting and paging -----------------------------------------------------------

    def count(self, streams: Sequence[Stream], window: Window) -> int:
        """Readings of ``streams`` in ``window``: one count per record name, in the store."""
        if window.empty:
            return 0
        by_name: dict[str, list[str]] = defaultdict(list)
        for device, name in streams:
            by_name[name].append(device)
        span = max(1, math.ceil(window.end - window.start))
        total = 0
        for name, devices in by_name.items():
            counts = self.series.series(
                name, devices, window.start, window.end, every=span, agg="count"
            )
            total += int(sum(p.value for p in counts))
        return total

    def page(
        self,
        streams: Sequence[Stream],
        window: Window,
        *,
        skip: int,
        top: int,
        newest_first: bool,
    ) -> tuple[list[Reading], bool]:
        """Readings ``skip .. skip + top`` in time order (then Datastream id) and whether
        more follow."""
        if window.empty or not streams or top <= 0:
            return [], False
        if len(streams) == 1:
            device, name = streams[0]
            points = self.series.points(
                name,
                device,
                window.start,
                window.end,
                limit=top + 1,
                offset=skip,
                newest_first=newest_first,
            )
            readings = [Reading(streams[0], p.time, p.value) for p in points]
            return readings[:top], len(readings) > top
        # Several streams: the first skip + top + 1 of each, merged.
        needed = skip + top + 1
        if needed > self.context.config.max_raw_points:
            raise ParameterError(
                "$skip",
                f"a page past {self.context.config.max_raw_points} Observations of several "
                "Datastreams is not served; page one Datastream, or narrow phenomenonTime",
            )
        runs = []
        for stream in sorted(streams, key=lambda s: datastream_id(*s)):
            device, name = stream
            points = self.series.points(
                name,
                device,
                window.start,
                window.end,
                limit=needed,
                newest_first=newest_first,
            )
            runs.append([Reading(stream, p.time, p.value) for p in points])
        merged = list(
            heapq.merge(*runs, key=lambda r: -r.time if newest_first else r.time)
        )  # heapq.merge is stable: equal times keep Datastream id order
        chunk = merged[skip : skip + top + 1]
        return chunk[:top], len(chunk) > top

    def everything(self, streams: Sequence[Stream], window: Window) -> list[Reading]:
        """Every reading of ``streams`` in ``window`` (for filters the store cannot apply);
        refused past ``max_raw_points``."""
        if window.empty or not streams:
            return []
        total = self.count(streams, window)
        limit = self.context.config.max_raw_points
        if total > limit:
            raise ParameterError(
                "$filter",
                f"this filter is applied to {total} Observations, more than {limit}; "
                "bound phenomenonTime (e.g. phenomenonTime ge 2026-01-01T00:00:00Z) or "
                "filter on time and Datastream only",
            )
        by_name: dict[str, list[str]] = defaultdict(list)
        for device, name in streams:
            by_name[name].append(device)
        out: list[Reading] = []
        for name, devices in by_name.items():
            points: list[SeriesPoint] = self.series.series(name, devices, window.start, window.end)
            out.extend(Reading((p.device, name), p.time, p.value) for p in points)
        return out

    def one(self, stream: Stream, time_ms: int) -> Reading | None:
        device, name = stream
        points = self.series.points(name, device, time_ms / 1000, (time_ms + 1) / 1000, limit=1)
        return Reading(stream, points[0].time, points[0].value) if points else None

    # -- entities ----------------------------------------------------------------------

    def entities(self, readings: Sequence[Reading]) -> list[Entity]:
        """Observations of ``readings``, with the report each came from."""
        origins = self._origins(readings)
        return [self.entity(r, origins.get((r.stream, r.time))) for r in readings]

    def entity(self, reading: Reading, origin: ReportHead | None) -> Entity:
        """The Observation of ``reading``; ``origin`` is its report, if known."""
        device, name = reading.stream
        ms = round(reading.time * 1000)
        epoch = None if origin is None else self._epoch_of(origin.received_at)
        quality: dict[str, Any] = {
            "device": device,
            "seq": None if origin is None else origin.seq,
            "epoch": epoch,
            "proof": None if origin is None else f"/v1/proofs/{device}/{origin.seq}",
        }
        stream = datastream_id(device, name)
        return Entity(
            "Observations",
            observation_id(device, name, ms),
            {
                "@iot.id": observation_id(device, name, ms),
                "phenomenonTime": iso(reading.time),
                "result": reading.value,
                # The report's interval closed when its results were complete.
                "resultTime": None if origin is None else iso(origin.end),
                "resultQuality": quality,
            },
            {"Datastream": [stream], "FeatureOfInterest": [device]},
        )

    def _epoch_of(self, received_at: float) -> int | None:
        index = self.context.epoch_index
        if index is None:
            return None
        if self._epochs is None:
            self._epochs = index.epochs()
        found = index.containing(received_at, self._epochs)
        return None if found is None else found.epoch

    def _origins(self, readings: Iterable[Reading]) -> dict[tuple[Stream, float], ReportHead]:
        """For each reading, the device's report whose interval holds its time (and,
        where several do, the one that carries its record)."""
        by_device: dict[str, list[Reading]] = defaultdict(list)
        for reading in readings:
            by_device[reading.stream[0]].append(reading)
        out: dict[tuple[Stream, float], ReportHead] = {}
        ledger = self.context.sources.ledger
        for device, group in by_device.items():
            device_id = bytes.fromhex(device[2:])
            low = min(r.time for r in group)
            high = max(r.time for r in group)
            heads = ledger.reports_overlapping(
                device_id, math.floor(low), math.ceil(high), limit=16 * len(group) + 64
            )
            starts = [h.start for h in heads]
            names: dict[int, set[str]] = {}
            for reading in group:
                last = bisect.bisect_right(starts, reading.time)
                # A device's reports of one interval (one per camera, one for sensors)
                # start together; looking a few back finds every one still open.
                window = heads[max(0, last - LOOK_BACK) : last]
                candidates = [h for h in window if h.end >= reading.time]
                if len(candidates) > 1:
                    candidates = [
                        h
                        for h in candidates
                        if reading.stream[1] in self._names(device_id, h.seq, names)
                    ]
                if candidates:
                    out[(reading.stream, reading.time)] = candidates[-1]
        return out

    def _names(self, device_id: bytes, seq: int, cache: dict[int, set[str]]) -> set[str]:
        if seq not in cache:
            stored = self.context.sources.ledger.report(device_id, seq)
            try:
                records = () if stored is None else decode_report(stored.raw).report.records
            except WireError:  # verified at ingest; defensive
                records = ()
            cache[seq] = {r.name for r in records}
        return cache[seq]
