"""CAR files read by the IPLD project's JS ``@ipld/car`` and ``multiformats`` (run with Node)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CAR_SCRIPT = Path(__file__).with_name("ipld_car.mjs")


@dataclass(frozen=True)
class CarBlock:
    cid: str
    hash_code: int
    rehashed: str
    data: bytes


@dataclass(frozen=True)
class CarRead:
    version: int
    roots: list[str]
    blocks: list[CarBlock]


def _block(item: dict[str, Any]) -> CarBlock:
    text = str(item["bytes"])
    return CarBlock(
        cid=str(item["cid"]),
        hash_code=int(item["hash"]),
        rehashed=str(item["rehashed"]),
        data=base64.b64decode(text + "=" * (-len(text) % 4)),
    )


def read_cars(paths: list[Path]) -> list[CarRead]:
    """What ``@ipld/car`` finds in each file. Fails (never skips) with the install
    command when Node or the packages are missing, and when the reader refuses a file."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found; install it with: apt-get install nodejs npm", pytrace=False)
    for package in ("@ipld/car", "multiformats"):
        if not (REPO / "node_modules" / package).exists():
            pytest.fail(f"{package} missing; install it with: npm ci", pytrace=False)
    completed = subprocess.run(
        [node, str(CAR_SCRIPT), *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"@ipld/car refused the file: {completed.stderr.strip()}", pytrace=False)
    return [
        CarRead(int(item["version"]), list(item["roots"]), [_block(b) for b in item["blocks"]])
        for item in json.loads(completed.stdout)
    ]
