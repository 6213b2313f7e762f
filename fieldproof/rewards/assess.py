"""Version 2 of the device scoring: quality checked by the server, neighbours, clones, cells.

From the epoch bundle alone (its reports and the placements it records):

``score = coverage · quality · consistency`` where
* **coverage**: seconds covered by the union of the reporting intervals over the
  epoch's length (a silence longer than ``gap_seconds`` is named in the flags);
* **quality**: the share of the device's readings that pass the range, stagnation and
  spike checks (:mod:`fieldproof.rewards.series`); the device's own ``qc`` is shown,
  not paid;
* **consistency**: agreement with the neighbouring cells (:mod:`.neighbours`); neutral
  (1) without enough neighbours.

A device then earns ``⌊score · 10⁶⌋`` unless something zeroes it, in this order: no
registered owner, no valid declared cell, not eligible, no stake, consistency below
``min_consistency_ppm``, a clone of another device (:mod:`.clones`), or its cell
already holding ``cell_capacity`` devices ranked ahead of it (by seniority among those
scoring at least ``capacity_floor_ppm``, after them by score). Every factor and every
flag, with its reason in words, is kept for the owner.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from fractions import Fraction

from fieldproof.bundle import EpochBundle
from fieldproof.metrics import metric_for
from fieldproof.rewards.clones import CloneVerdict, find_clones
from fieldproof.rewards.neighbours import Neighbourhood, SlotValues, area_cell, slot_values
from fieldproof.rewards.placement import DevicePlacement
from fieldproof.rewards.rules import DEFAULT_RULES, RuleParams
from fieldproof.rewards.scoring import covered_seconds
from fieldproof.rewards.series import MILLI, DeviceData, check_metric, collect, longest_gap

SCALE = 1_000_000

# Flag severities: what the flag did to the device's reward.
INFO, REDUCES, ZERO = "info", "reduces", "zero"


@dataclass(frozen=True, slots=True)
class Flag:
    """A rule that fired for a device, in words."""

    code: str
    severity: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Assessment:
    """A device's factors (parts per million), its score, its weight and why."""

    device_id: bytes
    reports: int
    coverage_ppm: int
    quality_ppm: int
    consistency_ppm: int
    score_ppm: int
    weight: int
    flags: tuple[Flag, ...]
    cell: str | None
    placed_at: int | None
    self_qc_ppm: int | None

    @property
    def rewarded(self) -> bool:
        return self.weight > 0

    def has(self, code: str) -> bool:
        return any(flag.code == code for flag in self.flags)


def _ppm(value: Fraction) -> int:
    return math.floor(value * SCALE)


def _pct(ppm: int) -> str:
    return f"{ppm / 10_000:.1f} %"


def _value(metric: str, milli: int) -> str:
    m = metric_for(metric)
    unit = "" if m is None else f" {m.unit}"
    return f"{milli / MILLI:g}{unit}"


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:.1f} h"


@dataclass(slots=True)
class _Work:
    data: DeviceData
    coverage: Fraction
    quality: Fraction
    good: dict[str, list[bool]]
    flags: list[Flag]
    consistency: Fraction = Fraction(1)


def _quality(
    data: DeviceData, params: RuleParams
) -> tuple[Fraction, dict[str, list[bool]], list[Flag]]:
    flags: list[Flag] = []
    good: dict[str, list[bool]] = {}
    total = passed = 0
    for name, readings in sorted(data.series.items()):
        checked = check_metric(name, readings, params)
        good[name] = [not b for b in checked.bad]
        total += len(readings)
        passed += sum(good[name])
        if checked.out_of_range:
            flags.append(
                Flag(
                    "out-of-range",
                    REDUCES,
                    f"{checked.out_of_range} {name} readings were "
                    "not finite or outside the physical range",
                )
            )
        if checked.stuck:
            assert checked.stuck_value is not None
            flags.append(
                Flag(
                    "stuck",
                    REDUCES,
                    f"{name} stayed at {_value(name, checked.stuck_value)} for "
                    f"{_hours(checked.longest_stuck_s)}: {checked.stuck} readings of a stuck "
                    "sensor",
                )
            )
        if checked.spikes:
            flags.append(
                Flag(
                    "spike",
                    REDUCES,
                    f"{checked.spikes} {name} readings jumped beyond the rate "
                    f"limit (largest jump {_value(name, checked.largest_jump)})",
                )
            )
    quality = Fraction(passed, total) if total else Fraction(1)
    return quality, good, flags


