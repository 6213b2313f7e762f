"""Commands that let anyone check the aggregator: ``fieldproof verify``, ``fieldproof rewards``,
and, for the operator, ``fieldproof aggregator anchor`` / ``proof``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.cli.api import API_KEY_ENV
from fieldproof.cli import group_parser
from fieldproof.errors import FieldproofValueError

if TYPE_CHECKING:
    from web3 import Web3

    from fieldproof.chain.deploy import Deployment
    from fieldproof.merkle import StandardMerkleTree
    from fieldproof.verify import ReportProof

OK_MARK = "\u2714"
FAIL_MARK = "\u2718"
API_TIMEOUT_S = 30.0
KEY_HELP = (
    "transaction key source: keystore:PATH or env:VARNAME "
    "(the account needs the anchorer and distributor roles)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = subparsers.add_parser(
        "verify",
        help="Verify a report end to end against the chain.",
        description="Check that a report is signed by its device's registered key, that the "
        "proof places it in its epoch's Merkle tree, that the tree's root is the one "
        "anchored on-chain for that epoch, and that the device was registered at the time. "
        "Give the report and proof as files (--report, --proof), or fetch them from an "
        "aggregator's HTTP API (--device, --seq, --api): the API is not trusted, every "
        "check runs here against the chain. Prints each step; exits 0 only if all hold.",
    )
    verify.add_argument("--report", type=Path, help="report file (COSE_Sign1)")
    verify.add_argument("--proof", type=Path, help="proof file (JSON)")
    verify.add_argument("--device", help="device id (0x + 64 hex digits), with --api")
    verify.add_argument("--seq", type=int, help="sequence number, with --api")
    verify.add_argument("--api", help="aggregator API base URL (http(s)://…)")
    verify.add_argument(
        "--api-key-env",
        default=API_KEY_ENV,
        help=f"environment variable holding the API key, if the API needs one ({API_KEY_ENV})",
    )
    verify.add_argument("--rpc", required=True, help="chain URL (http(s)://…)")
    verify.add_argument("--deployment", required=True, type=Path, help="deployment.json")
    verify.set_defaults(handler=_verify)

    rewards = group_parser(subparsers, "rewards", "Re-check reward epochs and get claim proofs.")
    score = rewards.add_parser(
        "score",
        help="Re-run the reward scoring of an epoch bundle.",
        description="Re-score an epoch bundle from its reports and the inputs it records; "
        "exits 0 only if the result equals the recorded reward root.",
    )
    score.add_argument("bundle", type=Path, help="epoch bundle (<cid>.json)")
    score.add_argument("--json", action="store_true", help="print one JSON object")
    score.set_defaults(handler=_score)
    claim = rewards.add_parser(
        "proof",
        help="Print an owner's claim (cumulative amount and proof) from an epoch bundle.",
        description="The cumulative amount and Merkle proof RewardDistributor.claim needs.",
    )
    claim.add_argument("bundle", type=Path, help="epoch bundle (<cid>.json)")
    claim.add_argument("--owner", required=True, help="owner address")
    claim.set_defaults(handler=_claim)
    show = rewards.add_parser(
        "show",
        help="An owner's rewards per epoch, cumulative, claimed and claimable (from the API).",
        description="Ask an aggregator's API for --owner's rewards: the amount of each epoch, "
        "the cumulative total, what the chain says was claimed, and what is claimable.",
    )
    show.add_argument("--owner", required=True, help="owner address")
    show.add_argument("--api", required=True, help="aggregator API base URL (http(s)://…)")
    show.add_argument("--api-key-env", default=API_KEY_ENV, help="env var holding the API key")
    show.add_argument("--json", action="store_true", help="print the API's JSON answer")
    show.set_defaults(handler=_show_rewards)
    submit = rewards.add_parser(
        "claim",
        help="Claim an owner's rewards on-chain (proof from the API or the latest bundle).",
        description="Send RewardDistributor.claim for --owner (anyone may send it; the tokens "
        "go to the owner) with the claim proof from --api or from the epoch bundle whose "
        "reward root is current on-chain. Safe to re-run: nothing is paid twice.",
    )
    submit.add_argument(
        "bundle", type=Path, nargs="?", help="latest epoch bundle (<cid>.json), without --api"
    )
    submit.add_argument("--api", help="aggregator API base URL, instead of a bundle")
    submit.add_argument("--api-key-env", default=API_KEY_ENV, help="env var holding the API key")
    submit.add_argument("--owner", required=True, help="owner address")
    submit.add_argument("--rpc", required=True, help="chain URL (http(s)://…)")
    submit.add_argument("--deployment", required=True, type=Path, help="deployment.json")
    submit.add_argument(
        "--key", required=True, help="transaction key source: keystore:PATH or env:VARNAME"
    )
    submit.set_defaults(handler=_submit_claim)


def register_aggregator(
    aggregator: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    proof = aggregator.add_parser(
        "proof",
        help="Write a report and its proof from an epoch bundle.",
        description="Extract the report (device, seq) and its Merkle proof from an epoch "
        "bundle, as the files `fieldproof verify` reads.",
    )
    proof.add_argument("bundle", type=Path, help="epoch bundle (<cid>.json)")
    proof.add_argument("--device", required=True, help="device id (0x + 64 hex digits)")
    proof.add_argument("--seq", required=True, type=int, help="sequence number")
    proof.add_argument("--report-out", required=True, type=Path, help="report file to write")
    proof.add_argument("--proof-out", required=True, type=Path, help="proof file to write")
    proof.set_defaults(handler=_proof)

    anchor = aggregator.add_parser(
        "anchor",
        help="Close epochs of the ledger and anchor them on-chain.",
        description="Close fixed-length epochs of ledger receive time, write their bundles, "
        "anchor each root in DataAnchor and publish rewards in RewardDistributor. Only the "
        "holder of the lease in the state database anchors; safe to stop and restart.",
    )
    anchor.add_argument(
        "--ledger", required=True, help="ledger URL (sqlite:///… or postgresql://…)"
    )
    anchor.add_argument(
        "--state",
        required=True,
        help="anchor state and lease URL (sqlite:///PATH, or postgresql://… shared by aggregators)",
    )
    anchor.add_argument("--rpc", required=True, help="chain URL (http(s)://…)")
    anchor.add_argument("--deployment", required=True, type=Path, help="deployment.json")
    anchor.add_argument("--key", required=True, help=KEY_HELP)
    anchor.add_argument("--bundle-dir", required=True, type=Path, help="where bundles go")
    anchor.add_argument("--epoch-seconds", type=int, default=3600, help="epoch length (s)")
    anchor.add_argument("--genesis", type=int, default=0, help="Unix time of epoch 0's start")
    anchor.add_argument(
        "--grace-seconds",
        type=float,
        default=5.0,
        help="wait this long after an epoch ends before closing it; must exceed the time "
        "ingest takes to commit a received report, or late commits miss their epoch",
    )
    anchor.add_argument(
        "--emission", type=int, default=1000 * 10**18, help="reward token units per epoch"
    )
    anchor.add_argument(
        "--first-epoch",
        type=int,
        help="first epoch to anchor on the very first start (default: the current one)",
    )
    anchor.add_argument("--holder", default="anchorer", help="name of this process in the lease")
    anchor.add_argument("--once", action="store_true", help="one tick, then exit")
    anchor.add_argument("--interval", type=float, default=1.0, help="seconds between ticks")
    anchor.set_defaults(handler=_anchor)


def _connect(rpc: str, deployment: Deployment) -> Web3:
    """A node on the deployment's chain; eth-tester:// lives inside one process only."""
    from fieldproof.chain.backends import ETH_TESTER_SCHEME, connect

    if rpc.startswith(f"{ETH_TESTER_SCHEME}:"):
        raise FieldproofValueError(
            f"--rpc {rpc}: the in-process chain exists only inside the process that made it; "
            "give the URL of a node (anvil, a testnet, mainnet)"
        )
    w3 = connect(rpc)
    if int(w3.eth.chain_id) != deployment.chain_id:
        raise FieldproofValueError(
            f"--rpc {rpc} is chain {w3.eth.chain_id}, the deployment is on {deployment.chain_id}"
        )
    return w3


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FieldproofValueError(f"{what} {path}: {exc.strerror}") from exc


