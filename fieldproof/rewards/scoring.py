"""Device scores for one epoch, computed from the epoch bundle alone.

Every quantity is an exact rational (readings travel as float32, which
:class:`fractions.Fraction` holds exactly), so anyone re-running the scoring on the
same bundle gets the same integer weights on any machine; no ``float`` or ``libm``
result decides an amount.

* **uptime**: seconds covered by the union of the reporting intervals received, over the
  epoch's length, capped at 1 (overlapping or repeated intervals count once);
* **quality**: per report, the mean of its ``qc`` records (1 when it has none) times the
  share of its catalogued readings that are finite and within the metric's physical
  range; a report that does not decode, or names another device, scores 0;
* **agreement**: per environmental metric, the device's median reading against the
  median of the other devices' medians for that metric in the same epoch,
  ``1 / (1 + (deviation / tolerance)²)`` with the tolerance a share of the metric's
  physical range; averaged over the metrics that other devices also report (1 when none).
  The bundle carries no locations, so the neighbourhood is the epoch's other devices.

``weight = ⌊uptime · quality · agreement · 10⁶⌋``.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from fieldproof.bundle import EpochBundle
from fieldproof.metrics import metric_for
from fieldproof.wire import Record, WireError, decode_report

SCALE = 1_000_000
QC_METRIC = "qc"
ONE = Fraction(1)


@dataclass(frozen=True, slots=True)
class ScoringParams:
    """Knobs of the scoring; published with every reward epoch so a re-run uses the same."""

    agreement_tolerance_ppm: int = 20_000  # 2 % of the metric's physical range

    def to_json(self) -> dict[str, int]:
        return {"agreementTolerancePpm": self.agreement_tolerance_ppm}


DEFAULT_PARAMS = ScoringParams()


@dataclass(frozen=True, slots=True)
class DeviceScore:
    """A device's score components (parts per million) and its weight in the split."""

    device_id: bytes
    reports: int
    uptime_ppm: int
    quality_ppm: int
    agreement_ppm: int
    weight: int


def _ppm(value: Fraction) -> int:
    return math.floor(value * SCALE)


def median(values: Sequence[Fraction]) -> Fraction:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _median_of_others(ordered: Sequence[Fraction], value: Fraction) -> Fraction:
    """:func:`median` of the sorted ``ordered`` with one occurrence of ``value`` taken
    out (the other devices' medians), without copying and sorting per device."""
    skip = bisect_left(ordered, value)
    count = len(ordered) - 1

    def at(k: int) -> Fraction:
        return ordered[k if k < skip else k + 1]

    middle = count // 2
    if count % 2:
        return at(middle)
    return (at(middle - 1) + at(middle)) / 2


def _in_range(record: Record) -> bool | None:
    """Whether a catalogued numeric reading is physically possible; ``None`` if uncatalogued."""
    metric = metric_for(record.name)
    if metric is None or record.value is None:
        return None
    return math.isfinite(record.value) and metric.minimum <= record.value <= metric.maximum


def covered_seconds(intervals: Iterable[tuple[int, int]]) -> int:
    """Length of the union of half-open intervals ``[start, end)``."""
    total = 0
    reach: int | None = None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def _report_quality(records: Sequence[Record]) -> Fraction:
    qc = [
        min(ONE, max(Fraction(0), Fraction(r.value)))
        for r in records
        if r.value is not None and math.isfinite(r.value) and _metric_key(r) == QC_METRIC
    ]
    qc_factor = sum(qc, Fraction(0)) / len(qc) if qc else ONE
    checks = [ok for ok in (_in_range(r) for r in records) if ok is not None]
    validity = Fraction(sum(checks), len(checks)) if checks else ONE
    return qc_factor * validity


def _metric_key(record: Record) -> str | None:
    metric = metric_for(record.name)
    return None if metric is None else metric.name


@dataclass(slots=True)
class _DeviceAcc:
    reports: int = 0
    intervals: list[tuple[int, int]] | None = None
    quality: Fraction = Fraction(0)
    readings: dict[str, list[Fraction]] | None = None


def _collect(bundle: EpochBundle) -> dict[bytes, _DeviceAcc]:
    devices: dict[bytes, _DeviceAcc] = {}
    for entry in bundle.reports:
        acc = devices.setdefault(
            entry.device_id, _DeviceAcc(intervals=[], readings=defaultdict(list))
        )
        acc.reports += 1
        try:
            report = decode_report(entry.raw).report
        except WireError:
            continue
        if report.device_id != entry.device_id or report.seq != entry.seq:
            continue
        # An instantaneous report still stands for one second of presence.
        assert acc.intervals is not None
        acc.intervals.append((report.start, max(report.end, report.start + 1)))
        acc.quality += _report_quality(report.records)
        assert acc.readings is not None
        for record in report.records:
            key = _metric_key(record)
            if key is None or key == QC_METRIC or _in_range(record) is not True:
                continue
            assert record.value is not None
            acc.readings[key].append(Fraction(record.value))
    return devices


def _agreement(devices: dict[bytes, _DeviceAcc], params: ScoringParams) -> dict[bytes, Fraction]:
    medians: dict[str, dict[bytes, Fraction]] = defaultdict(dict)
    for device_id, acc in devices.items():
        assert acc.readings is not None
        for key, values in acc.readings.items():
            medians[key][device_id] = median(values)
    per_device: dict[bytes, list[Fraction]] = defaultdict(list)
    for key, by_device in medians.items():
        if len(by_device) < 2:
            continue
        metric = metric_for(key)
        assert metric is not None
        tolerance = (Fraction(metric.maximum) - Fraction(metric.minimum)) * Fraction(
            params.agreement_tolerance_ppm, SCALE
        )
        ordered = sorted(by_device.values())
        for device_id, value in by_device.items():
            ratio = abs(value - _median_of_others(ordered, value)) / tolerance
            per_device[device_id].append(ONE / (1 + ratio * ratio))
    return {
        device_id: sum(scores, Fraction(0)) / len(scores)
        for device_id, scores in per_device.items()
    }


def score_devices(
    bundle: EpochBundle, params: ScoringParams = DEFAULT_PARAMS
) -> tuple[DeviceScore, ...]:
    """Scores of every device with a report in ``bundle``, ordered by device id."""
    devices = _collect(bundle)
    agreement = _agreement(devices, params)
    length = max(1, bundle.end - bundle.start)
    scores = []
    for device_id in sorted(devices):
        acc = devices[device_id]
        uptime = min(ONE, Fraction(covered_seconds(acc.intervals or []), length))
        quality = acc.quality / acc.reports
        agree = agreement.get(device_id, ONE)
        scores.append(
            DeviceScore(
                device_id=device_id,
                reports=acc.reports,
                uptime_ppm=_ppm(uptime),
                quality_ppm=_ppm(quality),
                agreement_ppm=_ppm(agree),
                weight=_ppm(uptime * quality * agree),
            )
        )
    return tuple(scores)
