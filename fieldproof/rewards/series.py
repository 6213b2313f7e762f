"""A device's readings per metric, and the server-side quality checks on them.

Readings are kept as integers in thousandths of the metric's unit (the float32 on the
wire, rounded half to even through an exact rational), so every comparison below is
integer arithmetic and gives the same answer everywhere.

A reading is *bad* when it is
* **out of range**: not finite, or outside the metric's physical range;
* **stuck**: part of a run of one value held for at least the metric's ``stuck_s``
  (values at the metric's physical bound, such as calm wind or night-time irradiance,
  are not stagnation). Bad readings inside or beside a run do not break it;
* **a spike**: further from the reading before it than ``step + rate · Δt``; a reading
  after an out-of-range one cannot be checked and counts as a spike too.

These rules only ever add bad readings when a reading is made worse (put out of range),
which keeps a device's quality from rising by corrupting its own data.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from fieldproof.bundle import EpochBundle
from fieldproof.metrics import metric_for
from fieldproof.rewards.rules import RuleParams
from fieldproof.wire import WireError, decode_report

QC_METRIC = "qc"
MILLI = 1000


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading: when (Unix seconds), from which report, its value in milli-units
    (``None`` when out of range)."""

    time: int
    seq: int
    value: int | None


@dataclass(slots=True)
class DeviceData:
    """What one device sent in an epoch."""

    reports: int = 0
    undecodable: int = 0
    intervals: list[tuple[int, int]] = field(default_factory=list)
    series: dict[str, list[Reading]] = field(default_factory=lambda: defaultdict(list))
    qc: list[Fraction] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MetricQuality:
    """The outcome of the checks on one metric's readings."""

    bad: tuple[bool, ...]
    out_of_range: int
    stuck: int
    longest_stuck_s: int
    stuck_value: int | None
    spikes: int
    largest_jump: int


def to_milli(value: float) -> int:
    return round(Fraction(value) * MILLI)


def collect(bundle: EpochBundle) -> dict[bytes, DeviceData]:
    """Every device's decoded readings, sorted in time (then sequence number)."""
    devices: dict[bytes, DeviceData] = {}
    for entry in bundle.reports:
        data = devices.setdefault(entry.device_id, DeviceData())
        data.reports += 1
        try:
            report = decode_report(entry.raw).report
        except WireError:
            data.undecodable += 1
            continue
        if report.device_id != entry.device_id or report.seq != entry.seq:
            data.undecodable += 1
            continue
        data.intervals.append((report.start, max(report.end, report.start + 1)))
        for record in report.records:
            metric = metric_for(record.name)
            if metric is None or record.value is None:
                continue
            finite = math.isfinite(record.value)
            if metric.name == QC_METRIC:
                if finite:  # kept for the explanation only: it no longer pays
                    data.qc.append(min(Fraction(1), max(Fraction(0), Fraction(record.value))))
                continue
            ok = finite and metric.minimum <= record.value <= metric.maximum
            time = report.end
            if record.time is not None and math.isfinite(record.time):
                time = math.floor(record.time)
            value = to_milli(record.value) if ok else None
            data.series[metric.name].append(Reading(time, report.seq, value))
    for data in devices.values():
        for readings in data.series.values():
            readings.sort(key=lambda r: (r.time, r.seq))
    return devices


def check_metric(name: str, readings: Sequence[Reading], params: RuleParams) -> MetricQuality:
    """Range, stagnation and spike checks over one metric's time-ordered readings."""
    rules = params.metrics.get(name)
    metric = metric_for(name)
    assert metric is not None
    bad = [r.value is None for r in readings]
    out_of_range = sum(bad)
    spikes, largest = 0, 0
    if rules is not None and rules.step > 0:
        for i in range(1, len(readings)):
            value, before = readings[i].value, readings[i - 1].value
            if value is None:
                continue
            if before is None:
                jump_bad = True
            else:
                jump = abs(value - before)
                dt = max(0, readings[i].time - readings[i - 1].time)
                jump_bad = jump * 3600 > rules.step * 3600 + rules.rate * dt
                largest = max(largest, jump) if jump_bad else largest
            if jump_bad and not bad[i]:
                bad[i] = True
                spikes += 1
    stuck, longest, stuck_value = 0, 0, None
    if rules is not None and rules.stuck_s > 0:
        bounds = {to_milli(metric.minimum), to_milli(metric.maximum)}
        for first, last, value, members in _runs(readings):
            held = readings[last].time - readings[first].time
            if value in bounds or held < rules.stuck_s:
                continue
            if held > longest:
                longest, stuck_value = held, value
            for i in members:
                if not bad[i]:
                    bad[i] = True
                    stuck += 1
    return MetricQuality(tuple(bad), out_of_range, stuck, longest, stuck_value, spikes, largest)


def _runs(readings: Sequence[Reading]) -> list[tuple[int, int, int, list[int]]]:
    """Maximal runs of one value among the in-range readings, each stretched over the
    out-of-range readings around it: ``(first index, last index, value, members)``."""
    valid = [i for i, r in enumerate(readings) if r.value is not None]
    runs: list[tuple[int, int, int, list[int]]] = []
    k = 0
    while k < len(valid):
        j = k
        value = readings[valid[k]].value
        assert value is not None
        while j + 1 < len(valid) and readings[valid[j + 1]].value == value:
            j += 1
        first = valid[k - 1] + 1 if k > 0 else 0
        last = valid[j + 1] - 1 if j + 1 < len(valid) else len(readings) - 1
        runs.append((first, last, value, valid[k : j + 1]))
        k = j + 1
    return runs


def longest_gap(intervals: Sequence[tuple[int, int]], start: int, end: int) -> int:
    """The longest stretch of ``[start, end)`` that no interval covers."""
    longest, reach = 0, start
    for lo, hi in sorted(intervals):
        if lo > reach:
            longest = max(longest, min(lo, end) - reach)
        reach = max(reach, hi)
        if reach >= end:
            break
    return max(longest, end - reach)