def _fetch_json(url: str, key_env: str) -> Any:
    from aggregator.cli.api import api_request

    with api_request(url, key_env, timeout=API_TIMEOUT_S, accept="application/json") as response:
        body = response.read()
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise FieldproofValueError(f"{url}: not JSON ({exc})") from exc


def _from_api(args: argparse.Namespace) -> tuple[bytes, ReportProof]:
    import base64
    import binascii

    from fieldproof.identity import parse_device_id
    from fieldproof.verify import ReportProof

    device = "0x" + parse_device_id(args.device).hex()
    base = args.api.rstrip("/")
    report = _fetch_json(f"{base}/v1/reports/{device}/{args.seq}", args.api_key_env)
    try:
        raw = base64.b64decode(report["cose"], validate=True)
    except (KeyError, TypeError, binascii.Error, ValueError) as exc:
        raise FieldproofValueError(f"{base}: the report has no base64 'cose' field") from exc
    proof = ReportProof.from_json(
        _fetch_json(f"{base}/v1/proofs/{device}/{args.seq}", args.api_key_env)
    )
    return raw, proof


def _verify(args: argparse.Namespace) -> int:
    from fieldproof.chain.deploy import Deployment
    from fieldproof.verify import ContractView, ReportProof, all_ok, verify

    by_file = args.report is not None or args.proof is not None
    by_api = args.device is not None or args.seq is not None or args.api is not None
    if by_file == by_api:
        raise FieldproofValueError(
            "verify: give either --report and --proof, or --device, --seq and --api"
        )
    if by_file:
        if args.report is None or args.proof is None:
            raise FieldproofValueError("verify: --report and --proof go together")
        raw = _read_bytes(args.report, "report")
        proof = ReportProof.loads(_read_bytes(args.proof, "proof").decode("utf-8", "replace"))
    else:
        if args.device is None or args.seq is None or args.api is None:
            raise FieldproofValueError("verify: --device, --seq and --api go together")
        raw, proof = _from_api(args)
    deployment = Deployment.load(args.deployment)
    w3 = _connect(args.rpc, deployment)
    steps = verify(raw, proof, ContractView(deployment.registry(w3), deployment.anchor(w3)))
    for step in steps:
        print(f"{OK_MARK if step.ok else FAIL_MARK} {step.name}: {step.detail}")
    ok = all_ok(steps)
    print("verified" if ok else "NOT verified")
    return 0 if ok else 1


