"""Where a device stands and whether it may earn: the scoring's inputs beside the reports.

A placement is what the device registry says about a device when its epoch closes: its
declared H3 cell, when it was placed there (its seniority: a move starts it afresh),
whether it is eligible (not cooling down after a move, not deactivated) and whether its
stake is in place. The anchoring service asks a :class:`PlacementProvider` for the
devices of an epoch and writes the answer into the epoch bundle, so that the scoring
re-runs from the bundle alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import h3

from fieldproof.errors import BundleError


@dataclass(frozen=True, slots=True)
class DevicePlacement:
    """A device's declared cell, placement time (Unix seconds) and reward eligibility."""

    cell: str
    placed_at: int
    eligible: bool = True
    staked: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "placedAt": self.placed_at,
            "eligible": self.eligible,
            "staked": self.staked,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DevicePlacement:
        cell, placed_at = data["cell"], data["placedAt"]
        eligible, staked = data["eligible"], data["staked"]
        if not isinstance(cell, str) or not isinstance(placed_at, int):
            raise BundleError(f"placement: malformed {dict(data)!r}")
        if not isinstance(eligible, bool) or not isinstance(staked, bool):
            raise BundleError(f"placement: malformed {dict(data)!r}")
        return cls(cell, placed_at, eligible, staked)


class PlacementProvider(Protocol):
    """Reads the placements of devices as they stand at ``at`` (Unix seconds)."""

    def placements(self, devices: Iterable[bytes], at: int) -> Mapping[bytes, DevicePlacement]:
        """Placements of those of ``devices`` that have one; others are left out."""
        ...


class StaticPlacements:
    """A fixed map of placements (tests, the demo's device file, simulations)."""

    def __init__(self, placements: Mapping[bytes, DevicePlacement]) -> None:
        self._placements = dict(placements)

    def placements(self, devices: Iterable[bytes], at: int) -> Mapping[bytes, DevicePlacement]:
        return {d: self._placements[d] for d in devices if d in self._placements}


def cell_of(lat: float, lon: float, resolution: int) -> str:
    """The H3 cell of a WGS 84 position at ``resolution``."""
    return str(h3.latlng_to_cell(lat, lon, resolution))


def placements_json(placements: Mapping[bytes, DevicePlacement]) -> dict[str, Any]:
    return {"0x" + device.hex(): p.to_json() for device, p in sorted(placements.items())}


def placements_from_json(data: Any) -> dict[bytes, DevicePlacement]:
    if not isinstance(data, dict):
        raise BundleError("bundle: placements must be an object")
    try:
        return {
            bytes.fromhex(str(device).removeprefix("0x")): DevicePlacement.from_json(item)
            for device, item in data.items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"bundle: malformed placements ({exc!r})") from exc
