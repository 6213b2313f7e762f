"""Anchoring cost: gas of one DataAnchor.anchor per epoch against one anchor per report,
proof sizes and proof verification rate, for epochs of 1, 1,000 and 100,000 reports.

The chain is the in-process eth-tester (py-evm, Prague rules). Report bytes are random
(only their keccak256 enters the tree, so signing 100,000 reports would measure the
signer, not anchoring). The baseline is what anchoring every report on its own would
cost: the gas of an anchor measured in the same run times the number of reports.

Usage: ``python bench/anchor.py [--json] [--verify-seconds S]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from collections.abc import Callable
from typing import Any

from eth_account import Account

from fieldproof.chain.backends import connect, prefunded_keys
from fieldproof.chain.deploy import deploy_all
from fieldproof.chain.sender import Sender
from fieldproof.cid import cid_v1
from fieldproof.merkle import StandardMerkleTree, process_proof
from fieldproof.verify import DATA_LEAF_TYPES, data_leaf, data_leaf_hash

SIZES = (1, 1_000, 100_000)
PROOF_SAMPLE = 1_000
SCORED_DEVICES, SCORED_REPORTS_EACH = 100, 100


def scoring_seconds() -> tuple[float, float]:
    """Seconds to build the bundle of, and to score, an epoch of 10,000 signed reports."""
    from fieldproof.bundle import BundleReport, build_bundle
    from fieldproof.identity import DeviceKey
    from fieldproof.rewards.tree import score_epoch
    from fieldproof.wire import Record, Report, sign_report

    rng = random.Random(11)
    keys = [DeviceKey.from_secret(0xBE7C4 + i) for i in range(SCORED_DEVICES)]
    reports = []
    for n in range(SCORED_REPORTS_EACH):
        for key in keys:
            readings = (("temp", 20 + rng.random()), ("rh", 50 + rng.random()), ("qc", 0.97))
            report = Report(
                key.device_id,
                n,
                60 * n,
                60 * n + 60,
                tuple(Record(name, value=value) for name, value in readings),
            )
            reports.append(BundleReport(key.device_id, n, sign_report(report, key)))
    owners = {key.device_id: "0x" + f"{i % 10 + 1:040x}" for i, key in enumerate(keys)}
    started = time.perf_counter()
    bundle = build_bundle(1, 0, 60 * SCORED_REPORTS_EACH, reports)
    built = time.perf_counter() - started
    started = time.perf_counter()
    score_epoch(bundle, owners, 10**21, {})
    return built, time.perf_counter() - started


def leaves(n: int, rng: random.Random) -> list[tuple[bytes, int, bytes]]:
    devices = [rng.randbytes(32) for _ in range(max(1, n // 100))]
    return [data_leaf(devices[i % len(devices)], i, rng.randbytes(300)) for i in range(n)]


def rate(
    check: Callable[[tuple[Any, ...], list[bytes]], bool],
    checks: list[tuple[tuple[Any, ...], list[bytes]]],
    seconds: float,
) -> float:
    """Proof checks per second over ``checks`` for about ``seconds``."""
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for value, proof in checks:
            if not check(value, proof):
                raise AssertionError("a proof did not verify")
        done += len(checks)
    return done / (time.perf_counter() - started)


def measure(verify_seconds: float) -> dict[str, Any]:
    rng = random.Random(7)
    w3 = connect("eth-tester://")
    sender = Sender(w3, Account.from_key(prefunded_keys(w3)[0]))
    anchor = deploy_all(sender).anchor(w3, sender)
    # The very first anchor also initialises the contract's head slot; measure steady state.
    first_gas = anchor.anchor(0, b"\x01" * 32, 1, "ipfs://" + cid_v1(b"warm-up")).gas_used

    anchor_gas: dict[str, int] = {}
    baseline_gas: dict[str, int] = {}
    proof_bytes: dict[str, int] = {}
    proof_bytes_mean: dict[str, float] = {}
    build_s: dict[str, float] = {}
    big_tree: StandardMerkleTree | None = None
    for epoch, n in enumerate(SIZES, start=1):
        values = leaves(n, rng)
        started = time.perf_counter()
        tree = StandardMerkleTree.of(values, DATA_LEAF_TYPES)
        build_s[str(n)] = round(time.perf_counter() - started, 3)
        uri = "ipfs://" + cid_v1(json.dumps(tree.dump()).encode())
        anchor_gas[str(n)] = anchor.anchor(epoch, tree.root_bytes, n, uri).gas_used
        sample = range(n) if n <= PROOF_SAMPLE else rng.sample(range(n), PROOF_SAMPLE)
        sizes = [32 * len(tree.get_proof(i)) for i in sample]
        proof_bytes[str(n)] = max(sizes)
        proof_bytes_mean[str(n)] = round(sum(sizes) / len(sizes), 1)
        big_tree = tree
    single = anchor_gas["1"]
    for n in SIZES:
        baseline_gas[str(n)] = single * n

    assert big_tree is not None
    entries = big_tree.entries()
    checks = [
        (value, [bytes.fromhex(node[2:]) for node in big_tree.get_proof(i)])
        for i, value in rng.sample(entries, PROOF_SAMPLE)
    ]
    root = big_tree.root_bytes

    def direct(value: tuple[Any, ...], proof: list[bytes]) -> bool:
        return process_proof(data_leaf_hash(*value), proof) == root

    def generic(value: tuple[Any, ...], proof: list[bytes]) -> bool:
        return StandardMerkleTree.verify_against(root, DATA_LEAF_TYPES, value, proof)

    verify_per_s = rate(direct, checks, verify_seconds)
    generic_per_s = rate(generic, checks, verify_seconds)

    bundle_s, score_s = scoring_seconds()
    return {
        "anchor_gas": anchor_gas,
        "anchor_gas_first_epoch": first_gas,
        "baseline_per_report_gas": baseline_gas,
        "gas_ratio_baseline_over_anchor": {
            str(n): round(baseline_gas[str(n)] / anchor_gas[str(n)], 1) for n in SIZES
        },
        "proof_bytes": proof_bytes,
        "proof_bytes_mean": proof_bytes_mean,
        "proof_bytes_expected": {str(n): 32 * math.ceil(math.log2(n)) for n in SIZES},
        "tree_build_s": build_s,
        "verify_per_s": round(verify_per_s),
        "verify_generic_abi_per_s": round(generic_per_s),
        "verify_tree_size": SIZES[-1],
        "bundle_10k_signed_s": round(bundle_s, 2),
        "score_10k_signed_s": round(score_s, 2),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--verify-seconds", type=float, default=2.0)
    args = parser.parse_args()
    result = measure(args.verify_seconds)
    if args.json:
        print(json.dumps(result))
        return
    for n in SIZES:
        key = str(n)
        print(
            f"{n:>7} reports: anchor {result['anchor_gas'][key]:,} gas "
            f"(one per report: {result['baseline_per_report_gas'][key]:,} gas, "
            f"{result['gas_ratio_baseline_over_anchor'][key]}x), proof "
            f"{result['proof_bytes'][key]} B max, tree built in {result['tree_build_s'][key]} s"
        )
    print(
        f"10,000 signed reports: bundle {result['bundle_10k_signed_s']} s, "
        f"reward scoring {result['score_10k_signed_s']} s"
    )
    print(
        f"proof verification: {result['verify_per_s']:,}/s "
        f"(generic ABI leaf: {result['verify_generic_abi_per_s']:,}/s; tree of {SIZES[-1]:,})"
    )


if __name__ == "__main__":
    main()
