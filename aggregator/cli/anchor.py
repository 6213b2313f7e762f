"""Operator commands of the anchoring role: ``fieldproof aggregator anchor`` and ``proof``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fieldproof.errors import ConfigError

if TYPE_CHECKING:
    from aggregator.config import AggregatorConfig


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
        help="Close epochs of the ledger and anchor them on-chain (the anchoring role).",
        description="Close fixed-length epochs of ledger receive time, write their bundles, "
        "anchor each root in DataAnchor and publish rewards in RewardDistributor, as the "
        "config's anchoring and rewards sections say. Only the holder of the lease in the "
        "ledger anchors; safe to stop and restart.",
    )
    anchor.add_argument("--config", type=Path, required=True, help="aggregator.yaml")
    anchor.add_argument("--once", action="store_true", help="one tick, then exit")
    anchor.add_argument("--holder", help="name of this process in the lease (anchoring.holder)")
    anchor.add_argument(
        "--first-epoch",
        type=int,
        help="first epoch on the very first start (anchoring.first_epoch)",
    )
    anchor.add_argument("--log-level", default="INFO", help="Python logging level (INFO).")
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
    from aggregator.cli.run import load, override, serve

    config = load(args.config)
    if config.anchoring is None:
        raise ConfigError(f"{args.config}: anchoring: the section is missing")
    changes = {"holder": args.holder, "first_epoch": args.first_epoch}
    changes = {key: value for key, value in changes.items() if value is not None}
    if changes:
        config = override(config, "anchoring", **changes)
    config = override(config, "roles", roles=("anchoring",))
    if not args.once:
        return serve(config, args.log_level)
    return _tick_once(config)


def _tick_once(config: AggregatorConfig) -> int:
    from aggregator.anchoring.service import LEASE_NAME
    from aggregator.anchoring.setup import build_anchorer
    from aggregator.ledger import open_ledger

    assert config.anchoring is not None
    ledger = open_ledger(config.ledger.url)
    try:
        anchorer = build_anchorer(config.anchoring, config.rewards, ledger)
        for outcome in anchorer.tick():
            print(
                f"epoch {outcome.epoch}: {outcome.status.value}, {outcome.count} reports, "
                f"cid {outcome.cid}",
                file=sys.stdout,
            )
        # A one-off run leaves the lease to the service at once.
        ledger.release_lease(LEASE_NAME, config.anchoring.holder)
        return 0
    finally:
        ledger.close()
