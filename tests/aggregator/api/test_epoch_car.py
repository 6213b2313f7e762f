"""``/v1/epochs/{n}/car``: each closed epoch's bundle as a CARv1 file, read by ``@ipld/car``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aggregator.api import ApiConfig, create_app
from fieldproof.bundle import decode_bundle, ipfs_uri
from fieldproof.car import CAR_MEDIA_TYPE
from fieldproof.wire import decode_report
from tests.aggregator.api.world import EPOCHS, World
from tests.fieldproof.ipld_car import read_cars


@pytest.fixture(scope="module")
def client(sqlite_world: World) -> TestClient:
    return TestClient(create_app(sqlite_world.sources, ApiConfig()))  # type: ignore[call-arg]


def test_each_epoch_car_holds_its_anchored_bundle(
    client: TestClient, sqlite_world: World, tmp_path: Path
) -> None:
    assert sqlite_world.env is not None
    anchor = sqlite_world.env.deployment.anchor(sqlite_world.env.w3)
    paths = []
    for epoch in range(EPOCHS):
        answer = client.get(f"/v1/epochs/{epoch}/car")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == CAR_MEDIA_TYPE
        path = tmp_path / f"{epoch}.car"
        path.write_bytes(answer.content)
        paths.append(path)
    for epoch, read in enumerate(read_cars(paths)):
        record = anchor.anchor_record(epoch)
        assert record is not None
        # The root is the CID the chain anchored for this epoch, and its one block is
        # the bundle: the same bytes, which hash back to that CID.
        assert ipfs_uri(read.roots[0]) == record.uri
        assert read.roots == [read.blocks[0].cid]
        assert [b.rehashed for b in read.blocks] == [b.cid for b in read.blocks]
        bundle, _ = decode_bundle(read.blocks[0].data)
        assert bundle.epoch == epoch
        assert bundle.root == record.root
        # The reports the bundle references travel inside it, whole and signed.
        for report in bundle.reports:
            assert decode_report(report.raw).report.seq == report.seq


def test_open_or_unknown_epochs_have_no_car(client: TestClient) -> None:
    assert client.get(f"/v1/epochs/{EPOCHS}/car").status_code == 404
    assert client.get("/v1/epochs/-1/car").status_code == 422


def test_a_bundle_changed_on_disk_is_not_served(sqlite_world: World, tmp_path: Path) -> None:
    bundle_dir = sqlite_world.sources.bundle_dir
    assert bundle_dir is not None
    copied = tmp_path / "bundles"
    copied.mkdir()
    for source in bundle_dir.glob("*.json"):
        (copied / source.name).write_bytes(source.read_bytes().replace(b'"epoch":0', b'"epoch":9'))
    app = create_app(replace(sqlite_world.sources, bundle_dir=copied), ApiConfig())  # type: ignore[call-arg]
    answer = TestClient(app).get("/v1/epochs/0/car")
    assert answer.status_code == 503
    assert "does not match its CID" in answer.json()["detail"]
    assert TestClient(app).get("/v1/epochs/1/car").status_code == 200