def assess(
    bundle: EpochBundle,
    registered: Collection[bytes] | None = None,
    params: RuleParams = DEFAULT_RULES,
) -> tuple[Assessment, ...]:
    """Assess every device with a report in ``bundle``, ordered by device id.

    ``registered``: the devices with an owner (``None``: all); the others earn nothing
    and take no place in their cell."""
    placements: Mapping[bytes, DevicePlacement] = bundle.placements or {}
    length = max(1, bundle.end - bundle.start)
    devices = collect(bundle)
    work: dict[bytes, _Work] = {}
    for device, data in devices.items():
        quality, good, flags = _quality(data, params)
        coverage = min(Fraction(1), Fraction(covered_seconds(data.intervals), length))
        if data.undecodable:
            flags.insert(
                0,
                Flag(
                    "undecodable",
                    REDUCES,
                    f"{data.undecodable} reports could not be decoded or named another device",
                ),
            )
        gap = longest_gap(data.intervals, bundle.start, bundle.end)
        if gap > params.gap_seconds:
            flags.append(
                Flag(
                    "gap",
                    REDUCES,
                    f"no report for {_hours(gap)} (coverage {_pct(_ppm(coverage))} of the epoch)",
                )
            )
        work[device] = _Work(data, coverage, quality, good, flags)

    cells: dict[bytes, str] = {}
    for device in sorted(devices):
        placement = placements.get(device)
        if placement is not None:
            cell = area_cell(placement.cell, params)
            if cell is not None:
                cells[device] = cell
    slots: dict[bytes, SlotValues] = {
        device: slot_values(work[device].data.series, work[device].good, bundle.start, params)
        for device in cells
    }
    hood = Neighbourhood(cells, slots, params, bundle.start)
    for device in cells:
        w = work[device]
        found = hood.consistency(device, w.data.series)
        w.consistency = found.factor
        if not found.per_metric:
            w.flags.append(
                Flag(
                    "few-neighbours",
                    INFO,
                    f"fewer than {params.min_neighbour_cells}"
                    " neighbouring cells reported alongside it: consistency is "
                    "neutral",
                )
            )
        else:
            worst = min(found.per_metric, key=lambda name: (found.per_metric[name], name))
            if found.per_metric[worst] < 1:
                text = ", ".join(
                    f"{name} {_pct(_ppm(v))}" for name, v in sorted(found.per_metric.items())
                )
                w.flags.append(
                    Flag(
                        "neighbours",
                        REDUCES,
                        f"agreement with the {found.neighbour_cells} cells around it: {text}",
                    )
                )

    placed_at = {device: placements[device].placed_at for device in cells}
    clones = find_clones(cells, hood.near, slots, placed_at, params)
    scores = {d: _ppm(w.coverage * w.quality * w.consistency) for d, w in work.items()}
    candidates = _gate(
        work,
        placements=placements,
        cells=cells,
        clones=clones,
        registered=registered,
        scores=scores,
        params=params,
    )
    _capacity(candidates, work=work, cells=cells, placed_at=placed_at, scores=scores, params=params)
    out = []
    for device in sorted(work):
        w = work[device]
        placement = placements.get(device)
        qc = w.data.qc
        out.append(
            Assessment(
                device_id=device,
                reports=w.data.reports,
                coverage_ppm=_ppm(w.coverage),
                quality_ppm=_ppm(w.quality),
                consistency_ppm=_ppm(w.consistency),
                score_ppm=scores[device],
                weight=scores[device] if device in candidates else 0,
                flags=tuple(w.flags),
                cell=None if placement is None else placement.cell,
                placed_at=None if placement is None else placement.placed_at,
                self_qc_ppm=_ppm(sum(qc, Fraction(0)) / len(qc)) if qc else None,
            )
        )
    return tuple(out)


