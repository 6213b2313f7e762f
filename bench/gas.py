"""Gas of the on-chain operations, measured on a real node and on the in-process chain.

- ``register``: DeviceRegistry.register on anvil ``--hardfork osaka`` (P-256 precompile);
- ``register_no_precompile``: the same on eth-tester (py-evm, OpenZeppelin's Solidity
  P-256 verifier);
- ``anchor``: DataAnchor.anchor of a later epoch with a CIDv1 ``ipfs://`` URI (the first
  anchor ever also creates the epoch slot; it is printed as ``anchor_first``);
- ``set_root``: RewardDistributor.setRoot of a later epoch (stores the root, mints);
- ``claim_first`` / ``claim_repeat``: claims with the longest proof of a 10,000-owner tree,
  by an owner holding no tokens yet, then again after the next root;
- ``move``: DeviceRegistry.move of a located device to another H3 cell;
- ``approve``, ``stake_first``, ``stake_more``: the ERC-20 approval, then
  DeviceStaking.stake into an empty stake and a top-up of it;
- ``unstake_request``, ``withdraw``: DeviceStaking.requestUnstake, then withdraw after the
  delay; ``slash``: DeviceStaking.slash of staked tokens with a 79-character evidence URI.

The baseline measured in the same run is a plain ETH transfer (21,000 gas, the floor of
any transaction); ``over_transfer`` gives each figure minus it.
Usage: ``python bench/gas.py [--json]`` (needs ``npm ci`` for anvil).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from eth_utils.address import to_checksum_address  # noqa: E402

from fieldproof.chain.backends import connect, prefunded_keys  # noqa: E402
from fieldproof.chain.deploy import Deployment, deploy_all  # noqa: E402
from fieldproof.chain.location import cell_from_latlng  # noqa: E402
from fieldproof.chain.pop import sign_pop  # noqa: E402
from fieldproof.chain.sender import Sender  # noqa: E402
from fieldproof.identity import DeviceKey  # noqa: E402
from fieldproof.merkle import StandardMerkleTree  # noqa: E402

OWNERS = 10_000
URI = "ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
TARGETS = {"anchor": 50_000, "claim_repeat": 60_000, "claim_first": 85_000}
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
# Aotizhongxin and Dongsi, two Beijing monitoring sites 6 km apart.
SITE = (39.9821, 116.3966)
MOVED_TO = cell_from_latlng(39.9289, 116.4174)
EVIDENCE = "ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy#flag=clone"
STAKE_FIGURES = (
    "move",
    "approve",
    "stake_first",
    "stake_more",
    "unstake_request",
    "withdraw",
    "slash",
)


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["result"]


def _rpc_ok(url: str) -> bool:
    try:
        _rpc(url, "eth_chainId", [])
    except OSError:
        return False
    return True


def _start_anvil() -> tuple[subprocess.Popen[bytes], str]:
    from demo.broker import free_port

    binary = ROOT / "node_modules" / ".bin" / "anvil"
    if not binary.exists():
        sys.exit("anvil not found: run `npm ci`")
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "--port", str(port), "--hardfork", "osaka", "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not _rpc_ok(url):
        if time.monotonic() > deadline:
            process.kill()
            sys.exit("anvil did not start")
        time.sleep(0.1)
    return process, url


def _register(sender: Sender, deployment: Deployment) -> tuple[int, bytes]:
    """Register a new device at a cell (the usual path); its gas and device id."""
    w3 = sender.w3
    registry = deployment.registry(w3, sender)
    key = DeviceKey.generate()
    pop = sign_pop(key, registry.address, w3.eth.chain_id, sender.address, 0)
    outcome = registry.register(pop, "ipfs://device-metadata", cell_from_latlng(*SITE))
    return outcome.gas_used, key.device_id


def _stakes(sender: Sender, deployment: Deployment, url: str, device_id: bytes) -> dict[str, int]:
    """Gas of a move and of a stake's whole life, on one device of the sender."""
    w3 = sender.w3
    figures = {"move": deployment.registry(w3, sender).move(device_id, MOVED_TO).gas_used}
    staking = deployment.staking(w3, sender)
    stake = staking.min_stake()
    figures["approve"] = deployment.token(w3, sender).approve(staking.address, 3 * stake).gas_used
    figures["stake_first"] = staking.stake(device_id, 2 * stake).gas_used
    figures["stake_more"] = staking.stake(device_id, stake).gas_used
    figures["unstake_request"] = staking.request_unstake(device_id, stake).gas_used
    _rpc(url, "evm_increaseTime", [staking.unstake_delay()])
    _rpc(url, "evm_mine", [])
    figures["withdraw"] = staking.withdraw(device_id).gas_used
    figures["slash"] = staking.slash(device_id, stake, EVIDENCE).gas_used
    return figures


