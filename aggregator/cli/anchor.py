"""Operator commands of the anchoring role: ``fieldproof aggregator anchor`` and ``proof``."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from fieldproof.errors import FieldproofValueError

KEY_HELP = (
    "transaction key source: keystore:PATH or env:VARNAME "
    "(the account needs the anchorer and distributor roles)"
)


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


def _proof(args: argparse.Namespace) -> int:
    from fieldproof.bundle import ipfs_uri, read_bundle
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
    from fieldproof.chain.backends import connect_deployment
    from fieldproof.chain.deploy import Deployment
    from fieldproof.chain.keysource import load_account
    from fieldproof.chain.sender import Sender

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    deployment = Deployment.load(args.deployment)
    w3 = connect_deployment(args.rpc, deployment)
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
