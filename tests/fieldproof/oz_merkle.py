"""Reference trees from OpenZeppelin's JS ``@openzeppelin/merkle-tree`` (run with Node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
OZ_SCRIPT = Path(__file__).with_name("oz_merkle.cjs")


def openzeppelin_trees(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``{"types", "values"}`` cases → the JS library's ``{"root", "proofs"}`` for each.

    Fails (never skips) with the install command when Node or the package is missing.
    """
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found; install it with: apt-get install nodejs npm", pytrace=False)
    if not (REPO / "node_modules" / "@openzeppelin" / "merkle-tree").exists():
        pytest.fail("@openzeppelin/merkle-tree missing; install it with: npm ci", pytrace=False)
    completed = subprocess.run(
        [node, str(OZ_SCRIPT)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    trees: list[dict[str, Any]] = json.loads(completed.stdout)
    return trees