def _score(args: argparse.Namespace) -> int:
    from aggregator.anchoring.bundle import read_bundle
    from aggregator.rewards.epoch import rescore

    cid, bundle, dump = read_bundle(args.bundle)
    if dump is None:
        raise FieldproofValueError(f"bundle {args.bundle}: it records no rewards")
    rewards = rescore(bundle, dump)
    recorded = dump.get("root")
    computed = None if rewards.root is None else "0x" + rewards.root.hex()
    ok = computed == recorded
    if args.json:
        print(
            json.dumps(
                {
                    "cid": cid,
                    "epoch": bundle.epoch,
                    "recorded": recorded,
                    "computed": computed,
                    "match": ok,
                    "rewards": rewards.to_json(),
                }
            )
        )
    else:
        print(
            f"epoch {bundle.epoch} ({cid}): {len(rewards.scores)} devices, "
            f"{len(rewards.amounts)} owners paid, dust {rewards.dust}"
        )
        for score in rewards.scores:
            owner = rewards.owners.get(score.device_id, "-")
            print(
                f"  0x{score.device_id.hex()} owner {owner} uptime {score.uptime_ppm / 1e4:.2f}% "
                f"quality {score.quality_ppm / 1e4:.2f}% agreement "
                f"{score.agreement_ppm / 1e4:.2f}% weight {score.weight}"
            )
        print(
            f"{OK_MARK if ok else FAIL_MARK} reward root {computed} "
            f"{'equals' if ok else 'differs from'} the recorded {recorded}"
        )
    return 0 if ok else 1


