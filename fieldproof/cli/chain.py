"""``fieldproof chain``: deploy the contracts and rebuild their artifacts."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from fieldproof.cli import group_parser

_EPOCH_CAP_DEFAULT = 1_000_000 * 10**18
# Kept here rather than imported so that `fieldproof --help` does not load eth-account.
KEY_SOURCE_HELP = (
    "key source: keystore:PATH (passphrase from FIELDPROOF_KEYSTORE_PASSPHRASE or the "
    "terminal) or env:VARNAME (hex private key)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands = group_parser(subparsers, "chain", "Deploy and rebuild the on-chain contracts.")
    deploy = commands.add_parser(
        "deploy",
        help="Deploy DeviceRegistry, DataAnchor, RewardToken and RewardDistributor.",
        description="Deploy the four contracts, grant their roles and write deployment.json "
        "(chain id and, per contract, address and ABI). With --rpc eth-tester:// and no "
        "--key, the in-process chain's prefunded first account deploys (that chain lives "
        "only as long as the command, so this is a dry run).",
    )
    deploy.add_argument(
        "--rpc", required=True, help="chain URL: http(s)://host:port or eth-tester://"
    )
    deploy.add_argument("--key", help=KEY_SOURCE_HELP + "; optional only for eth-tester://")
    deploy.add_argument("--out", required=True, type=Path, help="deployment file to write")
    deploy.add_argument("--admin", help="admin of every contract (default: the deployer)")
    deploy.add_argument("--anchorer", help="account allowed to anchor (default: the deployer)")
    deploy.add_argument(
        "--distributor", help="account allowed to publish reward roots (default: the deployer)"
    )
    deploy.add_argument(
        "--epoch-cap",
        type=int,
        default=_EPOCH_CAP_DEFAULT,
        help="most token base units one epoch may add to the rewards (default: 1e24)",
    )
    deploy.set_defaults(handler=_deploy)

    compile_ = commands.add_parser(
        "compile",
        help="Rebuild the contract artifacts with solc from npm (needs Node.js and npm ci).",
    )
    compile_.add_argument(
        "--out", type=Path, help="artifact directory (default: the package's artifacts)"
    )
    compile_.set_defaults(handler=_compile)


def _deploy(args: argparse.Namespace) -> int:
    from eth_account import Account

    from fieldproof.chain.backends import connect, is_eth_tester, tester_private_keys
    from fieldproof.chain.deploy import deploy_all
    from fieldproof.chain.errors import ChainValueError
    from fieldproof.chain.keysource import load_account
    from fieldproof.chain.sender import Sender

    w3 = connect(args.rpc)
    if args.key is not None:
        account = load_account(args.key)
    elif is_eth_tester(w3):
        account = Account.from_key(tester_private_keys(w3)[0])
    else:
        raise ChainValueError(f"--key is required for {args.rpc}")
    deployment = deploy_all(
        Sender(w3, account),
        admin=args.admin,
        anchorer=args.anchorer,
        distributor=args.distributor,
        epoch_cap=args.epoch_cap,
    )
    deployment.save(args.out)
    summary = {name: entry.address for name, entry in deployment.contracts.items()}
    print(json.dumps({"chainId": deployment.chain_id, "deployer": account.address, **summary}))
    return 0


def _compile(args: argparse.Namespace) -> int:
    from fieldproof.chain.errors import ChainError

    root = Path(__file__).resolve().parents[2]
    script = root / "contracts" / "compile.mjs"
    if not script.exists():
        raise ChainError(f"{script} not found: compiling needs a source checkout")
    node = shutil.which("node")
    if node is None:
        raise ChainError("node not found: install Node.js, then run `npm ci` in " + str(root))
    command = [node, str(script)]
    if args.out is not None:
        command += ["--out", str(args.out)]
    completed = subprocess.run(command, cwd=root, check=False)
    if completed.returncode != 0:
        print("fieldproof: error: compile failed (see solc output above)", file=sys.stderr)
    return completed.returncode
