"""The operator and researcher commands against anvil and a real SQLite ledger:
``aggregator anchor --config`` → ``aggregator proof`` → ``verify``; ``rewards score`` /
``proof`` → claim."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from eth_hash.auto import keccak

from aggregator.api import ApiSources, ContractReader
from aggregator.api.app import create_app
from aggregator.api.server import ApiServer
from aggregator.ledger import Batch, IncomingReport, open_ledger
from aggregator.series import open_series
from fieldproof.chain.bindings import DISTRIBUTOR_ROLE
from fieldproof.cli import main
from tests.aggregator.anchoring.chainenv import ADMIN, ANCHORER, OWNER_A, OWNER_B, make_env
from tests.aggregator.anchoring.reports import KEYS, signed

EPOCH = 60


def test_anchor_prove_verify_and_claim_from_the_command_line(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = make_env("anvil", request)
    registered = max(env.register(KEYS[0], OWNER_A), env.register(KEYS[1], OWNER_B))
    # One operator key anchors and publishes rewards.
    env.deployment.distributor(env.w3, env.senders[ADMIN]).grant_role(
        DISTRIBUTOR_ROLE, env.address(ANCHORER)
    )
    monkeypatch.setenv("FP_TEST_ANCHOR_KEY", env.accounts[ANCHORER].key.hex())
    deployment = tmp_path / "deployment.json"
    env.deployment.save(deployment)

    # Epochs 0..3 have ended; 4 has half a minute to go, so the second run closes nothing.
    genesis = int(time.time()) - 5 * EPOCH + 30
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = open_ledger(ledger_url)
    batch = Batch()
    for device in (0, 1):
        for seq in (1, 2):
            report = signed(KEYS[device], seq, registered + 30 * seq, 30)
            batch.reports.append(
                IncomingReport(
                    report.device_id, seq, genesis + 5 + seq, 0, 0, report.raw, keccak(report.raw)
                )
            )
    ledger.write_batch(batch)
    ledger.close()

    bundles = tmp_path / "bundles"

    def config(emission: int) -> str:
        path = tmp_path / f"aggregator-{emission}.yaml"
        anchoring = {"rpc": env.url, "deployment": "deployment.json"}
        anchoring |= {"key": "env:FP_TEST_ANCHOR_KEY", "bundle_dir": "bundles"}
        anchoring |= {"epoch_seconds": EPOCH, "genesis": genesis, "first_epoch": 0}
        data = {"roles": ["anchoring"], "ledger": {"url": "sqlite:///ledger.db"}}
        # These devices were registered without a cell or a stake: version 1 rewards.
        rewards = {"emission": emission, "placements": "none"}
        data |= {"anchoring": anchoring, "rewards": rewards}
        path.write_text(yaml.safe_dump(data))
        return str(path)

    anchor = ["aggregator", "anchor", "--config", config(1000), "--once"]
    # An emission above the on-chain cap would stall every epoch: refused up front.
    assert main(["aggregator", "anchor", "--config", config(10**30), "--once"]) == 1
    err = capsys.readouterr().err
    assert "rewards -> emission" in err
    assert "exceeds RewardDistributor's epoch cap" in err
    assert main(anchor) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("epoch 0: done, 4 reports, cid b")
    assert [line.split(":")[0] for line in lines] == [f"epoch {e}" for e in range(4)]
    assert all("empty" in line for line in lines[1:])
    (bundle,) = bundles.glob("*.json")
    assert lines[0].endswith(bundle.stem)
    # Run again: nothing left to anchor, nothing anchored twice.
    assert main(anchor) == 0
    assert capsys.readouterr().out == ""
    assert len(env.anchor.contract.events.Anchored.get_logs(from_block=0)) == 1

    report, proof = tmp_path / "report.cose", tmp_path / "proof.json"
    device = "0x" + KEYS[1].device_id.hex()
    extract = ["aggregator", "proof", str(bundle), "--device", device, "--seq", "2"]
    assert main([*extract, "--report-out", str(report), "--proof-out", str(proof)]) == 0
    capsys.readouterr()
    verify = ["verify", "--report", str(report), "--proof", str(proof), "--rpc", env.url]
    assert main([*verify, "--deployment", str(deployment)]) == 0
    assert capsys.readouterr().out.count("\u2714") == 4

    # The same report fetched from the aggregator's HTTP API, checked here against the chain.
    api_ledger = open_ledger(ledger_url)
    sources = ApiSources(
        ledger=api_ledger,
        series=open_series(f"sqlite:///{tmp_path / 'series.db'}"),
        anchors=api_ledger,
        bundle_dir=bundles,
        chain=ContractReader.from_deployment(env.w3, env.deployment),
    )
    api = ApiServer(create_app(sources))
    api.start()
    try:
        by_api = ["verify", "--device", device, "--seq", "2", "--api", api.url]
        assert main([*by_api, "--rpc", env.url, "--deployment", str(deployment)]) == 0
        assert capsys.readouterr().out.count("\u2714") == 4
        missing = ["verify", "--device", device, "--seq", "7", "--api", api.url]
        assert main([*missing, "--rpc", env.url, "--deployment", str(deployment)]) == 1
        assert "HTTP 404" in capsys.readouterr().err

        # An owner sees and claims its rewards through the API, with no bundle at hand.
        owner_a = env.address(OWNER_A)
        assert main(["rewards", "show", "--owner", owner_a, "--api", api.url, "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        owed = int(shown["cumulative"])
        assert owed > 0
        assert shown["claimable"] == str(owed)
        monkeypatch.setenv("FP_TEST_OWNER_A_KEY", env.accounts[OWNER_A].key.hex())
        by_api_claim = ["rewards", "claim", "--api", api.url, "--owner", owner_a]
        by_api_claim += ["--rpc", env.url, "--deployment", str(deployment)]
        by_api_claim += ["--key", "env:FP_TEST_OWNER_A_KEY"]
        assert main(by_api_claim) == 0
        assert f"paid {owed}" in capsys.readouterr().out
        assert main(by_api_claim) == 0
        assert "nothing to claim" in capsys.readouterr().out
        assert env.token.balance_of(owner_a) == owed
        assert main(["rewards", "show", "--owner", owner_a, "--api", api.url]) == 0
        assert "claimable  0" in capsys.readouterr().out
    finally:
        api.stop()
        sources.ledger.close()
        sources.series.close()

    assert main(["rewards", "score", str(bundle)]) == 0
    assert "equals the recorded" in capsys.readouterr().out
    owner = env.address(OWNER_B)
    assert main(["rewards", "proof", str(bundle), "--owner", owner]) == 0
    claim = json.loads(capsys.readouterr().out)
    assert int(claim["cumulative"]) == 500
    assert env.distributor.verify_leaf(owner, int(claim["cumulative"]), claim["proof"])
    # The owner claims; a second claim finds nothing left to pay.
    monkeypatch.setenv("FP_TEST_OWNER_KEY", env.accounts[OWNER_B].key.hex())
    submit = ["rewards", "claim", str(bundle), "--owner", owner, "--rpc", env.url]
    submit += ["--deployment", str(deployment), "--key", "env:FP_TEST_OWNER_KEY"]
    assert main(submit) == 0
    assert "paid 500" in capsys.readouterr().out
    assert env.token.balance_of(owner) == 500
    assert main(submit) == 0
    assert "nothing to claim" in capsys.readouterr().out
    assert env.token.balance_of(owner) == 500
