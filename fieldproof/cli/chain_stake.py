"""``fieldproof chain move|stake|unstake|withdraw|slash|eligibility``: device locations and
the stakes behind devices. Each write prints one JSON object; reads print JSON too."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from web3 import Web3

    from fieldproof.chain.deploy import Deployment
    from fieldproof.chain.sender import Sender, TxOutcome

LOCATION_HELP = (
    "where the device stands: LAT,LON in degrees or an H3 cell of resolution 7 (hex); "
    "only the owner's key may set it"
)
# Kept here rather than imported so that `fieldproof --help` does not load eth-account.
_KEY_HELP = "key source: keystore:PATH or env:VARNAME"


def add_stake_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def write(name: str, help_: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_, description=help_)
        parser.add_argument("device_id", help="0x-prefixed 32-byte device id")
        parser.add_argument("--rpc", required=True, help="chain URL")
        parser.add_argument("--deployment", required=True, type=Path, help="deployment.json")
        parser.add_argument("--key", required=True, help=_KEY_HELP + " (sends the transaction)")
        return parser

    move = write("move", "Move a device to another cell (owner only; restarts its seniority).")
    move.add_argument("--location", required=True, help=LOCATION_HELP)
    move.set_defaults(handler=_move)

    stake = write("stake", "Stake reward tokens behind a device (owner only; approves them).")
    stake.add_argument("--amount", required=True, type=int, help="token base units to add")
    stake.set_defaults(handler=_stake)

    unstake = write("unstake", "Ask to take stake out; it is withdrawable after the delay.")
    unstake.add_argument("--amount", required=True, type=int, help="token base units")
    unstake.set_defaults(handler=_unstake)

    withdraw = write("withdraw", "Take out the sender's unlocked pending stake of a device.")
    withdraw.set_defaults(handler=_withdraw)

    slash = write("slash", "Slash a device's stake to the treasury (slasher role).")
    slash.add_argument("--amount", required=True, type=int, help="token base units at most")
    slash.add_argument(
        "--evidence", required=True, help="evidence URI: ipfs://<bundle CID>#flag=<flag>"
    )
    slash.add_argument("--staker", help="whose stake (default: the device's owner)")
    slash.set_defaults(handler=_slash)

    eligibility = commands.add_parser(
        "eligibility",
        help="Whether devices may be rewarded: owner, cell, seniority, stake (JSON lines).",
    )
    eligibility.add_argument("device_ids", nargs="+", help="0x-prefixed device ids")
    eligibility.add_argument("--rpc", required=True, help="chain URL")
    eligibility.add_argument("--deployment", required=True, type=Path, help="deployment.json")
    eligibility.add_argument("--block", type=int, help="read at this block (default: latest)")
    eligibility.set_defaults(handler=_eligibility)


def _connect(args: argparse.Namespace, *, write: bool) -> tuple[Web3, Deployment, Sender | None]:
    from fieldproof.chain.backends import connect
    from fieldproof.chain.deploy import Deployment
    from fieldproof.chain.keysource import load_account
    from fieldproof.chain.sender import Sender

    w3 = connect(args.rpc)
    deployment = Deployment.load(args.deployment)
    deployment.ensure_chain(w3)
    sender = Sender(w3, load_account(args.key)) if write else None
    return w3, deployment, sender


def _device_id(text: str) -> bytes:
    from fieldproof.identity import parse_device_id

    return parse_device_id(text)


def _print(outcome: TxOutcome, **extra: Any) -> int:
    print(json.dumps({"tx": outcome.tx_hash, "skipped": outcome.skipped, **extra}))
    return 0


def _move(args: argparse.Namespace) -> int:
    from fieldproof.chain.location import cell_str, parse_location

    cell = parse_location(args.location)
    w3, deployment, sender = _connect(args, write=True)
    registry = deployment.registry(w3, sender)
    device_id = _device_id(args.device_id)
    outcome = registry.move(device_id, cell)
    location = registry.location_of(device_id)
    assert location is not None
    return _print(
        outcome,
        cell=cell_str(cell),
        placedAt=location.placed_at,
        eligibleFrom=location.eligible_from,
    )


def _stake(args: argparse.Namespace) -> int:
    w3, deployment, sender = _connect(args, write=True)
    assert sender is not None
    staking = deployment.staking(w3, sender)
    token = deployment.token(w3, sender)
    device_id = _device_id(args.device_id)
    if token.allowance(sender.address, staking.address) < args.amount:
        token.approve(staking.address, args.amount)
    outcome = staking.stake(device_id, args.amount)
    return _print(outcome, staked=staking.stake_of(device_id, sender.address).amount)


def _unstake(args: argparse.Namespace) -> int:
    w3, deployment, sender = _connect(args, write=True)
    assert sender is not None
    staking = deployment.staking(w3, sender)
    device_id = _device_id(args.device_id)
    outcome = staking.request_unstake(device_id, args.amount)
    info = staking.stake_of(device_id, sender.address)
    return _print(outcome, staked=info.amount, pending=info.pending, unlockAt=info.unlock_at)


def _withdraw(args: argparse.Namespace) -> int:
    w3, deployment, sender = _connect(args, write=True)
    staking = deployment.staking(w3, sender)
    return _print(staking.withdraw(_device_id(args.device_id)))


def _slash(args: argparse.Namespace) -> int:
    w3, deployment, sender = _connect(args, write=True)
    staking = deployment.staking(w3, sender)
    outcome = staking.slash(_device_id(args.device_id), args.amount, args.evidence, args.staker)
    return _print(outcome)


def _eligibility(args: argparse.Namespace) -> int:
    from fieldproof.chain.backends import connect
    from fieldproof.chain.deploy import Deployment

    w3 = connect(args.rpc)
    deployment = Deployment.load(args.deployment)
    deployment.ensure_chain(w3)
    ids = [_device_id(text) for text in args.device_ids]
    for device_id in ids:
        print(json.dumps(device_stake_info(deployment, w3, device_id, args.block)))
    return 0


def device_stake_info(
    deployment: Deployment, w3: Web3, device_id: bytes, block: int | None = None
) -> dict[str, Any]:
    """A device's location, seniority, stake and eligibility, as ``chain device`` shows."""
    from fieldproof.chain.location import cell_str

    (row,) = deployment.staking(w3).eligibility([device_id], block)
    return {
        "deviceId": "0x" + device_id.hex(),
        "cell": cell_str(row.cell) if row.cell else None,
        "placedAt": row.placed_at or None,
        "eligibleFrom": row.eligible_from or None,
        "staked": row.staked,
        "eligible": row.eligible,
    }
