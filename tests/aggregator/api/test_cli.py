"""``fieldproof query series`` against a served API, and ``fieldproof api serve``."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from aggregator.api import ApiServer, create_app
from fieldproof.cli import main
from tests.aggregator.api.world import PLACES, World
from tests.services.ports import free_port, wait_until


@pytest.fixture(scope="module")
def server(sqlite_world: World) -> Iterator[ApiServer]:
    api = ApiServer(create_app(sqlite_world.sources))
    api.start()
    yield api
    api.stop()


def _query(server: ApiServer, world: World, output: Path, fmt: str, *extra: str) -> int:
    return main(
        [
            "query",
            "series",
            "--metric",
            "temp",
            "--start",
            str(world.genesis),
            "--end",
            str(world.end),
            "--every",
            "10m",
            "--agg",
            "mean",
            "--format",
            fmt,
            "--api",
            server.url,
            "--output",
            str(output),
            *extra,
        ]
    )


def test_query_series_in_every_format(
    server: ApiServer, sqlite_world: World, tmp_path: Path
) -> None:
    device = sqlite_world.hex(1)
    want = sqlite_world.expected("temp", [device], 600, "mean")
    assert _query(server, sqlite_world, tmp_path / "s.csv", "csv", "--device", device) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    assert [(r["device"], float(r["unix_time"])) for r in rows] == [(d, t) for d, t, _ in want]
    assert [float(r["value"]) for r in rows] == pytest.approx([v for _, _, v in want])
    assert _query(server, sqlite_world, tmp_path / "s.parquet", "parquet", "--device", device) == 0
    table = pq.read_table(tmp_path / "s.parquet").to_pylist()
    assert [r["value"] for r in table] == pytest.approx([v for _, _, v in want])
    assert _query(server, sqlite_world, tmp_path / "s.json", "json") == 0
    body = json.loads((tmp_path / "s.json").read_text())
    assert body["every"] == 600
    every_device = [sqlite_world.hex(i) for i in range(len(PLACES))]
    assert [(p["device"], p["time"]) for p in body["points"]] == [
        (d, t) for d, t, _ in sqlite_world.expected("temp", every_device, 600, "mean")
    ]


def test_query_series_reports_the_bad_parameter(
    server: ApiServer, sqlite_world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _query(server, sqlite_world, tmp_path / "x.csv", "csv", "--device", "0x1234")
    assert code == 1
    assert "device:" in capsys.readouterr().err


def test_api_serve_command(sqlite_world: World, tmp_path: Path) -> None:
    assert sqlite_world.directory is not None
    devices = tmp_path / "devices.yaml"
    devices.write_text(
        "devices:\n"
        + "".join(
            f"  - id: {sqlite_world.hex(i)}\n    name: {name}\n    lat: {lat}\n    lon: {lon}\n"
            for i, (name, lat, lon) in enumerate(PLACES)
        )
    )
    port = free_port()
    # The aggregator's one config file; `api serve` runs its api role and may move the port.
    config = tmp_path / "aggregator.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "roles": ["api"],
                "ledger": {"url": sqlite_world.ledger.url},
                "series": {"url": sqlite_world.series.url},
                "api": {"devices": "devices.yaml", "port": 1},
                "metrics": {"enabled": False},
            }
        )
    )
    serve = [sys.executable, "-m", "fieldproof", "api", "serve", "--config", str(config)]
    process = subprocess.Popen(
        [*serve, "--port", str(port)],
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_until(lambda: up() or process.poll() is not None, 30, "fieldproof api serve")
        assert process.poll() is None, process.communicate()[1].decode()
        with urllib.request.urlopen(f"{url}/v1/devices") as response:
            items = json.loads(response.read())["items"]
        assert sorted(i["name"] for i in items) == sorted(p[0] for p in PLACES)
        with urllib.request.urlopen(f"{url}/v1/epochs") as response:
            assert json.loads(response.read())["total"] == 3
        with urllib.request.urlopen(f"{url}/") as response:
            assert b"fieldproof" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=10)
