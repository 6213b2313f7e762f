"""The published parameters of the reward rules (version 2 of the scoring).

Every threshold is an integer: values in thousandths of the metric's unit ("milli"),
shares in parts per million, times in seconds. They travel in every reward dump, so a
re-run applies exactly the rules the epoch was paid under.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from fieldproof.errors import RewardValueError


@dataclass(frozen=True, slots=True)
class MetricRules:
    """Per-metric limits, in thousandths of the metric's unit.

    ``step``/``rate``: a reading may differ from the one before it by at most
    ``step + rate · Δt/3600`` (a spike otherwise). ``stuck_s``: the same value held this
    long is a stuck sensor (``0``: not checked). ``floor``: the least tolerance against
    the neighbours' median. ``clone``: the residual spread below which two streams are
    copies of one another. ``0`` for ``step``, ``floor`` or ``clone`` switches that
    rule off for the metric.
    """

    step: int
    rate: int
    stuck_s: int
    floor: int
    clone: int

    def to_json(self) -> dict[str, int]:
        return {
            "step": self.step,
            "ratePerHour": self.rate,
            "stuckSeconds": self.stuck_s,
            "floor": self.floor,
            "clone": self.clone,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetricRules:
        return cls(
            step=_int(data["step"]),
            rate=_int(data["ratePerHour"]),
            stuck_s=_int(data["stuckSeconds"]),
            floor=_int(data["floor"]),
            clone=_int(data["clone"]),
        )


# Limits argued from the physics of each quantity: hourly temperature changes beyond
# 9 °C, pressure beyond 8 hPa, are sensor faults, not weather; particulate matter may
# legitimately jump by hundreds of µg/m³ (fireworks, a passing truck), so it gets room.
# Direction is circular and is left out of the step, neighbour and clone rules.
DEFAULT_METRICS: dict[str, MetricRules] = {
    "temp": MetricRules(step=3_000, rate=6_000, stuck_s=10_800, floor=1_500, clone=50),
    "dew": MetricRules(step=4_000, rate=8_000, stuck_s=10_800, floor=2_000, clone=50),
    "rh": MetricRules(step=20_000, rate=30_000, stuck_s=10_800, floor=6_000, clone=300),
    "pres": MetricRules(step=200_000, rate=600_000, stuck_s=10_800, floor=150_000, clone=5_000),
    "wspd": MetricRules(step=10_000, rate=15_000, stuck_s=21_600, floor=1_500, clone=50),
    "wdir": MetricRules(step=0, rate=0, stuck_s=21_600, floor=0, clone=0),
    "ghi": MetricRules(step=600_000, rate=800_000, stuck_s=10_800, floor=100_000, clone=2_000),
    "dni": MetricRules(step=800_000, rate=900_000, stuck_s=10_800, floor=150_000, clone=2_000),
    "dhi": MetricRules(step=400_000, rate=600_000, stuck_s=10_800, floor=80_000, clone=2_000),
    "pm25": MetricRules(step=250_000, rate=400_000, stuck_s=43_200, floor=12_000, clone=500),
    "pm10": MetricRules(step=400_000, rate=600_000, stuck_s=43_200, floor=20_000, clone=1_000),
    "co2": MetricRules(step=2_000_000, rate=4_000_000, stuck_s=21_600, floor=50_000, clone=2_000),
}


@dataclass(frozen=True, slots=True)
class RuleParams:
    """The knobs of the version 2 scoring, published with every reward epoch.

    * ``cell_resolution``: cells are compared at this H3 resolution, the registry's
      (7: hexagons of about 5.2 km², 2.4 km between neighbouring centres); finer declared
      cells are taken to their parent, coarser ones are not a location.
    * ``neighbour_rings``: a device's neighbours are the devices whose cells lie within
      this many cell steps (4 ≈ 10 km at resolution 7: close enough to share weather,
      far enough to find several independent stations).
    * ``min_neighbour_cells``: fewer occupied neighbouring cells than this in a time
      slot and the slot is not compared (the factor stays neutral).
    * ``mad_multiplier_ppm``: tolerance = max(floor, multiplier · MAD of the
      neighbouring cells' medians).
    * ``min_consistency_ppm``: below this agreement with its neighbours a device earns
      nothing (flagged as inconsistent). 90 %: in the fraud simulation honest sensors,
      faults and calibration offsets included, score 95 % and more, while data made up,
      replayed, shifted by a colluding group or taken from a far site score 90 % or less.
    * ``slot_seconds``: the time slot readings are compared in (neighbours, clones).
    * ``gap_seconds``: a silence longer than this is reported as a gap.
    * ``cell_capacity`` and ``capacity_floor_ppm``: at most this many devices per cell
      earn (3 per 5 km²: enough to cross-check one another, too few for a farm of
      identities on one roof). Devices that passed every other rule and score at least
      the floor (50 %: an outage of up to half the epoch) hold the places by seniority;
      those below it come after them, by score. Seniority, not score, decides among
      working devices because a score cannot tell a real stream from a copied real one
      and moves with the neighbours' data, while seniority costs an identity time: a
      newcomer replaying clean data cannot push out an established device that had an
      outage, and small shifts in the neighbours' medians do not reorder a cell.
    * ``clone_max_lag_slots``, ``clone_min_slots``: copies are looked for with delays
      of up to this many slots, over at least this many common slots.
    """

    cell_resolution: int = 7
    neighbour_rings: int = 4
    min_neighbour_cells: int = 3
    mad_multiplier_ppm: int = 3_000_000
    min_consistency_ppm: int = 900_000
    slot_seconds: int = 3_600
    gap_seconds: int = 7_200
    cell_capacity: int = 3
    capacity_floor_ppm: int = 500_000
    clone_max_lag_slots: int = 3
    clone_min_slots: int = 6
    metrics: Mapping[str, MetricRules] = field(default_factory=lambda: dict(DEFAULT_METRICS))

    def __post_init__(self) -> None:
        if not 0 <= self.cell_resolution <= 15:
            raise RewardValueError("rules: cell_resolution must be 0…15")
        if self.slot_seconds <= 0 or self.cell_capacity < 1:
            raise RewardValueError("rules: slot_seconds and cell_capacity must be positive")
        if not 0 <= self.capacity_floor_ppm <= 1_000_000:
            raise RewardValueError("rules: capacity_floor_ppm must be 0…1 000 000")
        if self.min_neighbour_cells < 1 or self.clone_min_slots < 2:
            raise RewardValueError("rules: min_neighbour_cells ≥ 1, clone_min_slots ≥ 2")
        for name in ("neighbour_rings", "mad_multiplier_ppm", "gap_seconds"):
            if getattr(self, name) < 0:
                raise RewardValueError(f"rules: {name} must not be negative")
        if self.clone_max_lag_slots < 0 or not 0 <= self.min_consistency_ppm <= 1_000_000:
            raise RewardValueError("rules: clone lag or minimum consistency out of range")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            _camel(f.name): getattr(self, f.name) for f in fields(self) if f.name != "metrics"
        }
        out["metrics"] = {name: rules.to_json() for name, rules in sorted(self.metrics.items())}
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleParams:
        try:
            values: dict[str, Any] = {
                f.name: _int(data[_camel(f.name)]) for f in fields(cls) if f.name != "metrics"
            }
            values["metrics"] = {
                str(name): MetricRules.from_json(rules)
                for name, rules in dict(data["metrics"]).items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise RewardValueError(f"rules: malformed parameters ({exc!r})") from exc
        return cls(**values)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a non-negative integer: {value!r}")
    return value


DEFAULT_RULES = RuleParams()