@dataclass(frozen=True, slots=True)
class _OwnerLeaf:
    """An owner's leaf in the reward tree a bundle records."""

    epoch: int
    tree: StandardMerkleTree
    owner: str
    index: int
    cumulative: int


def _owner_leaf(bundle_path: Path, owner_address: str) -> _OwnerLeaf:
    from aggregator.anchoring.bundle import read_bundle
    from aggregator.rewards.epoch import checksum, load_tree, owner_leaf

    _, bundle, dump = read_bundle(bundle_path)
    tree = None if dump is None else load_tree(dump)
    if tree is None:
        raise FieldproofValueError(f"bundle {bundle_path}: it records no reward tree")
    owner = checksum(owner_address)
    leaf = owner_leaf(tree, owner)
    if leaf is None:
        raise FieldproofValueError(f"epoch {bundle.epoch}: no reward leaf for {owner}")
    return _OwnerLeaf(bundle.epoch, tree, owner, *leaf)


def _claim(args: argparse.Namespace) -> int:
    leaf = _owner_leaf(args.bundle, args.owner)
    out: dict[str, Any] = {
        "epoch": leaf.epoch,
        "root": leaf.tree.root,
        "owner": leaf.owner,
        "cumulative": str(leaf.cumulative),
        "proof": leaf.tree.get_proof(leaf.index),
    }
    print(json.dumps(out, indent=2))
    return 0


