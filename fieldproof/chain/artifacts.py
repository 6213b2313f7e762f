"""The committed contract artifacts (ABI + creation bytecode) shipped with the package."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fieldproof.chain.errors import ChainValueError

ARTIFACT_DIR = Path(__file__).parent / "artifacts"
CONTRACT_NAMES: tuple[str, ...] = (
    "DeviceRegistry",
    "DataAnchor",
    "RewardToken",
    "RewardDistributor",
    "DeviceStaking",
)


@dataclass(frozen=True, slots=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    compiler: str


@cache
def load_artifact(name: str, directory: Path = ARTIFACT_DIR) -> Artifact:
    """Read ``<name>.json`` from ``directory`` (the committed artifacts by default)."""
    path = directory / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ChainValueError(f"artifact {name}: cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ChainValueError(f"artifact {name}: {path} is not JSON ({exc})") from exc
    try:
        return Artifact(
            name=str(data["contractName"]),
            abi=tuple(data["abi"]),
            bytecode=str(data["bytecode"]),
            compiler=str(data["compiler"]),
        )
    except KeyError as exc:
        raise ChainValueError(f"artifact {name}: {path} lacks key {exc}") from exc


def all_abis() -> list[tuple[dict[str, Any], ...]]:
    """The ABIs of every shipped contract (used to name custom errors in reverts)."""
    return [load_artifact(name).abi for name in CONTRACT_NAMES]
