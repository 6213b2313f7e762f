"""``/v1/shadow`` and ``fieldproof fleet shadow-report``: shadow figures from the devices'
latest heartbeats, summed per candidate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aggregator.api import ApiConfig, ApiServer, create_app
from aggregator.api.sources import ApiSources
from aggregator.ledger import Batch, HealthUpdate, SqlLedger
from aggregator.ledger.factory import open_ledger
from aggregator.series.factory import open_series
from fieldproof.cli import main

CANDIDATE = "c" * 64
# Every setting has a default; the model's signature does not say so to mypy.
CONFIG = ApiConfig()  # type: ignore[call-arg]
OTHER = "d" * 64


def _figures(sha: str, *, matched: int, active_in: int, candidate_in: int) -> dict[str, Any]:
    return {
        "candidate": "nanodet-plus" if sha == CANDIDATE else "yolo-n",
        "candidate_sha256": sha,
        "active": "nanodet-m",
        "since": 1_700_000_000.0,
        "frames": 100,
        "frames_skipped": 2,
        "windows": 3,
        "match_iou": 0.5,
        "classes": {"person": {"active": 50, "candidate": 48, "matched": matched}},
        "lines": {
            "cam/door": {
                "in": {"active": active_in, "candidate": candidate_in},
                "out": {"active": 4, "candidate": 4},
            }
        },
        "latency_ms": {"active_mean": 20.0, "candidate_mean": 30.0, "candidate_p95": 35.0},
    }


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqlLedger]:
    opened = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    healths: list[tuple[int, dict[str, Any]]] = [
        (1, {"shadow": _figures(CANDIDATE, matched=40, active_in=10, candidate_in=9)}),
        (2, {"shadow": _figures(CANDIDATE, matched=46, active_in=10, candidate_in=12)}),
        (3, {"shadow": _figures(OTHER, matched=10, active_in=10, candidate_in=2)}),
        (4, {"cpu_percent": 3.0}),  # no shadow mode there
        (5, {"shadow": {"candidate": "x", "frames": "many"}}),  # malformed: left out
    ]
    opened.write_batch(
        Batch(
            healths=[
                HealthUpdate(bytes([n]) * 32, json.dumps({"device": "x", **h}), 1_700_000_100.0)
                for n, h in healths
            ]
        )
    )
    yield opened
    opened.close()


@pytest.fixture
def sources(ledger: SqlLedger, tmp_path: Path) -> ApiSources:
    return ApiSources(ledger=ledger, series=open_series(f"sqlite:///{tmp_path / 'series.sqlite'}"))


def test_shadow_summary_per_candidate(sources: ApiSources) -> None:
    client = TestClient(create_app(sources, CONFIG))
    body = client.get("/v1/shadow").json()
    assert body["devices_reporting"] == 3
    by_sha = {c["sha256"]: c for c in body["candidates"]}
    assert set(by_sha) == {CANDIDATE, OTHER}
    summary = by_sha[CANDIDATE]
    assert summary["devices"] == 2
    assert summary["frames"] == 200
    assert summary["detections"] == {
        "active": 100,
        "candidate": 96,
        "matched": 86,
        "agreement": pytest.approx(2 * 86 / 196),
    }
    lines = summary["lines"]
    assert lines["in"] == {"active": 20, "candidate": 21, "abs_difference": 3}
    assert lines["out"] == {"active": 8, "candidate": 8, "abs_difference": 0}
    assert lines["relative_error"] == pytest.approx(3 / 28, abs=1e-4)
    assert summary["latency_ms"] == {
        "active_mean": 20.0,
        "candidate_mean": 30.0,
        "candidate_p95_max": 35.0,
    }
    assert [d["device"] for d in summary["per_device"]] == [
        "0x" + "01" * 32,
        "0x" + "02" * 32,
    ]

    one = client.get("/v1/shadow", params={"candidate": OTHER}).json()
    assert [c["sha256"] for c in one["candidates"]] == [OTHER]
    assert client.get("/v1/shadow", params={"candidate": "e" * 64}).status_code == 404
    assert client.get("/v1/shadow", params={"candidate": "not-a-hash"}).status_code == 422


def test_fleet_shadow_report(sources: ApiSources, capsys: pytest.CaptureFixture[str]) -> None:
    server = ApiServer(create_app(sources, CONFIG))
    server.start()
    try:
        assert main(["fleet", "shadow-report", "--api", server.url]) == 0
        text = capsys.readouterr().out
        assert (
            main(["fleet", "shadow-report", "--api", server.url, "--candidate", OTHER, "--json"])
            == 0
        )
        only = json.loads(capsys.readouterr().out)
    finally:
        server.stop()
    assert f"candidate nanodet-plus ({CANDIDATE}) on 2 device(s)" in text
    assert "agreement 0.878" in text
    assert f'promote: {{"shadow": {{"action": "promote", "sha256": "{CANDIDATE}"}}}}' in text
    assert [c["sha256"] for c in only["candidates"]] == [OTHER]