def _claim_from_api(base: str, owner: str, key_env: str) -> tuple[str, int, list[str], bytes, int]:
    """(owner, cumulative, proof, root, epoch) of the API's claim for ``owner``."""
    answer = _fetch_json(f"{base.rstrip('/')}/v1/rewards/{owner}", key_env)
    claim = answer.get("claim") if isinstance(answer, dict) else None
    if not isinstance(claim, dict):
        raise FieldproofValueError(f"{base}: no reward claim for {owner} yet")
    try:
        return (
            str(answer["owner"]),
            int(claim["cumulative"]),
            [str(node) for node in claim["proof"]],
            bytes.fromhex(str(claim["root"]).removeprefix("0x")),
            int(claim["epoch"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise FieldproofValueError(f"{base}: malformed claim in the reward answer ({exc})") from exc


def _submit_claim(args: argparse.Namespace) -> int:
    from fieldproof.chain.deploy import Deployment
    from fieldproof.chain.keysource import load_account
    from fieldproof.chain.sender import Sender

    if (args.bundle is None) == (args.api is None):
        raise FieldproofValueError("rewards claim: give either a bundle or --api")
    if args.api is not None:
        owner, cumulative, proof, root, epoch = _claim_from_api(
            args.api, args.owner, args.api_key_env
        )
        source = f"the API's claim (epoch {epoch})"
    else:
        leaf = _owner_leaf(args.bundle, args.owner)
        owner, cumulative, epoch = leaf.owner, leaf.cumulative, leaf.epoch
        proof, root = leaf.tree.get_proof(leaf.index), leaf.tree.root_bytes
        source = f"bundle {args.bundle} (epoch {epoch})"
    deployment = Deployment.load(args.deployment)
    w3 = _connect(args.rpc, deployment)
    distributor = deployment.distributor(w3, Sender(w3, load_account(args.key)))
    current = distributor.merkle_root()
    if current != root:
        raise FieldproofValueError(
            f"{source} holds a reward root that is not the current one "
            f"(epoch {distributor.current_epoch()}): fetch the latest claim"
        )
    before = distributor.claimed(owner)
    outcome = distributor.claim(owner, cumulative, proof)
    paid = distributor.claimed(owner) - before
    if outcome.skipped:
        print(f"{owner}: nothing to claim (already paid up to {before})")
    else:
        print(f"{owner}: paid {paid} (cumulative {cumulative}) in {outcome.tx_hash}")
    return 0


def _show_rewards(args: argparse.Namespace) -> int:
    answer = _fetch_json(f"{args.api.rstrip('/')}/v1/rewards/{args.owner}", args.api_key_env)
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    print(f"owner      {answer['owner']}")
    for line in answer["epochs"]["items"]:
        print(f"  epoch {line['epoch']:>6}  +{line['amount']:>28}  = {line['cumulative']}")
    print(f"cumulative {answer['cumulative']}")
    print(f"claimed    {answer['claimed'] if answer['claimed'] is not None else 'unknown'}")
    print(f"claimable  {answer['claimable'] if answer['claimable'] is not None else 'unknown'}")
    return 0


def _proof(args: argparse.Namespace) -> int:
    from aggregator.anchoring.bundle import ipfs_uri, read_bundle
    from fieldproof.identity import parse_device_id

    cid, bundle, _ = read_bundle(args.bundle)
    device_id = parse_device_id(args.device)
    proof = bundle.proof(device_id, args.seq, ipfs_uri(cid))
    report = bundle.reports[bundle.index_of(device_id, args.seq)]
    args.report_out.write_bytes(report.raw)
    args.proof_out.write_text(proof.dumps())
    print(f"epoch {bundle.epoch}: report -> {args.report_out}, proof -> {args.proof_out}")
    return 0


def _anchor(args: argparse.Namespace) -> int:
    from aggregator.anchoring.chain import ContractChain
    from aggregator.anchoring.service import AnchorSettings, EpochAnchorer
    from aggregator.anchoring.state import AnchorState
    from aggregator.ledger import open_ledger
    from fieldproof.chain.deploy import Deployment
    from fieldproof.chain.keysource import load_account
    from fieldproof.chain.sender import Sender

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    deployment = Deployment.load(args.deployment)
    w3 = _connect(args.rpc, deployment)
    sender = Sender(w3, load_account(args.key))
    chain = ContractChain(
        deployment.anchor(w3, sender), deployment.distributor(w3, sender), deployment.registry(w3)
    )
    settings = AnchorSettings(
        bundle_dir=args.bundle_dir,
        epoch_seconds=args.epoch_seconds,
        genesis=args.genesis,
        emission=args.emission,
        holder=args.holder,
        first_epoch=args.first_epoch,
        grace_seconds=args.grace_seconds,
    )
    cap = chain.distributor.epoch_cap()
    if settings.emission > cap:
        # setRoot would revert every epoch and anchoring would stall behind it.
        raise FieldproofValueError(
            f"--emission {settings.emission} exceeds RewardDistributor's epoch cap {cap}"
        )
    ledger = open_ledger(args.ledger)
    state = AnchorState(args.state)
    anchorer = EpochAnchorer(settings, ledger, chain, state)
    try:
        if args.once:
            for outcome in anchorer.tick():
                print(
                    f"epoch {outcome.epoch}: {outcome.status.value}, {outcome.count} reports, "
                    f"cid {outcome.cid}",
                    file=sys.stdout,
                )
            return 0
        stop = threading.Event()
        try:
            anchorer.run(stop, args.interval)
        except KeyboardInterrupt:
            stop.set()
        return 0
    finally:
        state.close()
        ledger.close()
