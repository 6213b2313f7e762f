"""The committed artifacts are what the sources compile to."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fieldproof.chain.artifacts import ARTIFACT_DIR, CONTRACT_NAMES, load_artifact
from fieldproof.chain.errors import ChainValueError

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_artifacts_match_a_fresh_compile(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found; install Node.js (apt-get install nodejs npm), then npm ci")
    if not (REPO_ROOT / "node_modules" / "solc").exists():
        pytest.fail("solc not in node_modules; install it with: npm ci")
    completed = subprocess.run(
        [node, str(REPO_ROOT / "contracts" / "compile.mjs"), "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    for name in CONTRACT_NAMES:
        fresh = json.loads((tmp_path / f"{name}.json").read_text())
        committed = json.loads((ARTIFACT_DIR / f"{name}.json").read_text())
        assert fresh == committed, (
            f"{name}: committed artifact differs from its source; run `fieldproof chain compile`"
        )


def test_every_artifact_loads() -> None:
    for name in CONTRACT_NAMES:
        artifact = load_artifact(name)
        assert artifact.name == name
        assert artifact.bytecode.startswith("0x60")
        assert artifact.compiler.startswith("solc 0.8.37")
        assert any(entry.get("type") == "function" for entry in artifact.abi)


def test_missing_artifact_is_named(tmp_path: Path) -> None:
    with pytest.raises(ChainValueError, match="artifact Nope"):
        load_artifact("Nope", tmp_path)