def _gate(
    work: dict[bytes, _Work],
    *,
    placements: Mapping[bytes, DevicePlacement],
    cells: Mapping[bytes, str],
    clones: Mapping[bytes, CloneVerdict],
    registered: Collection[bytes] | None,
    scores: Mapping[bytes, int],
    params: RuleParams,
) -> set[bytes]:
    """The devices still earning after the zeroing rules (flags added to the rest)."""
    kept: set[bytes] = set()
    for device, w in sorted(work.items()):
        placement = placements.get(device)
        zero: Flag | None = None
        if registered is not None and device not in registered:
            zero = Flag("unregistered", ZERO, "no registered owner: nobody to pay")
        elif placement is None:
            zero = Flag("no-location", ZERO, "no declared location for this epoch")
        elif device not in cells:
            zero = Flag(
                "no-location",
                ZERO,
                f"declared cell {placement.cell} is not an H3 cell "
                f"of resolution {params.cell_resolution} or finer",
            )
        elif not placement.eligible:
            zero = Flag(
                "ineligible", ZERO, "not eligible in this epoch (moved recently, or deactivated)"
            )
        elif not placement.staked:
            zero = Flag("unstaked", ZERO, "no stake in place for this device")
        elif w.consistency * SCALE < params.min_consistency_ppm:
            zero = Flag(
                "inconsistent",
                ZERO,
                "agreement with its neighbours "
                f"{_pct(_ppm(w.consistency))} is below the "
                f"{_pct(params.min_consistency_ppm)} needed to earn",
            )
        if device in clones:
            verdict = clones[device]
            m = verdict.match
            when = (
                "at the same time"
                if m.lag == 0
                else (f"{abs(m.lag)} slot(s) {'later' if m.lag > 0 else 'earlier'}")
            )
            w.flags.append(
                Flag(
                    "clone",
                    ZERO,
                    f"its readings repeat those of 0x{m.source.hex()} "
                    f"{when} (offset {_value(m.metric, m.offset)} in {m.metric}); "
                    f"only 0x{verdict.kept.hex()} of this group earns",
                )
            )
            zero = zero or w.flags[-1]
        if zero is not None:
            if zero not in w.flags:
                w.flags.append(zero)
            continue
        if scores[device] > 0:
            kept.add(device)
    return kept


def _capacity(
    candidates: set[bytes],
    *,
    work: dict[bytes, _Work],
    cells: Mapping[bytes, str],
    placed_at: Mapping[bytes, int],
    scores: Mapping[bytes, int],
    params: RuleParams,
) -> None:
    """Keep at most ``cell_capacity`` candidates per cell: those at or above the floor
    by seniority, then the rest by score (see :class:`RuleParams`)."""
    floor = params.capacity_floor_ppm
    by_cell: dict[str, list[bytes]] = {}
    for device in sorted(candidates):
        by_cell.setdefault(cells[device], []).append(device)
    for cell, members in by_cell.items():
        ranked = sorted(
            members,
            key=lambda d: (
                (0, placed_at[d], 0) if scores[d] >= floor else (1, -scores[d], placed_at[d]),
                d,
            ),
        )
        for device in ranked[params.cell_capacity :]:
            candidates.discard(device)
            below = scores[device] < floor
            work[device].flags.append(
                Flag(
                    "cell-capacity",
                    ZERO,
                    f"cell full: {cell} already has {params.cell_capacity} earning devices "
                    + (
                        f"ahead of it (its score is below the {_pct(floor)} that holds a "
                        "place by seniority)"
                        if below
                        else "placed there before it (working devices keep their places by "
                        "seniority)"
                    ),
                )
            )
