"""``fieldproof chain``: deploy the contracts, register devices, rebuild the artifacts;
locations and stakes in ``chain_stake``."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from fieldproof.cli import group_parser
from fieldproof.cli.chain_stake import LOCATION_HELP, add_stake_commands

_EPOCH_CAP_DEFAULT = 1_000_000 * 10**18
# Kept here rather than imported so that `fieldproof --help` does not load eth-account.
KEY_SOURCE_HELP = (
    "key source: keystore:PATH (passphrase from FIELDPROOF_KEYSTORE_PASSPHRASE or the "
    "terminal) or env:VARNAME (hex private key)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands = group_parser(
        subparsers, "chain", "Deploy the contracts, register devices, rebuild the artifacts."
    )
    deploy = commands.add_parser(
        "deploy",
        help="Deploy DeviceRegistry, DataAnchor, RewardToken, RewardDistributor, DeviceStaking.",
        description="Deploy the five contracts, grant their roles and write deployment.json "
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
    deploy.add_argument("--slasher", help="account allowed to slash stakes (default: deployer)")
    deploy.add_argument("--treasury", help="receives slashed stakes (default: the admin)")
    deploy.add_argument("--genesis-holder", help="receives the genesis supply (default: the admin)")
    deploy.add_argument(
        "--genesis-supply",
        type=int,
        help="token base units minted once at deployment so owners can stake (default: 1e25)",
    )
    deploy.add_argument(
        "--min-stake", type=int, help="stake a device needs to be rewarded (default: 1e20)"
    )
    deploy.add_argument(
        "--unstake-delay", type=int, help="seconds from unstake request to withdrawal (14 days)"
    )
    deploy.add_argument(
        "--move-cooldown", type=int, help="seconds a moved device earns nothing (7 days)"
    )
    deploy.set_defaults(handler=_deploy)

    pop = commands.add_parser(
        "pop",
        help="Sign a device's proof of possession (offline, on the device).",
        description="Sign, with the device key, the proof of possession that lets OWNER "
        "register the device in the deployment's DeviceRegistry. Needs no chain access.",
    )
    pop.add_argument("--device-key", required=True, type=Path, help="device key file")
    pop.add_argument("--deployment", required=True, type=Path, help="deployment.json")
    pop.add_argument("--owner", required=True, help="owner address to register the device for")
    pop.add_argument(
        "--nonce", type=int, default=0, help="the registry's nonces(deviceId) (0 when new)"
    )
    pop.add_argument("--out", type=Path, help="file to write (default: stdout)")
    pop.set_defaults(handler=_pop)

    register_ = commands.add_parser(
        "register",
        help="Submit a device's proof of possession to the DeviceRegistry.",
    )
    register_.add_argument("--rpc", required=True, help="chain URL")
    register_.add_argument("--key", required=True, help=KEY_SOURCE_HELP + " (pays the gas)")
    register_.add_argument("--deployment", required=True, type=Path, help="deployment.json")
    register_.add_argument(
        "--pop", dest="pairing", required=True, type=Path, help="proof of possession file"
    )
    register_.add_argument("--metadata-uri", default="", help="device metadata URI")
    register_.add_argument("--location", help=LOCATION_HELP)
    register_.set_defaults(handler=register_pairing_command)

    device = commands.add_parser("device", help="Show a device's on-chain registration.")
    device.add_argument("device_id", help="0x-prefixed 32-byte device id")
    device.add_argument("--rpc", required=True, help="chain URL")
    device.add_argument("--deployment", required=True, type=Path, help="deployment.json")
    device.set_defaults(handler=_device)

    add_stake_commands(commands)

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

    from fieldproof.chain.backends import connect, is_eth_tester, prefunded_keys
    from fieldproof.chain.deploy import deploy_all
    from fieldproof.chain.errors import ChainValueError
    from fieldproof.chain.keysource import load_account
    from fieldproof.chain.sender import Sender

    w3 = connect(args.rpc)
    if args.key is not None:
        account = load_account(args.key)
    elif is_eth_tester(w3):
        account = Account.from_key(prefunded_keys(w3)[0])
    else:
        raise ChainValueError(f"--key is required for {args.rpc}")
    optional = {
        "slasher": args.slasher,
        "treasury": args.treasury,
        "genesis_holder": args.genesis_holder,
        "genesis_supply": args.genesis_supply,
        "min_stake": args.min_stake,
        "unstake_delay": args.unstake_delay,
        "move_cooldown": args.move_cooldown,
    }
    deployment = deploy_all(
        Sender(w3, account),
        admin=args.admin,
        anchorer=args.anchorer,
        distributor=args.distributor,
        epoch_cap=args.epoch_cap,
        **{name: value for name, value in optional.items() if value is not None},
    )
    deployment.save(args.out)
    summary = {name: entry.address for name, entry in deployment.contracts.items()}
    print(json.dumps({"chainId": deployment.chain_id, "deployer": account.address, **summary}))
    return 0


def _pop(args: argparse.Namespace) -> int:
    from fieldproof.chain.deploy import Deployment
    from fieldproof.chain.pairing import sign_pairing
    from fieldproof.identity import load_key

    deployment = Deployment.load(args.deployment)
    registry = deployment.contracts["DeviceRegistry"].address
    key = load_key(args.device_key)
    text = sign_pairing(key, registry, deployment.chain_id, args.owner, args.nonce)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
    return 0


def register_pairing_command(args: argparse.Namespace) -> int:
    """Submit the pairing file ``args.pairing`` (``chain register``, ``device register``)."""
    from fieldproof.chain.location import parse_location
    from fieldproof.chain.pairing import register_pairing_file

    location = getattr(args, "location", None)
    enrolment = register_pairing_file(
        args.pairing,
        args.deployment,
        rpc=args.rpc,
        key_source=args.key,
        metadata_uri=args.metadata_uri,
        cell=None if location is None else parse_location(location),
    )
    print(json.dumps(enrolment.to_json()))
    return 0


def _device(args: argparse.Namespace) -> int:
    from fieldproof.chain.backends import connect
    from fieldproof.chain.deploy import Deployment
    from fieldproof.cli.chain_stake import device_stake_info
    from fieldproof.identity import did_key_from_public_key, parse_device_id

    device_id = parse_device_id(args.device_id)
    w3 = connect(args.rpc)
    deployment = Deployment.load(args.deployment)
    deployment.ensure_chain(w3)
    registry = deployment.registry(w3)
    owner = registry.owner_of(device_id)
    info: dict[str, object] = {"deviceId": "0x" + device_id.hex(), "registered": owner is not None}
    if owner is not None:
        registration = registry.registration_of(device_id)
        public_key = registry.public_key_of(device_id)
        info.update(
            owner=owner,
            active=registry.is_active(device_id),
            did=did_key_from_public_key(public_key),
            metadataURI=registry.metadata_uri_of(device_id),
            registeredBlock=None if registration is None else registration.block_number,
            registeredAt=None if registration is None else registration.timestamp,
            **device_stake_info(deployment, w3, device_id),
        )
    print(json.dumps(info))
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
