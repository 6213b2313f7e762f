"""The whole aggregator from one config file: real Mosquitto, anvil, SQLite stores.

Run once with every role in one process, and once as two processes from the same file
with different ``roles:`` (``ingest, projection, api`` beside ``anchoring``): reports
published to the broker are ingested, projected, served by the API, anchored in an epoch
on-chain and paid for by a published reward root, with no flag typed by hand.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from aggregator.ledger import open_ledger
from fieldproof.chain.bindings import DISTRIBUTOR_ROLE
from tests.aggregator.anchoring.chainenv import ADMIN, ANCHORER, OWNER_A, OWNER_B, make_env
from tests.aggregator.reports import Device
from tests.aggregator.runtime import (
    await_subscription,
    config_dict,
    publish_all,
    spawn_aggregator,
    wait_for,
    write_config,
)
from tests.services.mosquitto import MosquittoBroker
from tests.services.ports import free_port

EPOCH_S = 3
LAYOUTS = {
    "one process": [["ingest", "projection", "anchoring", "api"]],
    "two processes": [["ingest", "projection", "api"], ["anchoring"]],
}


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_one_config_ingests_projects_anchors_rewards_and_serves(
    layout: str,
    mosquitto: MosquittoBroker,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = make_env("anvil", request)
    devices = [Device(key) for key in _keys()]
    env.register(devices[0].key, OWNER_A)
    env.register(devices[1].key, OWNER_B)
    # One operator key anchors and publishes rewards.
    env.deployment.distributor(env.w3, env.senders[ADMIN]).grant_role(
        DISTRIBUTOR_ROLE, env.address(ANCHORER)
    )
    env.deployment.save(tmp_path / "deployment.json")
    monkeypatch.setenv("FP_TEST_ANCHOR_KEY", env.accounts[ANCHORER].key.hex())

    port = free_port()
    data = config_dict(tmp_path, mosquitto.port, devices)
    # Relative paths resolve from the config file's folder.
    data["ledger"] = {"url": "sqlite:///ledger.db"}
    data["series"] = {"url": "sqlite:///series.db", "interval_s": 0.1}
    data["anchoring"] = {
        "rpc": env.url,
        "deployment": "deployment.json",
        "key": "env:FP_TEST_ANCHOR_KEY",
        "bundle_dir": "bundles",
        "epoch_seconds": EPOCH_S,
        "genesis": 0,
        "grace_seconds": 0.5,
        "interval_s": 0.2,
    }
    # The devices are registered without a cell or a stake: version 1 rewards (placements
    # and their rules are covered in tests/fieldproof/rewards and tests/chain).
    data["rewards"] = {"emission": 1000, "placements": "none"}
    data["api"] = {"port": port}
    processes: list[subprocess.Popen[bytes]] = []
    for index, roles in enumerate(LAYOUTS[layout]):
        path = write_config(tmp_path / f"aggregator-{index}.yaml", {**data, "roles": roles})
        processes.append(spawn_aggregator(path, tmp_path / f"aggregator-{index}.log"))
    api = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for(lambda: _get(f"{api}/epochs") is not None, 30, "the API")
        ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=False)
        try:
            probe = (devices[0].topic, devices[0].signed(1))
            await_subscription(mosquitto.port, probe, lambda: ledger.count_reports() >= 1)
            messages = [(d.topic, d.signed(seq)) for d in devices for seq in range(2, 6)]
            publish_all(mosquitto.port, messages)
            wait_for(lambda: ledger.count_reports() == 9, 20, "ingest of every report")
        finally:
            ledger.close()

        def finished() -> list[dict[str, Any]]:
            body = _get(f"{api}/epochs?limit=1000") or {"items": []}
            return [e for e in body["items"] if e["status"] == "done"]

        # Every report lands in an epoch that closes a few seconds later.
        wait_for(lambda: sum(e["count"] for e in finished()) == 9, 30, "anchored epochs")
        anchored = {
            int(log["args"]["epoch"]): "0x" + bytes(log["args"]["root"]).hex()
            for log in env.anchor.contract.events.Anchored.get_logs(from_block=0)
        }
        for epoch in finished():
            assert anchored[epoch["epoch"]] == epoch["root"]
            on_chain = env.distributor.root_of(epoch["epoch"])
            assert on_chain is not None
            assert "0x" + on_chain.hex() == epoch["reward_root"]
        assert list((tmp_path / "bundles").glob("*.json"))

        now = time.time()
        series = _get(f"{api}/series?metric=rh&start={now - 7200:.0f}&end={now + 60:.0f}")
        assert series is not None
        assert len(series["points"]) == 9
        rewards = _get(f"{api}/rewards/{env.address(OWNER_A)}")
        assert rewards is not None
        assert int(rewards["cumulative"]) > 0
        proof = _get(f"{api}/proofs/{devices[1].hex}/5")
        assert proof is not None
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            assert process.wait(20) == 0


def _keys() -> list[Any]:
    from fieldproof.identity import DeviceKey

    return [DeviceKey.from_secret(0xE2E0 + i) for i in range(2)]
