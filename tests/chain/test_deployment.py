"""deployment.json: round trip and the errors that name what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldproof.chain.artifacts import CONTRACT_NAMES, load_artifact
from fieldproof.chain.backends import connect
from fieldproof.chain.deploy import DeployedContract, Deployment
from fieldproof.chain.errors import ChainValueError


def _deployment(chain_id: int = 5) -> Deployment:
    return Deployment(
        chain_id,
        {
            name: DeployedContract(f"0x{index + 1:040x}", load_artifact(name).abi)
            for index, name in enumerate(CONTRACT_NAMES)
        },
    )


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    _deployment().save(path)
    assert Deployment.load(path) == _deployment()


def test_errors_are_named(tmp_path: Path) -> None:
    data = _deployment().to_json()
    with pytest.raises(ChainValueError, match="format"):
        Deployment.from_json({**data, "format": "other"})
    contracts = {k: v for k, v in data["contracts"].items() if k != "RewardToken"}
    with pytest.raises(ChainValueError, match="missing RewardToken"):
        Deployment.from_json({**data, "contracts": contracts})
    with pytest.raises(ChainValueError, match="missing key 'chainId'"):
        Deployment.from_json({k: v for k, v in data.items() if k != "chainId"})
    (tmp_path / "bad.json").write_text("[")
    with pytest.raises(ChainValueError, match="not JSON"):
        Deployment.load(tmp_path / "bad.json")
    with pytest.raises(ChainValueError, match="deployment"):
        Deployment.load(tmp_path / "missing.json")
    assert json.loads(json.dumps(data)) == data


def test_wrong_chain_is_refused() -> None:
    w3 = connect("eth-tester://")
    _deployment(int(w3.eth.chain_id)).ensure_chain(w3)
    with pytest.raises(ChainValueError, match="node serves chain"):
        _deployment(1).ensure_chain(w3)
