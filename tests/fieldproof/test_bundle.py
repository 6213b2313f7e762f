"""Epoch bundles: tree over reports, proofs for every report, canonical bytes and CID."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldproof.bundle import (
    BundleReport,
    build_bundle,
    decode_bundle,
    encode_bundle,
    read_bundle,
    write_bundle,
)
from fieldproof.cid import cid_v1
from fieldproof.errors import BundleError
from fieldproof.rewards.tree import score_epoch
from fieldproof.verify import DATA_LEAF_TYPES, check_leaf
from tests.aggregator.anchoring.reports import KEYS, signed
from tests.fieldproof.oz_merkle import openzeppelin_trees


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50)), min_size=1, max_size=20))
def test_every_report_proves_against_the_root(keys_and_seqs: list[tuple[int, int]]) -> None:
    reports = [signed(KEYS[k], seq, 1_000 + seq * 60) for k, seq in set(keys_and_seqs)]
    bundle = build_bundle(7, 1_000, 5_000, reversed(reports))
    assert bundle.count == len(reports)
    for report in reports:
        proof = bundle.proof(report.device_id, report.seq)
        assert proof.epoch == 7
        assert proof.root == bundle.root
        step = check_leaf(report.raw, proof)
        assert step.ok, step.detail
        assert proof.size == 32 * len(proof.proof)


def test_order_of_input_does_not_change_root_or_bytes() -> None:
    reports = [signed(KEYS[i % 3], i, 100 * i) for i in range(9)]
    one = build_bundle(1, 0, 3600, reports)
    two = build_bundle(1, 0, 3600, list(reversed(reports)))
    assert one.root == two.root
    assert encode_bundle(one) == encode_bundle(two)


def test_round_trip_and_cid(tmp_path: Path) -> None:
    reports = [signed(KEYS[0], i, 60 * i) for i in range(4)]
    bundle = build_bundle(3, 0, 3600, reports)
    data = encode_bundle(bundle, {"format": "x"})
    cid, path = write_bundle(tmp_path, data)
    assert cid == cid_v1(data)
    assert path.name == f"{cid}.json"
    read_cid, again, rewards = read_bundle(path)
    assert read_cid == cid
    assert again.root == bundle.root
    assert again.reports == bundle.reports
    assert rewards == {"format": "x"}
    # Writing the same bytes again is a no-op, not an error.
    assert write_bundle(tmp_path, data) == (cid, path)


def test_empty_epoch_has_no_tree() -> None:
    bundle = build_bundle(5, 0, 60, [])
    assert bundle.tree is None
    assert bundle.root is None
    again, _ = decode_bundle(encode_bundle(bundle))
    assert again.count == 0


def test_conflicting_reports_for_one_seq_are_refused() -> None:
    first = signed(KEYS[0], 1, 0, readings=[("temp", 20.0)])
    second = signed(KEYS[0], 1, 0, readings=[("temp", 25.0)])
    with pytest.raises(BundleError, match="two different reports"):
        build_bundle(1, 0, 60, [first, second])
    assert build_bundle(1, 0, 60, [first, first]).count == 1


def test_unknown_report_has_no_proof() -> None:
    bundle = build_bundle(1, 0, 60, [signed(KEYS[0], 1, 0)])
    with pytest.raises(BundleError, match="no report"):
        bundle.proof(KEYS[1].device_id, 1)


def test_tampered_bundle_is_detected(tmp_path: Path) -> None:
    bundle = build_bundle(1, 0, 600, [signed(KEYS[0], i, 60 * i) for i in range(3)])
    data = json.loads(encode_bundle(bundle))
    data["reports"][0]["cose"] = data["reports"][1]["cose"]
    tampered = json.dumps(data).encode()
    with pytest.raises(BundleError):
        decode_bundle(tampered)
    _, path = write_bundle(tmp_path, encode_bundle(bundle))
    path.write_bytes(encode_bundle(build_bundle(1, 0, 600, [signed(KEYS[0], 9, 0)])))
    with pytest.raises(BundleError, match="do not match the CID"):
        read_bundle(path)


def test_bundle_report_leaf_uses_report_hash() -> None:
    report = signed(KEYS[2], 4, 0)
    device, seq, digest = report.leaf
    assert (device, seq) == (KEYS[2].device_id, 4)
    assert len(digest) == 32
    assert BundleReport(device, seq, report.raw + b"x").leaf[2] != digest


def test_openzeppelin_js_library_agrees_on_bundle_and_reward_trees() -> None:
    reports = [signed(KEYS[i % 4], 2**40 + i, 60 * i) for i in range(13)]
    bundle = build_bundle(3, 0, 3600, reports)
    assert bundle.tree is not None
    owners = {KEYS[i].device_id: f"0x{i + 1:040x}" for i in range(3)}
    rewards = score_epoch(bundle, owners, 10**24, {f"0x{9:040x}": 7})
    assert rewards.tree is not None
    data_values = [
        [f"0x{d.hex()}", str(s), f"0x{h.hex()}"] for _, (d, s, h) in bundle.tree.entries()
    ]
    reward_values = [[a, str(c)] for _, (a, c) in rewards.tree.entries()]
    cases = [
        {"types": list(DATA_LEAF_TYPES), "values": data_values},
        {"types": ["address", "uint256"], "values": reward_values},
    ]
    data_ref, reward_ref = openzeppelin_trees(cases)
    assert data_ref["root"] == bundle.tree.root
    for index, report in enumerate(bundle.reports):
        proof = bundle.proof(report.device_id, report.seq)
        assert ["0x" + step.hex() for step in proof.proof] == data_ref["proofs"][index]
    assert reward_ref["root"] == rewards.tree.root
    assert [rewards.tree.get_proof(i) for i in range(len(reward_values))] == reward_ref["proofs"]
