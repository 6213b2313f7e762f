"""Devices, reports, proofs, verification, epochs, rewards, errors, keys, limits, metrics."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aggregator.api import ApiConfig, ApiKeyConfig, create_app
from aggregator.api.ratelimit import RateLimiter
from fieldproof.merkle import StandardMerkleTree
from fieldproof.rewards.tree import REWARD_LEAF_TYPES
from fieldproof.verify import ReportProof, all_ok, verify
from fieldproof.wire import decode_report
from tests.aggregator.anchoring.chainenv import OWNER_A
from tests.aggregator.api.world import EPOCH_S, EPOCHS, INTERVAL_S, KEYS, PLACES, World

READER_KEY = "reader-key-0123456789"
ADMIN_KEY = "admin-key-0123456789ab"


@pytest.fixture(scope="module")
def client(sqlite_world: World) -> TestClient:
    # The module's many quick requests share one anonymous bucket; the default rate
    # would refuse some of them depending on how fast the machine runs them.
    config = ApiConfig(anonymous_rate_per_s=1000.0, anonymous_burst=1000)
    return TestClient(create_app(sqlite_world.sources, config))


def test_devices_list_location_owner_status_health(client: TestClient, sqlite_world: World) -> None:
    body = client.get("/v1/devices").json()
    assert body["total"] == len(KEYS)
    by_id = {item["device"]: item for item in body["items"]}
    for index, (name, lat, lon) in enumerate(PLACES):
        item = by_id[sqlite_world.hex(index)]
        assert item["name"] == name
        assert item["location"] == {"lat": lat, "lon": lon}
        assert item["owner"] == sqlite_world.owners.get(index)
        assert item["online"] is (index < 3)
        assert item["health"]["fps"] == 14.5 + index
        assert item["last_seq"] == sqlite_world.last_seq[sqlite_world.hex(index)]
    page = client.get("/v1/devices", params={"limit": 3}).json()
    assert len(page["items"]) == 3
    assert page["next_offset"] == 3
    rest = client.get("/v1/devices", params={"limit": 3, "offset": 3}).json()
    assert [i["device"] for i in page["items"] + rest["items"]] == sorted(by_id)
    assert rest["next_offset"] is None
    wellington = client.get("/v1/devices", params={"bbox": "174,-42,175.5,-41"}).json()
    assert [i["name"] for i in wellington["items"]] == ["lambton-quay"]


def test_device_detail_has_latest_readings(client: TestClient, sqlite_world: World) -> None:
    device = sqlite_world.hex(1)
    body = client.get(f"/v1/devices/{device}").json()
    last = sqlite_world.last_seq[device]
    assert body["latest_report"]["seq"] == last
    temps = sqlite_world.readings["temp"][device]
    assert {r["name"]: r["value"] for r in body["readings"]}["temp"] == max(temps)[1]
    reports = client.get(f"/v1/devices/{device}/reports", params={"limit": 5}).json()
    assert [r["seq"] for r in reports["items"]] == list(range(last, last - 5, -1))
    # The newest report arrived after the last closed window: not anchored yet.
    assert reports["items"][0]["anchored"] is False
    assert reports["items"][1]["anchored"] is True
    assert client.get(f"/v1/devices/0x{'ab' * 32}").status_code == 404


def test_report_is_served_raw_and_decoded(client: TestClient, sqlite_world: World) -> None:
    device = sqlite_world.hex(0)
    body = client.get(f"/v1/reports/{device}/5").json()
    raw = base64.b64decode(body["cose"])
    stored = sqlite_world.ledger.report(KEYS[0].device_id, 5)
    assert stored is not None
    assert raw == stored.raw
    decoded = decode_report(raw).report
    assert body["decoded"]["seq"] == decoded.seq == 5
    assert body["decoded"]["start"] == decoded.start
    assert [r["name"] for r in body["decoded"]["records"]] == [r.name for r in decoded.records]
    assert client.get(f"/v1/reports/{device}/999").status_code == 404


def test_proof_verifies_against_the_chain(client: TestClient, sqlite_world: World) -> None:
    device = sqlite_world.hex(2)
    seq = EPOCH_S // INTERVAL_S + 3  # a report in epoch 1
    body = client.get(f"/v1/proofs/{device}/{seq}").json()
    assert body["epoch"] == 1
    assert body["anchor_tx"].startswith("0x")
    proof = ReportProof.from_json(body)
    stored = sqlite_world.ledger.report(KEYS[2].device_id, seq)
    assert stored is not None
    assert sqlite_world.sources.chain is not None
    assert all_ok(verify(stored.raw, proof, sqlite_world.sources.chain))
    epochs = client.get("/v1/epochs", params={"order": "asc"}).json()["items"]
    assert epochs[1]["root"] == body["root"]
    assert epochs[1]["anchor_tx"] == body["anchor_tx"]
    # The last report of each device lies in a window that has not closed.
    last = sqlite_world.last_seq[device]
    missing = client.get(f"/v1/proofs/{device}/{last}")
    assert missing.status_code == 404
    assert "not in a closed epoch" in missing.json()["detail"]


def test_verify_genuine_and_tampered(client: TestClient, sqlite_world: World) -> None:
    device = sqlite_world.hex(0)
    genuine = client.get(f"/v1/verify/{device}/4").json()
    assert genuine["ok"] is True
    assert [s["name"] for s in genuine["steps"]] == [
        "signature",
        "merkle proof",
        "on-chain root",
        "device registered",
    ]
    report = client.get(f"/v1/reports/{device}/4").json()
    proof = client.get(f"/v1/proofs/{device}/4").json()
    raw = bytearray(base64.b64decode(report["cose"]))
    raw[-1] ^= 1  # a different signature
    tampered = client.post(
        "/v1/verify", json={"report": base64.b64encode(bytes(raw)).decode(), "proof": proof}
    ).json()
    assert tampered["ok"] is False
    failed = {s["name"] for s in tampered["steps"] if not s["ok"]}
    assert failed == {"signature", "merkle proof"}
    # The unregistered device's reports are anchored but no registered key vouches for them.
    unregistered = client.get(f"/v1/verify/{sqlite_world.hex(3)}/4").json()
    assert unregistered["ok"] is False


def test_epochs_list_and_pages(client: TestClient, sqlite_world: World) -> None:
    body = client.get("/v1/epochs").json()
    assert [e["epoch"] for e in body["items"]] == list(range(EPOCHS - 1, -1, -1))
    assert all(e["status"] == "done" and e["cid"] and e["anchor_tx"] for e in body["items"])
    counted = sum(e["count"] for e in body["items"])
    in_windows = sum(
        1
        for device in range(len(KEYS))
        for n in range(EPOCHS * EPOCH_S // INTERVAL_S)
        # A report is received 2 s after its interval ends.
        if (n + 1) * INTERVAL_S + 2 < EPOCHS * EPOCH_S
    )
    assert counted == in_windows
    first = client.get("/v1/epochs", params={"limit": 1, "offset": 1}).json()
    assert [e["epoch"] for e in first["items"]] == [EPOCHS - 2]
    assert client.get("/v1/epochs/0").json()["epoch"] == 0
    assert client.get("/v1/epochs/99").status_code == 404


def test_rewards_claim_proof_pays_on_chain(client: TestClient, sqlite_world: World) -> None:
    owner = sqlite_world.owners[0]
    body = client.get(f"/v1/rewards/{owner.lower()}").json()
    assert body["owner"] == owner
    amounts = [int(line["amount"]) for line in body["epochs"]["items"]]
    assert len(amounts) == EPOCHS
    assert sum(amounts) == int(body["cumulative"]) > 0
    assert body["claimed"] == "0"
    claim = body["claim"]
    assert StandardMerkleTree.verify_against(
        claim["root"], REWARD_LEAF_TYPES, (owner, int(claim["cumulative"])), claim["proof"]
    )
    env = sqlite_world.env
    assert env is not None
    env.distributor.claim(owner, int(claim["cumulative"]), claim["proof"])
    after = client.get(f"/v1/rewards/{owner}").json()
    assert after["claimed"] == claim["cumulative"]
    assert after["claimable"] == "0"
    assert env.token.balance_of(env.address(OWNER_A)) == int(claim["cumulative"])
    nobody = client.get(f"/v1/rewards/0x{'11' * 20}").json()
    assert nobody["cumulative"] == "0"
    assert nobody["claim"] is None


@pytest.mark.parametrize(
    ("path", "params", "parameter", "status"),
    [
        ("/v1/series", {"metric": "temp", "start": "yesterday", "end": "1"}, "start", 400),
        ("/v1/series", {"metric": "temp", "start": "10", "end": "5"}, "end", 400),
        ("/v1/series", {"metric": "temp", "start": "0", "end": "1e10"}, "end", 400),
        ("/v1/series", {"metric": "temp", "start": "0", "end": "9", "every": "3x"}, "every", 422),
        (
            "/v1/series",
            {"metric": "temp", "start": "0", "end": "9", "every": "1h", "agg": "median"},
            "agg",
            422,
        ),
        ("/v1/series", {"metric": "temp", "start": "0", "end": "9", "agg": "max"}, "agg", 400),
        (
            "/v1/series",
            {"metric": "temp", "start": "0", "end": "9", "device": "0x12"},
            "device",
            400,
        ),
        ("/v1/series", {"metric": "temp", "start": "0", "end": "9", "bbox": "1,2,3"}, "bbox", 400),
        ("/v1/series", {"metric": "temp", "start": "0", "end": "9", "limit": "0"}, "limit", 422),
        (
            "/v1/series",
            {"metric": "temp", "start": "0", "end": "9", "limit": "100001"},
            "limit",
            400,
        ),
        ("/v1/series", {"metric": "temp", "start": "0", "end": "9", "offset": "-1"}, "offset", 422),
        ("/v1/series", {"metric": "temp", "start": "0", "end": "9", "limit": "many"}, "limit", 422),
        ("/v1/series", {"start": "0", "end": "9"}, "metric", 422),
        ("/v1/series", {"metric": "a//b", "start": "0", "end": "9"}, "metric", 400),
        (
            "/v1/export",
            {"metric": "temp", "start": "0", "end": "9", "format": "xlsx"},
            "format",
            422,
        ),
        ("/v1/traffic", {"start": "0", "end": "9", "direction": "up"}, "direction", 422),
        ("/v1/traffic", {"start": "0", "end": "9", "line": ""}, "line", 400),
        ("/v1/devices", {"bbox": "200,0,210,1"}, "bbox", 400),
        ("/v1/epochs", {"order": "sideways"}, "order", 422),
        ("/v1/rewards/not-an-address", {}, "owner", 422),
        ("/v1/reports/0xzz/1", {}, "device", 422),
        ("/v1/series", {"metric": "temp", "start": "nan", "end": "9"}, "start", 400),
        ("/v1/series", {"metric": "temp", "start": "0", "end": "1e999"}, "end", 400),
        (
            "/v1/series",
            {"metric": "temp", "start": "0", "end": "9", "every": "9" * 30},
            "every",
            400,
        ),
        ("/v1/traffic", {"start": "0", "end": "9", "every": "0s"}, "every", 400),
        (
            "/v1/devices/0x" + "00" * 32 + "/reports",
            {"before_seq": str(2**63)},
            "before_seq",
            422,
        ),
        ("/v1/reports/" + "0x" + "00" * 32 + "/x", {}, "seq", 422),
    ],
)
def test_bad_parameters_are_named(
    client: TestClient, path: str, params: dict[str, Any], parameter: str, status: int
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["parameter"] == parameter
    assert body["detail"].startswith(parameter)


def test_post_verify_names_bad_fields(client: TestClient) -> None:
    response = client.post("/v1/verify", json={"report": "!!", "proof": {}})
    assert response.status_code == 400
    assert response.json()["parameter"] == "report"
    response = client.post("/v1/verify", json={"report": "AAAA", "proof": {"format": "x"}})
    assert response.status_code == 400
    assert response.json()["parameter"] == "proof"
    response = client.post("/v1/verify", json={"report": "A" * 1_000_000, "proof": {}})
    assert response.status_code == 400
    assert response.json()["parameter"] == "report"
    response = client.post("/v1/verify", json={"report": "AAAA"})
    assert response.status_code == 422
    assert response.json()["parameter"] == "proof"


def _keyed(world: World, *, require_keys: bool = True) -> TestClient:
    config = ApiConfig(
        require_keys=require_keys,
        keys=[
            ApiKeyConfig(name="lab", key=READER_KEY, rate_per_s=0.01, burst=3),
            ApiKeyConfig(name="ops", key=ADMIN_KEY, admin=True),
        ],
    )
    return TestClient(create_app(world.sources, config))


def test_keys_required_and_rate_limited(sqlite_world: World) -> None:
    client = _keyed(sqlite_world)
    missing = client.get("/v1/devices")
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["detail"]
    assert (
        client.get("/v1/devices", headers={"X-API-Key": "wrong-key-0000000000"}).status_code == 401
    )
    for _ in range(3):
        assert client.get("/v1/devices", headers={"X-API-Key": READER_KEY}).status_code == 200
    limited = client.get("/v1/devices", headers={"Authorization": f"Bearer {READER_KEY}"})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    # Another key has its own bucket.
    assert client.get("/v1/epochs", headers={"X-API-Key": ADMIN_KEY}).status_code == 200
    metrics = client.get("/metrics", headers={"X-API-Key": ADMIN_KEY}).text
    assert 'fieldproof_api_rate_limited_total{client="key:lab"} 1' in metrics
    # The dashboard and the docs stay reachable; the dashboard asks for a key.
    assert client.get("/").status_code == 200
    assert client.get("/docs").status_code == 200
    info = client.get("/v1/info", headers={"X-API-Key": ADMIN_KEY})
    assert info.json()["require_keys"] is True


@pytest.mark.parametrize("path", ["/metrics", "/v1/info"])
def test_metrics_and_info_take_keys_and_limits(sqlite_world: World, path: str) -> None:
    keyed = _keyed(sqlite_world)
    assert keyed.get(path).status_code == 401
    assert keyed.get(path, headers={"X-API-Key": "wrong-key-0000000000"}).status_code == 401
    statuses = [keyed.get(path, headers={"X-API-Key": READER_KEY}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    anonymous = TestClient(
        create_app(sqlite_world.sources, ApiConfig(anonymous_rate_per_s=0.01, anonymous_burst=2))
    )
    assert [anonymous.get(path).status_code for _ in range(3)] == [200, 200, 429]


def test_anonymous_limit_when_keys_are_off(sqlite_world: World) -> None:
    client = TestClient(
        create_app(sqlite_world.sources, ApiConfig(anonymous_rate_per_s=0.01, anonymous_burst=2))
    )
    assert [client.get("/v1/epochs").status_code for _ in range(3)] == [200, 200, 429]


def test_admin_endpoints_always_need_an_admin_key(sqlite_world: World) -> None:
    open_client = TestClient(create_app(sqlite_world.sources))
    assert open_client.get("/v1/admin/dead-letters").status_code == 401
    keyed = _keyed(sqlite_world, require_keys=False)
    assert keyed.get("/v1/devices").status_code == 200  # open for researchers
    assert keyed.get("/v1/admin/keys", headers={"X-API-Key": READER_KEY}).status_code == 403
    ok = keyed.get("/v1/admin/keys", headers={"X-API-Key": ADMIN_KEY})
    assert ok.status_code == 200
    assert READER_KEY not in ok.text
    assert [k["name"] for k in ok.json()["keys"]] == ["lab", "ops"]
    letters = keyed.get("/v1/admin/dead-letters", headers={"X-API-Key": ADMIN_KEY})
    assert letters.status_code == 200
    assert letters.json()["items"] == []


def test_metrics_and_openapi(client: TestClient, sqlite_world: World) -> None:
    client.get("/v1/devices")
    text = client.get("/metrics").text
    assert f"fieldproof_ledger_reports {sqlite_world.ledger.count_reports()}" in text
    assert 'fieldproof_api_requests_total{method="GET",route="/v1/devices",status="200"}' in text
    assert 'fieldproof_devices{state="online"} 3' in text
    spec = client.get("/openapi.json").json()
    for path in (
        "/v1/devices",
        "/v1/devices/{device}",
        "/v1/series",
        "/v1/traffic",
        "/v1/reports/{device}/{seq}",
        "/v1/proofs/{device}/{seq}",
        "/v1/epochs",
        "/v1/rewards/{owner}",
        "/v1/export",
        "/v1/verify",
    ):
        assert path in spec["paths"], path
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0], max_clients=2)
    assert [limiter.take("a", 2.0, 2) for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("a", 2.0, 2) == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.take("a", 2.0, 2) == 0.0
    now[0] = 100.0
    assert [limiter.take("a", 2.0, 2) for _ in range(3)][-1] > 0  # never above the burst
    limiter.take("b", 1.0, 1)
    limiter.take("c", 1.0, 1)  # "a" is forgotten: at most two clients are kept
    assert limiter.take("a", 2.0, 2) == 0.0
