"""``fieldproof rewards``: re-run an epoch's reward scoring, show, prove and claim rewards."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldproof.api_client import API_KEY_ENV, fetch_json
from fieldproof.cli import group_parser
from fieldproof.cli.verify import FAIL_MARK, OK_MARK
from fieldproof.errors import FieldproofValueError

if TYPE_CHECKING:
    from fieldproof.merkle import StandardMerkleTree


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    explain = rewards.add_parser(
        "explain",
        help="Why each of an owner's devices earned what it earned, in words.",
        description="Every factor and flag of --owner's devices in an epoch, with its reason: "
        "from the aggregator's API (--api, --epoch N or the latest) or from an epoch bundle.",
    )
    explain.add_argument("bundle", type=Path, nargs="?", help="epoch bundle, without --api")
    explain.add_argument("--owner", required=True, help="owner address")
    explain.add_argument("--epoch", type=int, help="epoch number (with --api; default latest)")
    explain.add_argument("--api", help="aggregator API base URL (http(s)://…)")
    explain.add_argument("--api-key-env", default=API_KEY_ENV, help="env var holding the API key")
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.set_defaults(handler=_explain)
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


def _score(args: argparse.Namespace) -> int:
    from fieldproof.bundle import read_bundle
    from fieldproof.rewards.tree import rescore

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
            f"epoch {bundle.epoch} ({cid}): "
            f"{len(rewards.scores) + len(rewards.assessments)} devices, "
            f"{len(rewards.amounts)} owners paid, dust {rewards.dust}"
        )
        for a in rewards.assessments:
            owner = rewards.owners.get(a.device_id, "-")
            flags = ", ".join(flag.code for flag in a.flags) or "no flags"
            print(
                f"  0x{a.device_id.hex()} owner {owner} coverage {a.coverage_ppm / 1e4:.2f}% "
                f"quality {a.quality_ppm / 1e4:.2f}% consistency {a.consistency_ppm / 1e4:.2f}% "
                f"weight {a.weight} ({flags})"
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
    from fieldproof.bundle import read_bundle
    from fieldproof.rewards.tree import checksum, load_tree, owner_leaf

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
    answer = fetch_json(f"{base.rstrip('/')}/v1/rewards/{owner}", key_env)
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
    from fieldproof.chain.backends import connect_deployment
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
    w3 = connect_deployment(args.rpc, deployment)
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
    answer = fetch_json(f"{args.api.rstrip('/')}/v1/rewards/{args.owner}", args.api_key_env)
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


def _explain(args: argparse.Namespace) -> int:
    from fieldproof.bundle import read_bundle
    from fieldproof.rewards.explain import explain_owner
    from fieldproof.rewards.tree import checksum

    if (args.bundle is None) == (args.api is None):
        raise FieldproofValueError("rewards explain: give either a bundle or --api")
    if args.api is not None:
        query = "" if args.epoch is None else f"?epoch={args.epoch}"
        owner = checksum(args.owner)
        answer = fetch_json(
            f"{args.api.rstrip('/')}/v1/rewards/{owner}/explain{query}", args.api_key_env
        )
        if not isinstance(answer, dict):
            raise FieldproofValueError(f"{args.api}: malformed explanation")
    else:
        _, bundle, dump = read_bundle(args.bundle)
        if dump is None:
            raise FieldproofValueError(f"bundle {args.bundle}: it records no rewards")
        if args.epoch is not None and args.epoch != bundle.epoch:
            raise FieldproofValueError(f"bundle {args.bundle} is epoch {bundle.epoch}")
        answer = explain_owner(dump, args.owner)
        if not answer["devices"] and answer["amount"] == "0":
            raise FieldproofValueError(f"{answer['owner']} has no device in epoch {bundle.epoch}")
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        for line in answer["text"]:
            print(line)
    return 0
