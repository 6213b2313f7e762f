"""Where the anchorer learns the devices' placements that go into each epoch bundle.

* :class:`ChainPlacements` reads DeviceStaking's eligibility view (cell, placement time,
  cool-down, stake) at the last block of the epoch, so anyone can read the same answer;
* :class:`DeviceFilePlacements` reads an operator's device file (``devices.yaml``: id,
  lat, lon), for a network whose registry holds no locations: every located device is
  eligible and staked, and seniority ties are broken by device id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from aggregator.anchoring.errors import AnchoringValueError
from fieldproof.rewards.placement import DevicePlacement, cell_of

if TYPE_CHECKING:
    from web3 import Web3

    from fieldproof.chain.staking import DeviceStaking

DEFAULT_RESOLUTION = 7  # the registry's


class ChainPlacements:
    """Placements from the chain, as they stood at the epoch's end."""

    def __init__(self, w3: Web3, staking: DeviceStaking) -> None:
        self.w3 = w3
        self.staking = staking

    def placements(self, devices: Iterable[bytes], at: int) -> Mapping[bytes, DevicePlacement]:
        import h3

        from fieldproof.chain.errors import ChainValueError
        from fieldproof.chain.staking import block_at

        wanted = sorted(set(devices))
        if not wanted:
            return {}
        try:
            block = block_at(self.w3, at)
        except ChainValueError:
            return {}  # the chain starts after the epoch: nothing was placed yet
        minimum = self.staking.min_stake(block)
        out: dict[bytes, DevicePlacement] = {}
        for row in self.staking.eligibility(wanted, block):
            if row.cell == 0:
                continue
            cooled = row.active and row.eligible_from <= at
            staked = row.staked > 0 and row.staked >= minimum
            out[row.device_id] = DevicePlacement(
                cell=str(h3.int_to_str(row.cell)),
                placed_at=row.placed_at,
                # The contract's own verdict has the last word on anything else it checks.
                eligible=cooled and (row.eligible or not staked),
                staked=staked,
            )
        return out


class DeviceFilePlacements:
    """Placements from a device file's coordinates (no seniority, no stake on record)."""

    def __init__(self, path: Path, resolution: int = DEFAULT_RESOLUTION) -> None:
        self.path = path
        self.resolution = resolution

    def _read(self) -> dict[bytes, DevicePlacement]:
        try:
            data: Any = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise AnchoringValueError(f"device file {self.path}: {exc}") from exc
        entries = data.get("devices", []) if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise AnchoringValueError(f"device file {self.path}: expected a devices: list")
        out: dict[bytes, DevicePlacement] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("lat") is None or entry.get("lon") is None:
                continue
            raw = entry.get("id")
            # YAML reads an unquoted 0x… id as an integer.
            text = f"{raw:064x}" if isinstance(raw, int) else str(raw).removeprefix("0x")
            try:
                device = bytes.fromhex(text)
                cell = cell_of(float(entry["lat"]), float(entry["lon"]), self.resolution)
            except (ValueError, TypeError) as exc:
                raise AnchoringValueError(f"device file {self.path}: {entry!r}: {exc}") from exc
            out[device] = DevicePlacement(cell=cell, placed_at=0)
        return out

    def placements(self, devices: Iterable[bytes], at: int) -> Mapping[bytes, DevicePlacement]:
        known = self._read()  # read each epoch: the operator may edit it while we run
        return {device: known[device] for device in devices if device in known}
