"""Exports that carry their own proofs, checked by ``fieldproof verify --export`` against a
real anvil node: signed reports in a real ledger and series store, epochs anchored by the
anchorer, the API serving the export and the command line checking it with no API."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]  # ships no type information
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient

from aggregator.api import ApiConfig, create_app
from aggregator.ledger import open_ledger
from aggregator.series import open_series
from fieldproof.cli import main
from fieldproof.export_rows import CSV_COLUMNS, PARQUET_COLUMNS
from fieldproof.verify import ReportProof, check_leaf
from tests.aggregator.anchoring.chainenv import make_env
from tests.aggregator.api.world import EPOCH_S, EPOCHS, INTERVAL_S, World, build_world

# Devices 0-2 are registered; device 3 never is, so its readings cannot verify.
REGISTERED = (0, 1, 2)
# The last report of each device arrived after the last epoch closed.
CLOSED_END = EPOCHS * EPOCH_S - INTERVAL_S


@pytest.fixture(scope="module")
def anvil_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("world-anvil")
    ledger = open_ledger(f"sqlite:///{directory / 'ledger.db'}")
    series = open_series(f"sqlite:///{directory / 'series.db'}")
    yield build_world(directory, ledger, series, make_env("anvil", request))
    ledger.close()
    series.close()


@pytest.fixture(scope="module")
def client(anvil_world: World) -> TestClient:
    return TestClient(create_app(anvil_world.sources, ApiConfig()))  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def deployment_file(anvil_world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert anvil_world.env is not None
    path = tmp_path_factory.mktemp("deployment") / "deployment.json"
    anvil_world.env.deployment.save(path)
    return path


def _export(
    client: TestClient, world: World, fmt: str, devices: tuple[int, ...], end: int
) -> bytes:
    params: dict[str, Any] = {
        "metric": "temp",
        "start": world.genesis,
        "end": world.genesis + end,
        "device": [world.hex(i) for i in devices],
        "format": fmt,
    }
    answer = client.get("/v1/export", params=params)
    assert answer.status_code == 200, answer.text
    return answer.content


def _verify(
    world: World, deployment: Path, path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    assert world.env is not None
    argv = ["verify", "--export", str(path), "--rpc", world.env.url]
    status = main([*argv, "--deployment", str(deployment), "--show", "0"])
    return status, capsys.readouterr().out


def _csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_raw_rows_carry_the_proof_the_api_gives(client: TestClient, anvil_world: World) -> None:
    rows = _csv(_export(client, anvil_world, "csv", REGISTERED, CLOSED_END))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(REGISTERED) * (CLOSED_END // INTERVAL_S)
    for row in rows[::7]:
        given = client.get(f"/v1/proofs/{row['device']}/{row['seq']}").json()
        assert int(row["epoch"]) == given["epoch"]
        assert row["root"] == given["root"]
        assert row["anchor_tx"] == given["anchor_tx"]
        assert row["proof"].split(";") == given["proof"]
        report = client.get(f"/v1/reports/{row['device']}/{row['seq']}").json()
        assert row["report"] == report["cose"]
        # The reading is the report's own: its interval starts at the reading's time.
        assert int(float(row["unix_time"])) == report["decoded"]["start"]
        assert check_leaf(base64.b64decode(row["report"]), ReportProof.from_json(given)).ok


def test_aggregates_have_no_proof_columns(client: TestClient, anvil_world: World) -> None:
    params: dict[str, Any] = {
        "metric": "temp",
        "start": anvil_world.genesis,
        "end": anvil_world.end,
        "every": "10m",
    }
    text = client.get("/v1/export", params=params).text
    assert text.splitlines()[0] == "metric,device,time,unix_time,value"
    raw = {k: v for k, v in params.items() if k != "every"}
    lean = client.get("/v1/export", params={**raw, "proofs": "false"}).text
    assert lean.splitlines()[0] == "metric,device,time,unix_time,value"
    refused = client.get("/v1/export", params={**params, "proofs": "true"})
    assert refused.status_code == 400
    assert refused.json()["parameter"] == "proofs"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_fresh_export_verifies(
    *,
    client: TestClient,
    anvil_world: World,
    deployment_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    path = tmp_path / f"temp.{fmt}"
    path.write_bytes(_export(client, anvil_world, fmt, REGISTERED, CLOSED_END))
    status, out = _verify(anvil_world, deployment_file, path, capsys)
    rows = len(REGISTERED) * (CLOSED_END // INTERVAL_S)
    assert f"{rows} rows, {rows} verified, 0 failed (3 devices, epochs 0..2)" in out
    assert status == 0, out


@pytest.mark.parametrize(
    ("column", "change", "step"),
    [
        ("metric", lambda v: "humidity", "reading"),
        ("device", lambda v: "0x" + "ab" * 32, "reading"),
        ("time", lambda v: v.replace(":00Z", ":01Z"), "row: time"),
        ("unix_time", lambda v: repr(float(v) + 60), "row: time"),
        ("value", lambda v: repr(float(v) + 0.25), "reading"),
        ("seq", lambda v: str(int(v) + 1), "reading"),
        ("epoch", lambda v: str(int(v) + 1), "on-chain root"),
        ("leaf", lambda v: v[:-1] + ("0" if v[-1] != "0" else "1"), "merkle proof"),
        ("proof", lambda v: ";".join(reversed(v.split(";"))), "merkle proof"),
        ("root", lambda v: "0x" + "11" * 32, "merkle proof"),
        ("anchor_tx", lambda v: "0x" + "22" * 32, "anchor transaction"),
        # A byte of the signature, the report's last 64 bytes.
        ("report", lambda v: v[:-10] + ("A" if v[-10] != "A" else "B") + v[-9:], "signature"),
    ],
)
def test_one_changed_csv_cell_fails_its_row(
    *,
    client: TestClient,
    anvil_world: World,
    deployment_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    column: str,
    change: Any,
    step: str,
) -> None:
    rows = _csv(_export(client, anvil_world, "csv", REGISTERED, CLOSED_END))
    target = 11  # rows count from 1 after the header
    rows[target - 1][column] = change(rows[target - 1][column])
    path = _write_csv(tmp_path / "changed.csv", rows)
    status, out = _verify(anvil_world, deployment_file, path, capsys)
    assert status == 1
    assert f"{len(rows)} rows, {len(rows) - 1} verified, 1 failed" in out
    failing = [line for line in out.splitlines() if line.startswith("\u2718 row ")]
    assert len(failing) == 1, out
    assert failing[0].startswith(f"\u2718 row {target}")
    assert step in failing[0], failing[0]


def test_one_changed_parquet_value_fails_its_row(
    *,
    client: TestClient,
    anvil_world: World,
    deployment_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = pq.read_table(io.BytesIO(_export(client, anvil_world, "parquet", REGISTERED, 1200)))
    assert tuple(source.column_names) == PARQUET_COLUMNS
    values = source.column("value").to_pylist()
    values[4] += 1.0
    changed = source.set_column(
        source.column_names.index("value"), "value", pa.array(values, pa.float64())
    )
    path = tmp_path / "changed.parquet"
    pq.write_table(changed, path)
    status, out = _verify(anvil_world, deployment_file, path, capsys)
    assert status == 1
    assert f"{len(values)} rows, {len(values) - 1} verified, 1 failed" in out
    assert "\u2718 row 5 (device " in out
    assert "reading: temp = " in out


def test_unregistered_devices_and_open_epochs_do_not_verify(
    *,
    client: TestClient,
    anvil_world: World,
    deployment_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Device 3 signed its reports but was never registered; every device's last report
    # is in an epoch still open: neither can be proven, and the command says why.
    path = tmp_path / "all.csv"
    path.write_bytes(_export(client, anvil_world, "csv", (0, 3), EPOCHS * EPOCH_S))
    status, out = _verify(anvil_world, deployment_file, path, capsys)
    assert status == 1
    per_device = EPOCHS * EPOCH_S // INTERVAL_S
    assert f"{2 * per_device} rows, {per_device - 1} verified, {per_device + 1} failed" in out
    assert "has no registered key" in out
    assert out.count("its epoch was still open") == 2
