"""bench/gpu.sh runs its whole measurement path on the CPU provider (dry run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_script_dry_run_measures_every_batch_size() -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "bench" / "gpu.sh"), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["dry_run"] is True
    assert [r["batch"] for r in result["results"]] == [1, 2]
    for row in result["results"]:
        assert row["provider"] == "CPUExecutionProvider"
        assert row["model_fps"] > 0
        assert row["pipeline_fps"] > 0
