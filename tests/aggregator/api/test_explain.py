"""``/v1/rewards/{owner}/explain`` and ``fieldproof rewards explain`` on real stores: a
world whose shared cell is full (one of owner A's devices is left out, the other paid),
and an aggregator with no closed epoch yet."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aggregator.api import ApiConfig, ApiServer, ApiSources, create_app
from aggregator.ledger import open_ledger
from aggregator.series import open_series
from fieldproof.cli import main
from tests.aggregator.api.explain_world import CAPACITY, FULL, PAID, SHARED_CELL, full_cell_world
from tests.aggregator.api.world import EPOCHS, World

__all__ = ["full_cell_world"]

NOBODY = "0x" + "11" * 20


@pytest.fixture(scope="module")
def client(full_cell_world: World) -> TestClient:
    config = ApiConfig(anonymous_rate_per_s=1000.0, anonymous_burst=1000)
    return TestClient(create_app(full_cell_world.sources, config))


@pytest.fixture(scope="module")
def server(full_cell_world: World) -> Iterator[ApiServer]:
    api = ApiServer(create_app(full_cell_world.sources))
    api.start()
    yield api
    api.stop()


def by_device(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["device"]: d for d in body["devices"]}


def test_explains_the_latest_epoch_per_device_in_words(
    client: TestClient, full_cell_world: World
) -> None:
    owner = full_cell_world.owners[0]
    body = client.get(f"/v1/rewards/{owner.lower()}/explain").json()
    assert body["owner"] == owner
    assert body["epoch"] == EPOCHS - 1
    assert body["version"] == 2
    rewards = client.get(f"/v1/rewards/{owner}").json()["epochs"]["items"]
    assert body["amount"] == next(r["amount"] for r in rewards if r["epoch"] == EPOCHS - 1)
    assert int(body["amount"]) > 0
    devices = by_device(body)
    assert set(devices) == {World.hex(PAID), World.hex(FULL)}

    paid = devices[World.hex(PAID)]
    assert int(paid["weight"]) > 0
    assert paid["explanation"].startswith(f"earned {paid['amount']} (coverage ")
    for factor in ("coverage", "quality", "neighbour consistency", "score"):
        assert factor in paid["explanation"]
    assert not any(f["severity"] == "zero" for f in paid["flags"])

    full = devices[World.hex(FULL)]
    assert int(full["weight"]) == 0
    assert [f["code"] for f in full["flags"] if f["severity"] == "zero"] == ["cell-capacity"]
    assert full["explanation"].startswith(
        f"earned nothing: cell full: {SHARED_CELL} already has {CAPACITY} earning devices"
    )
    # Every flag's reason is in the words, and each device has its own line.
    for device in devices.values():
        for flag in device["flags"]:
            assert flag["reason"] in device["explanation"]
    assert len(body["text"]) == 1 + len(devices)
    assert any(line.startswith(f"Device {World.hex(FULL)} earned nothing") for line in body["text"])


def test_explains_a_chosen_epoch(client: TestClient, full_cell_world: World) -> None:
    owner = full_cell_world.owners[2]
    for epoch in range(EPOCHS):
        body = client.get(f"/v1/rewards/{owner}/explain", params={"epoch": epoch}).json()
        assert body["epoch"] == epoch
        assert list(by_device(body)) == [World.hex(2)]
        assert int(body["devices"][0]["weight"]) > 0
        assert body["text"][0].startswith(f"Epoch {epoch}: {owner} earned {body['amount']}")


def test_an_owner_without_devices_or_an_unknown_epoch_is_not_found(client: TestClient) -> None:
    response = client.get(f"/v1/rewards/{NOBODY}/explain")
    assert response.status_code == 404, response.text
    assert "has no device in epoch" in response.json()["detail"]
    owner = "0x" + "22" * 20
    response = client.get(f"/v1/rewards/{owner}/explain", params={"epoch": 99})
    assert response.status_code == 404
    assert "epoch 99 is not closed" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "owner", "parameter", "status"),
    [
        # A mistyped owner: mixed case whose EIP-55 checksum is wrong.
        ({}, "0x" + "aB" * 20, "owner", 400),
        ({}, "0x52908400098527886E0F7030069857D2E4169Ee7", "owner", 400),
        ({}, "0x1234", "owner", 422),
        ({"epoch": "-1"}, NOBODY, "epoch", 422),
        ({"epoch": "latest"}, NOBODY, "epoch", 422),
    ],
)
def test_bad_input_is_refused_and_named(
    client: TestClient, params: dict[str, str], owner: str, parameter: str, status: int
) -> None:
    response = client.get(f"/v1/rewards/{owner}/explain", params=params)
    assert response.status_code == status, response.text
    assert response.json()["parameter"] == parameter


def test_no_epoch_yet_is_not_found(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    series = open_series(f"sqlite:///{tmp_path / 'series.db'}")
    try:
        sources = ApiSources(ledger, series, anchors=ledger, bundle_dir=tmp_path / "bundles")
        client = TestClient(create_app(sources))
        response = client.get(f"/v1/rewards/{NOBODY}/explain")
        assert response.status_code == 404
        assert response.json()["detail"] == "no epoch has published rewards yet"
        assert client.get(f"/v1/rewards/{NOBODY}/explain?epoch=0").status_code == 404
    finally:
        ledger.close()
        series.close()


# -- the command -------------------------------------------------------------------------


def test_cli_explains_from_the_api_in_words_and_json(
    server: ApiServer, full_cell_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = full_cell_world.owners[0]
    assert main(["rewards", "explain", "--owner", owner.lower(), "--api", server.url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"Epoch {EPOCHS - 1}: {owner} earned ")
    full = next(line for line in lines if World.hex(FULL) in line)
    assert f"earned nothing: cell full: {SHARED_CELL}" in full
    paid = next(line for line in lines if World.hex(PAID) in line)
    assert "coverage 100.0 %" in paid
    args = ["rewards", "explain", "--owner", owner, "--api", server.url, "--epoch", "0", "--json"]
    assert main(args) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["epoch"] == 0
    assert set(by_device(body)) == {World.hex(PAID), World.hex(FULL)}


def test_cli_explains_a_bundle_file_the_same_way(
    server: ApiServer, full_cell_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = full_cell_world.owners[0]
    with urllib.request.urlopen(f"{server.url}/v1/epochs/{EPOCHS - 1}", timeout=10) as answer:
        cid = json.load(answer)["cid"]
    assert full_cell_world.sources.bundle_dir is not None
    bundle = full_cell_world.sources.bundle_dir / f"{cid}.json"
    assert main(["rewards", "explain", "--owner", owner, "--json", str(bundle)]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert main(["rewards", "explain", "--owner", owner, "--json", "--api", server.url]) == 0
    assert from_file == json.loads(capsys.readouterr().out)
    assert main(["rewards", "explain", "--owner", NOBODY, str(bundle)]) != 0
    assert f"has no device in epoch {EPOCHS - 1}" in capsys.readouterr().err
    assert main(["rewards", "explain", "--owner", owner, "--epoch", "0", str(bundle)]) != 0
    assert f"is epoch {EPOCHS - 1}" in capsys.readouterr().err


def test_cli_reports_an_unknown_owner_and_bad_input(
    server: ApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rewards", "explain", "--owner", NOBODY, "--api", server.url]) != 0
    assert "HTTP 404" in capsys.readouterr().err
    assert main(["rewards", "explain", "--owner", "0x1234", "--api", server.url]) != 0
    assert "is not an address" in capsys.readouterr().err
    assert main(["rewards", "explain", "--owner", NOBODY]) != 0
    assert "give either a bundle or --api" in capsys.readouterr().err
