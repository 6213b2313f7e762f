"""The configuration reference in docs/ is what the config models say today."""

from __future__ import annotations

import runpy
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "config_reference.py"


def test_configuration_reference_is_current() -> None:
    generator = runpy.run_path(str(REFERENCE))
    rendered = generator["render"]()
    assert generator["OUTPUT"].read_text() == rendered, (
        "docs/configuration.md is stale: run python docs/config_reference.py"
    )
    for key in (
        "`link.url`",
        "`ledger.url`",
        "`registry.mode`",
        "`cameras.lines.start`",
        "`roles`",
        "`anchoring.rpc`",
        "`rewards.emission`",
        "`api.keys.key`",
        "`api.map.tile_url`",
    ):
        assert key in rendered
