"""`fieldproof chain deploy` on eth-tester and anvil; the key is never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from fieldproof.chain.artifacts import CONTRACT_NAMES, load_artifact
from fieldproof.chain.backends import connect
from fieldproof.chain.bindings import ANCHORER_ROLE, DISTRIBUTOR_ROLE, MINTER_ROLE
from fieldproof.chain.deploy import Deployment
from fieldproof.chain.keysource import KEYSTORE_PASSPHRASE_ENV
from fieldproof.chain.sender import Sender
from fieldproof.cli import main
from tests.services.anvil import rpc


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fieldproof", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_deploy_to_anvil_with_an_env_key(anvil_url: str, tmp_path: Path) -> None:
    account = Account.create()
    key = account.key.hex()
    rpc(anvil_url, "anvil_setBalance", [account.address, hex(10**22)])
    out = tmp_path / "deployment.json"
    anchorer, distributor = Account.create().address, Account.create().address
    done = _run(
        [
            "chain", "deploy", "--rpc", anvil_url, "--key", "env:FP_DEPLOY_KEY", "--out", str(out),
            "--anchorer", anchorer, "--distributor", distributor,
        ],
        env={"FP_DEPLOY_KEY": key},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert key.removeprefix("0x") not in done.stdout + done.stderr
    raw = json.loads(out.read_text())
    assert raw["chainId"] == 31337
    assert set(raw["contracts"]) == set(CONTRACT_NAMES)
    for name in CONTRACT_NAMES:
        assert raw["contracts"][name]["abi"] == list(load_artifact(name).abi)
    deployment = Deployment.load(out)
    w3 = connect(anvil_url)
    for entry in deployment.contracts.values():
        assert len(w3.eth.get_code(entry.address)) > 0
    assert deployment.anchor(w3).has_role(ANCHORER_ROLE, anchorer)
    assert deployment.distributor(w3).has_role(DISTRIBUTOR_ROLE, distributor)
    token = deployment.token(w3)
    assert token.has_role(MINTER_ROLE, deployment.contracts["RewardDistributor"].address)


def test_deploy_with_a_keystore_and_separate_admin(anvil_url: str, tmp_path: Path) -> None:
    account = Account.create()
    rpc(anvil_url, "anvil_setBalance", [account.address, hex(10**22)])
    keystore = tmp_path / "keystore.json"
    keystore.write_text(json.dumps(Account.encrypt(account.key, "pass phrase", iterations=2)))
    admin = Account.create().address
    out = tmp_path / "deployment.json"
    done = _run(
        ["chain", "deploy", "--rpc", anvil_url, "--key", f"keystore:{keystore}",
         "--out", str(out), "--admin", admin],
        env={KEYSTORE_PASSPHRASE_ENV: "pass phrase"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    w3 = connect(anvil_url)
    deployment = Deployment.load(out)
    for contract in (deployment.registry(w3), deployment.anchor(w3), deployment.token(w3)):
        assert contract.has_role(bytes(32), admin)
        assert not contract.has_role(bytes(32), account.address)


def test_deploy_on_eth_tester_uses_a_prefunded_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "deployment.json"
    assert main(["chain", "deploy", "--rpc", "eth-tester://", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert Deployment.load(out).contracts["DataAnchor"].address == summary["DataAnchor"]


def test_deploy_needs_a_key_for_a_real_node(
    anvil_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chain", "deploy", "--rpc", anvil_url, "--out", str(tmp_path / "d.json")]) == 1
    assert "--key is required" in capsys.readouterr().err


def test_unknown_scheme_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chain", "deploy", "--rpc", "ws://x", "--out", str(tmp_path / "d.json")]) == 1
    assert "unknown scheme 'ws'" in capsys.readouterr().err


def test_device_signs_offline_and_owner_registers(anvil_url: str, tmp_path: Path) -> None:
    deployer, owner = Account.create(), Account.create()
    for account in (deployer, owner):
        rpc(anvil_url, "anvil_setBalance", [account.address, hex(10**22)])
    deployment_file = tmp_path / "deployment.json"
    env = {"FP_DEPLOYER": deployer.key.hex(), "FP_OWNER": owner.key.hex()}
    deploy = ["chain", "deploy", "--rpc", anvil_url, "--key", "env:FP_DEPLOYER"]
    assert _run([*deploy, "--out", str(deployment_file)], env).returncode == 0
    key_file = tmp_path / "device.pem"
    made = _run(["keys", "new", "--out", str(key_file)], {"FIELDPROOF_PASSPHRASE": "device pw"})
    assert made.returncode == 0, made.stderr
    pop_file = tmp_path / "pop.json"
    signed = _run(
        ["chain", "pop", "--device-key", str(key_file), "--deployment", str(deployment_file),
         "--owner", owner.address, "--out", str(pop_file)],
        {"FIELDPROOF_PASSPHRASE": "device pw"},
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    register = ["chain", "register", "--rpc", anvil_url, "--key", "env:FP_OWNER"]
    register += ["--deployment", str(deployment_file), "--pop", str(pop_file)]
    done = _run([*register, "--metadata-uri", "ipfs://meta"], env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["owner"] == owner.address
    assert not result["alreadyRegistered"]
    again = _run([*register, "--metadata-uri", "ipfs://meta"], env)
    assert json.loads(again.stdout)["alreadyRegistered"]
    shown = _run(
        ["chain", "device", result["deviceId"], "--rpc", anvil_url,
         "--deployment", str(deployment_file)]
    )  # fmt: skip
    info = json.loads(shown.stdout)
    assert (info["owner"], info["active"], info["metadataURI"]) == (
        owner.address,
        True,
        "ipfs://meta",
    )
    assert info["did"].startswith("did:key:z")


def test_register_refuses_a_pop_for_another_deployment(anvil_url: str, tmp_path: Path) -> None:
    from fieldproof.chain.pop import sign_pop
    from fieldproof.identity import DeviceKey

    out = tmp_path / "deployment.json"
    assert main(["chain", "deploy", "--rpc", "eth-tester://", "--out", str(out)]) == 0
    pop = sign_pop(DeviceKey.generate(), "0x" + "11" * 20, 31337, Account.create().address, 0)
    (tmp_path / "pop.json").write_text(pop.dumps())
    done = _run(
        ["chain", "register", "--rpc", anvil_url, "--key", "env:FP_NONE",
         "--deployment", str(out), "--pop", str(tmp_path / "pop.json")]
    )  # fmt: skip
    assert done.returncode == 1
    assert "is for registry" in done.stderr


def test_locations_and_stakes_from_the_command_line(
    anvil_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fieldproof.chain.location import cell_from_latlng, cell_str
    from fieldproof.chain.pop import sign_pop
    from fieldproof.identity import DeviceKey

    deployer, owner = Account.create(), Account.create()
    for account in (deployer, owner):
        rpc(anvil_url, "anvil_setBalance", [account.address, hex(10**22)])
    monkeypatch.setenv("FP_DEPLOYER", deployer.key.hex())
    monkeypatch.setenv("FP_OWNER", owner.key.hex())
    out = tmp_path / "deployment.json"
    chain = ["--rpc", anvil_url, "--deployment", str(out)]
    deploy = ["chain", "deploy", "--rpc", anvil_url, "--key", "env:FP_DEPLOYER", "--out", str(out)]
    assert main([*deploy, "--min-stake", "50", "--move-cooldown", "600"]) == 0
    capsys.readouterr()
    deployment = Deployment.load(out)
    w3 = connect(anvil_url)
    registry = deployment.contracts["DeviceRegistry"].address
    key = DeviceKey.generate()
    (tmp_path / "pop.json").write_text(sign_pop(key, registry, 31337, owner.address, 0).dumps())
    device = "0x" + key.device_id.hex()
    register = ["chain", "register", *chain, "--pop", str(tmp_path / "pop.json")]
    # The deployer may submit the proof, but not choose the owner's location.
    assert main([*register, "--key", "env:FP_DEPLOYER", "--location", "39.9821,116.3966"]) == 1
    assert "only the owner" in capsys.readouterr().err
    assert main([*register, "--key", "env:FP_OWNER", "--location", "39.9821,116.3966"]) == 0
    aoti = cell_str(cell_from_latlng(39.9821, 116.3966))
    assert json.loads(capsys.readouterr().out)["cell"] == aoti

    # Tokens for the owner, from the genesis holder (the deployer).
    deployment.token(w3, Sender(w3, deployer)).transfer(owner.address, 80)
    as_owner = ["--key", "env:FP_OWNER", *chain]
    assert main(["chain", "stake", device, "--amount", "80", *as_owner]) == 0
    assert json.loads(capsys.readouterr().out)["staked"] == 80
    assert main(["chain", "device", device, "--rpc", anvil_url, "--deployment", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["cell"], info["staked"], info["eligible"]) == (aoti, 80, True)

    dongsi = cell_str(cell_from_latlng(39.9289, 116.4174))
    assert main(["chain", "move", device, "--location", dongsi, *as_owner]) == 0
    moved = json.loads(capsys.readouterr().out)
    assert moved["cell"] == dongsi
    assert moved["eligibleFrom"] == moved["placedAt"] + 600
    assert main(["chain", "eligibility", device, *chain]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["cell"], row["eligible"]) == (dongsi, False)

    assert main(["chain", "unstake", device, "--amount", "30", *as_owner]) == 0
    assert json.loads(capsys.readouterr().out)["pending"] == 30
    slash = ["chain", "slash", device, "--amount", "40", "--evidence", "ipfs://bafy#flag=clone"]
    assert main([*slash, "--key", "env:FP_OWNER", *chain]) == 1
    assert "AccessControlUnauthorizedAccount" in capsys.readouterr().err
    assert main([*slash, "--key", "env:FP_DEPLOYER", *chain]) == 0
    capsys.readouterr()
    staking = deployment.staking(w3)
    assert staking.stake_of(key.device_id, owner.address).amount == 10
    assert staking.slashes(key.device_id)[0].evidence_uri == "ipfs://bafy#flag=clone"
    assert main(["chain", "withdraw", device, *as_owner]) == 1
    assert "StillLocked" in capsys.readouterr().err
