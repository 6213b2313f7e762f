"""End-to-end verification: every step on honest data, and each kind of forgery caught by
the step that names it. Runs against the real contracts (eth-tester in process; the command
line against anvil, since it talks to a node over HTTP)."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldproof.cli import main
from fieldproof.merkle import StandardMerkleTree, leaf_hash
from fieldproof.verify import (
    DATA_LEAF_TYPES,
    STEP_LEAF,
    STEP_REGISTERED,
    STEP_ROOT,
    STEP_SIGNATURE,
    ProofFileError,
    ReportProof,
    Step,
    all_ok,
    data_leaf,
    data_leaf_hash,
    verify,
)
from fieldproof.wire import Record, Report, decode_report, sign_report
from tests.aggregator.anchoring.chainenv import OWNER_A, ChainEnv, make_env
from tests.aggregator.anchoring.reports import KEYS

READING = 21.3  # not a half-precision value: it travels as a CBOR float32
REGISTERED = KEYS[0:3]
STRANGER = KEYS[5]


def _report(key_index: int, seq: int, start: int, value: float = READING) -> bytes:
    key = KEYS[key_index]
    report = Report(key.device_id, seq, start, start + 60, (Record("temp", value=value),))
    return sign_report(report, key)


class Anchored:
    """Two anchored epochs of reports (one by an unregistered device) and their proofs."""

    def __init__(self, env: ChainEnv) -> None:
        self.env = env
        start = max(env.register(key, OWNER_A) for key in REGISTERED) + 10
        self.raws: dict[int, list[bytes]] = {
            epoch: [_report(i, 10 * epoch + i, start + 60 * epoch) for i in (0, 1, 2, 5)]
            for epoch in (1, 2)
        }
        self.trees: dict[int, StandardMerkleTree] = {}
        for epoch, raws in self.raws.items():
            leaves = [data_leaf(_device(raw), _seq(raw), raw) for raw in raws]
            tree = StandardMerkleTree.of(leaves, DATA_LEAF_TYPES)
            env.anchor.anchor(epoch, tree.root_bytes, len(raws), "ipfs://test")
            self.trees[epoch] = tree

    def proof(self, epoch: int, index: int) -> ReportProof:
        tree = self.trees[epoch]
        device, seq, digest = tree.entries()[index][1]
        return ReportProof(
            epoch=epoch,
            root=tree.root_bytes,
            device_id=device,
            seq=seq,
            report_hash=digest,
            proof=tuple(bytes.fromhex(node[2:]) for node in tree.get_proof(index)),
        )


def _device(raw: bytes) -> bytes:
    return decode_report(raw).report.device_id


def _seq(raw: bytes) -> int:
    return decode_report(raw).report.seq


def _failed(steps: list[Step]) -> list[str]:
    return [step.name for step in steps if not step.ok]


@pytest.fixture(scope="module")
def anchored(request: pytest.FixtureRequest) -> Anchored:
    return Anchored(make_env("eth-tester", request))


def test_honest_reports_pass_every_step(anchored: Anchored) -> None:
    view = anchored.env.view()
    for epoch in (1, 2):
        for index in range(3):  # the registered devices
            steps = verify(anchored.raws[epoch][index], anchored.proof(epoch, index), view)
            assert [s.name for s in steps] == [
                STEP_SIGNATURE,
                STEP_LEAF,
                STEP_ROOT,
                STEP_REGISTERED,
            ]
            assert all_ok(steps), steps


def test_changed_reading_fails_the_signature_and_the_proof(anchored: Anchored) -> None:
    raw = anchored.raws[1][0]
    old, new = struct.pack(">f", READING), struct.pack(">f", READING + 4)
    assert raw.count(old) == 1
    forged = raw.replace(old, new)
    steps = verify(forged, anchored.proof(1, 0), anchored.env.view())
    assert _failed(steps) == [STEP_SIGNATURE, STEP_LEAF]
    assert "not signed by the key registered" in steps[0].detail
    assert "report hash differ" in steps[1].detail


def test_changed_reading_signed_again_by_the_device_fails_the_proof(anchored: Anchored) -> None:
    # The device itself cannot rewrite history either: the anchored leaf pins the bytes.
    raw = anchored.raws[1][1]
    resigned = _report(1, _seq(raw), 0, READING + 4)
    steps = verify(resigned, anchored.proof(1, 1), anchored.env.view())
    assert STEP_LEAF in _failed(steps)
    assert STEP_SIGNATURE not in _failed(steps)


def test_proof_from_another_epoch_is_caught(anchored: Anchored) -> None:
    raw = anchored.raws[1][0]
    view = anchored.env.view()
    # The path of another epoch's report does not lead from this leaf.
    other = anchored.proof(2, 0)
    assert _failed(verify(raw, other, view)) == [STEP_LEAF]
    # The right path, relabelled as another epoch: that epoch's anchored root differs.
    relabelled = replace(anchored.proof(1, 0), epoch=2)
    assert _failed(verify(raw, relabelled, view)) == [STEP_ROOT]
    # An epoch never anchored.
    unanchored = replace(relabelled, epoch=9)
    assert _failed(verify(raw, unanchored, view)) == [STEP_ROOT]


def test_report_from_an_unregistered_key_is_caught(anchored: Anchored) -> None:
    # Anchored by the aggregator, but no registered key vouches for it.
    steps = verify(anchored.raws[1][3], anchored.proof(1, 3), anchored.env.view())
    assert _failed(steps) == [STEP_SIGNATURE, STEP_REGISTERED]
    assert "no registered key" in steps[0].detail


def test_report_before_registration_is_caught(anchored: Anchored) -> None:
    early = _report(0, 999, 0)
    leaf = data_leaf(KEYS[0].device_id, 999, early)
    tree = StandardMerkleTree.of([leaf], DATA_LEAF_TYPES)
    anchored.env.anchor.anchor(50, tree.root_bytes, 1, "ipfs://early")
    proof = ReportProof(50, tree.root_bytes, *leaf, proof=())
    assert _failed(verify(early, proof, anchored.env.view())) == [STEP_REGISTERED]


def test_proof_file_round_trip_and_errors(anchored: Anchored) -> None:
    proof = anchored.proof(1, 2)
    assert ReportProof.loads(proof.dumps()) == proof
    with pytest.raises(ProofFileError, match="format"):
        ReportProof.loads("{}")
    data = proof.to_json()
    data["leaf"]["seq"] = -1
    with pytest.raises(ProofFileError, match=r"leaf -> seq"):
        ReportProof.from_json(data)


def test_command_line_on_anvil(
    request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anvil = Anchored(make_env("anvil", request))
    deployment = tmp_path / "deployment.json"
    anvil.env.deployment.save(deployment)
    report, proof = tmp_path / "report.cose", tmp_path / "proof.json"
    report.write_bytes(anvil.raws[1][0])
    proof.write_text(anvil.proof(1, 0).dumps())
    argv = ["verify", "--report", str(report), "--proof", str(proof)]
    argv += ["--rpc", anvil.env.url, "--deployment", str(deployment)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("\u2714") == 4
    assert "verified" in out
    # The same proof with another device's report: the proof step fails, named.
    report.write_bytes(anvil.raws[1][1])
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert f"\u2718 {STEP_LEAF}:" in out
    assert "NOT verified" in out
    # The in-process chain cannot be reached from another process: said plainly.
    in_process = [*argv[:-4], "--rpc", "eth-tester://", "--deployment", str(deployment)]
    assert main(in_process) == 1
    assert "in-process chain exists only inside" in capsys.readouterr().err


@given(
    st.binary(min_size=32, max_size=32),
    st.integers(0, 2**64 - 1),
    st.binary(min_size=32, max_size=32),
)
def test_direct_data_leaf_hash_equals_the_standard_leaf(
    device: bytes, seq: int, digest: bytes
) -> None:
    assert data_leaf_hash(device, seq, digest) == leaf_hash(DATA_LEAF_TYPES, (device, seq, digest))
