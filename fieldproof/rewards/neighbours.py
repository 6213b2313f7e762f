"""Neighbour consistency: each reading against the devices around it, robustly.

The epoch is cut into slots of ``slot_seconds``. A device's *slot value* of a metric is
the median of its good readings in the slot. For a device, each neighbouring cell (its
cell's ring of ``neighbour_rings``, its own cell included, the device itself left out)
speaks with one voice per slot: the median of its devices' slot values, so ten
identities on one roof count once. With at least ``min_neighbour_cells`` voices the
reference is their median, and the tolerance ``max(floor, multiplier · MAD)`` widens
where honest neighbours genuinely differ (hills, coast, traffic).

Each reading scores ``tol² / (tol² + excess²)`` with ``excess`` its distance beyond the
tolerance (an out-of-range reading scores 0); a metric scores the mean over the readings
that had a reference, the device the mean over such metrics. A device's own readings
never enter its own reference. Medians are lower medians: integers, no rounding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import h3

from fieldproof.rewards.rules import RuleParams
from fieldproof.rewards.series import Reading

SlotValues = dict[str, dict[int, int]]  # metric -> slot -> value


def low_median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def slot_of(time: int, start: int, params: RuleParams) -> int:
    return (time - start) // params.slot_seconds


def slot_values(
    series: Mapping[str, Sequence[Reading]],
    good: Mapping[str, Sequence[bool]],
    start: int,
    params: RuleParams,
) -> SlotValues:
    """Per metric and slot, the median of the device's good readings."""
    out: SlotValues = {}
    for name, readings in series.items():
        by_slot: dict[int, list[int]] = defaultdict(list)
        for reading, ok in zip(readings, good[name], strict=True):
            if ok and reading.value is not None:
                by_slot[slot_of(reading.time, start, params)].append(reading.value)
        if by_slot:
            out[name] = {slot: low_median(values) for slot, values in by_slot.items()}
    return out


def area_cell(cell: str, params: RuleParams) -> str | None:
    """``cell`` at the rules' resolution, or ``None`` if it is not a cell that fine."""
    if not h3.is_valid_cell(cell) or h3.get_resolution(cell) < params.cell_resolution:
        return None
    return str(h3.cell_to_parent(cell, params.cell_resolution))


def neighbour_cells(cells: Iterable[str], params: RuleParams) -> dict[str, tuple[str, ...]]:
    """For each occupied cell, the occupied cells within ``neighbour_rings`` (itself too)."""
    occupied = sorted(set(cells))
    out: dict[str, tuple[str, ...]] = {}
    for cell in occupied:
        ring = set(h3.grid_disk(cell, params.neighbour_rings))
        out[cell] = tuple(other for other in occupied if other in ring)
    return out


@dataclass(frozen=True, slots=True)
class Consistency:
    """A device's agreement with its neighbours, per metric (only metrics compared)."""

    factor: Fraction
    per_metric: Mapping[str, Fraction]
    compared: int
    neighbour_cells: int


class Neighbourhood:
    """Cell voices per metric and slot, built once per epoch."""

    def __init__(
        self,
        cells: Mapping[bytes, str],
        slots: Mapping[bytes, SlotValues],
        params: RuleParams,
        start: int,
    ) -> None:
        self.params = params
        self.start = start
        self.cells = dict(cells)
        self.near = neighbour_cells(cells.values(), params)
        # cell -> metric -> slot -> [(device, value)]
        self._members: dict[str, dict[str, dict[int, list[tuple[bytes, int]]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list))
        )
        for device in sorted(cells):
            for name, values in slots.get(device, {}).items():
                for slot, value in values.items():
                    self._members[cells[device]][name][slot].append((device, value))
        self._voice: dict[tuple[str, str, int], int] = {}
        for cell, metrics in self._members.items():
            for name, by_slot in metrics.items():
                for slot, members in by_slot.items():
                    self._voice[(cell, name, slot)] = low_median([v for _, v in members])

    def voices(self, device: bytes, name: str, slot: int) -> list[int]:
        """The neighbouring cells' voices for ``device`` (itself left out)."""
        own = self.cells[device]
        out: list[int] = []
        for cell in self.near[own]:
            if cell != own:
                voice = self._voice.get((cell, name, slot))
                if voice is not None:
                    out.append(voice)
                continue
            members = self._members[cell][name].get(slot, [])
            others = [v for d, v in members if d != device]
            if others:
                out.append(low_median(others))
        return out

    def consistency(self, device: bytes, series: Mapping[str, Sequence[Reading]]) -> Consistency:
        params = self.params
        per_metric: dict[str, Fraction] = {}
        compared = 0
        for name, readings in sorted(series.items()):
            rules = params.metrics.get(name)
            if rules is None or rules.floor <= 0:
                continue
            cache: dict[int, tuple[int, int] | None] = {}
            total, count = Fraction(0), 0
            for reading in readings:
                slot = slot_of(reading.time, self.start, params)
                if slot not in cache:
                    cache[slot] = self._reference(device, name, slot, rules.floor)
                reference = cache[slot]
                if reference is None:
                    continue
                count += 1
                if reading.value is None:
                    continue
                median, tolerance = reference
                excess = max(0, abs(reading.value - median) - tolerance)
                total += Fraction(tolerance * tolerance, tolerance * tolerance + excess * excess)
            if count:
                per_metric[name] = total / count
                compared += count
        factor = (
            sum(per_metric.values(), Fraction(0)) / len(per_metric) if per_metric else Fraction(1)
        )
        return Consistency(factor, per_metric, compared, len(self.near[self.cells[device]]))

    def _reference(self, device: bytes, name: str, slot: int, floor: int) -> tuple[int, int] | None:
        voices = self.voices(device, name, slot)
        if len(voices) < self.params.min_neighbour_cells:
            return None
        median = low_median(voices)
        mad = low_median([abs(v - median) for v in voices])
        return median, max(floor, mad * self.params.mad_multiplier_ppm // 1_000_000)
