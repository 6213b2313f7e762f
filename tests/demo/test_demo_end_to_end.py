"""The whole network, as a newcomer runs it: ``fieldproof demo --json`` for about a minute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_network_end_to_end(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable, "-m", "fieldproof", "demo", "--devices", "3", "--duration", "60",
            "--epoch", "15", "--json", "--workdir", str(tmp_path / "demo"), "--seed", "7",
        ],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert completed.stdout.strip(), completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["reports_published"] > 0, completed.stderr[-3000:]
    assert result["reports_published"] == result["reports_stored"], completed.stderr[-3000:]
    assert result["reports_rejected"] == 0
    assert result["epochs_anchored"] >= 1
    assert result["verified_reading"] is True
    assert [step["ok"] for step in result["verification"]] == [True] * 4
    assert result["claims"] >= 1
    assert result["owners_paid"] >= 1
    assert int(result["claimed_amount"]) > 0
    # One device of the first owner, explained: its outcome, a line per factor, its flags.
    explained = result["explained_reward"]
    assert explained is not None, completed.stderr[-3000:]
    owners = {device["device_id"]: device["owner"] for device in result["devices"]}
    assert explained["owner"].lower() == owners[explained["device"]].lower()
    lines = explained["lines"]
    assert lines[0].startswith("earned ")
    for factor in ("coverage", "quality", "neighbour consistency", "score"):
        assert any(line.startswith(f"{factor} ") and " %" in line for line in lines), factor
    assert [device["agent_exit"] for device in result["devices"]] == [0, 0, 0]
    # Each device registered at its own real site's H3 cell.
    assert len({device["cell"] for device in result["devices"]}) == 3
    assert [device["site"] for device in result["devices"]] == [
        "Aotizhongxin",
        "Changping",
        "Dingling",
    ]
    assert completed.returncode == 0, completed.stderr[-3000:]