def _transfer(sender: Sender) -> int:
    return sender.send({"to": Account.create().address, "value": 1, "gas": 21_000}).gas_used


def _measure_real_node(account: LocalAccount, url: str) -> dict[str, Any]:
    w3 = connect(url)
    sender = Sender(w3, account)
    deployment = deploy_all(sender, epoch_cap=10**30)
    register, device_id = _register(sender, deployment)
    figures: dict[str, Any] = {"transfer": _transfer(sender), "register": register}
    figures.update(_stakes(sender, deployment, url, device_id))
    anchor = deployment.anchor(w3, sender)
    figures["anchor_first"] = anchor.anchor(1, random.randbytes(32), 1_000, URI).gas_used
    figures["anchor"] = anchor.anchor(2, random.randbytes(32), 1_000, URI).gas_used

    rng = random.Random(7)
    owners = [to_checksum_address(rng.randbytes(20)) for _ in range(OWNERS)]
    first = [rng.randrange(1, 10**19) for _ in range(OWNERS)]
    second = [amount + rng.randrange(1, 10**18) for amount in first]
    trees = [
        StandardMerkleTree.of(list(zip(owners, amounts, strict=True)), ("address", "uint256"))
        for amounts in (first, second)
    ]
    # The owner whose proofs are longest in both trees: the dearest claims.
    owner = max(range(OWNERS), key=lambda i: sum(len(tree.get_proof(i)) for tree in trees))
    distributor = deployment.distributor(w3, sender)
    distributor.set_root(1, trees[0].root_bytes, sum(first))
    proof = trees[0].get_proof(owner)
    figures["proof_nodes"] = len(proof)
    figures["claim_first"] = distributor.claim(owners[owner], first[owner], proof).gas_used
    figures["set_root"] = distributor.set_root(2, trees[1].root_bytes, sum(second)).gas_used
    proof = trees[1].get_proof(owner)
    figures["repeat_proof_nodes"] = len(proof)
    figures["claim_repeat"] = distributor.claim(owners[owner], second[owner], proof).gas_used
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    process, url = _start_anvil()
    try:
        real = _measure_real_node(Account.from_key(ANVIL_KEY), url)
    finally:
        process.terminate()
        process.wait(timeout=10)
    tester = connect("eth-tester://")
    tester_sender = Sender(tester, Account.from_key(prefunded_keys(tester)[0]))
    register_no_precompile, _ = _register(tester_sender, deploy_all(tester_sender))

    names = ("register", "anchor", "set_root", "claim_first", "claim_repeat", *STAKE_FIGURES)
    result: dict[str, Any] = {name: real[name] for name in names}
    result["register_no_precompile"] = register_no_precompile
    result["anchor_first"] = real["anchor_first"]
    result["baseline"] = {"transfer": real["transfer"]}
    result["over_transfer"] = {
        name: result[name] - real["transfer"] for name in (*names, "register_no_precompile")
    }
    result["proof_nodes"] = {
        "claim_first": real["proof_nodes"],
        "claim_repeat": real["repeat_proof_nodes"],
    }
    result["targets"] = {
        name: {"target": target, "met": result[name] <= target} for name, target in TARGETS.items()
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
