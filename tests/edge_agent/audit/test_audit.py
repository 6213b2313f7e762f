"""The device's audit catches an aggregator that leaves one acknowledged report out of
its anchored epoch: real outbox and journal, real chain (anvil), and at the aggregator
side a double that anchors a real root and serves real proofs, less one report."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from edge_agent.audit.auditor import Auditor
from edge_agent.audit.journal import AckJournal
from edge_agent.outbox import Outbox
from edge_agent.outbox.config import OutboxConfig
from fieldproof.cli import main
from fieldproof.merkle import StandardMerkleTree
from fieldproof.verify import DATA_LEAF_TYPES, ReportProof, data_leaf
from fieldproof.wire import sign_report
from tests.aggregator.anchoring.chainenv import ChainEnv, make_env
from tests.aggregator.reports import new_device

DEVICE = new_device()
DROPPED = 4


class DroppingAggregator:
    """Acknowledged every report, anchored an epoch holding all but ``dropped``, and
    answers the API's epoch and proof routes as the real one does."""

    def __init__(self, env: ChainEnv, reports: dict[int, bytes], dropped: int) -> None:
        self.leaves = [data_leaf(DEVICE.device_id, s, raw) for s, raw in reports.items()]
        self.leaves = [leaf for leaf in self.leaves if leaf[1] != dropped]
        self.tree = StandardMerkleTree.of(self.leaves, DATA_LEAF_TYPES)
        self.epoch = 0
        self.end = time.time() + 120  # the epoch's window covers every ack
        env.anchor.anchor(self.epoch, self.tree.root_bytes, len(self.leaves), "ipfs://bundle")

    def epochs(self) -> list[dict[str, Any]]:
        return [{"epoch": self.epoch, "start": 0, "end": self.end, "status": "done"}]

    def proof(self, device: str, seq: int) -> dict[str, Any] | None:
        for leaf in self.leaves:
            if leaf[1] == seq:
                proof = ReportProof(
                    self.epoch,
                    self.tree.root_bytes,
                    *leaf,
                    tuple(bytes.fromhex(n[2:]) for n in self.tree.get_proof(leaf)),
                )
                return proof.to_json()
        return None


@pytest.fixture(scope="module")
def deployed(request: pytest.FixtureRequest) -> ChainEnv:
    return make_env("anvil", request)


@pytest.fixture
def env(deployed: ChainEnv) -> Iterator[ChainEnv]:
    """Each test anchors epoch 0 afresh."""
    snapshot = deployed.snapshot()
    try:
        yield deployed
    finally:
        deployed.revert(snapshot)


def test_the_audit_names_the_report_the_aggregator_left_out(
    env: ChainEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.db"))
    journal = AckJournal(outbox.connection)
    outbox.retire = journal.retire
    sent: dict[int, bytes] = {}
    for _ in range(6):
        entry = outbox.append(lambda seq: sign_report(DEVICE.report(seq), DEVICE.key))
        sent[entry.seq] = entry.data
    # The ledger's ack for 1..6 deletes them from the outbox; the journal keeps them.
    assert outbox.delete_spans([(1, 6)]) == 6
    assert outbox.is_empty()
    assert journal.pending() == 6
    aggregator = DroppingAggregator(env, sent, DROPPED)
    auditor = Auditor(DEVICE.device_id, journal, aggregator, env.anchor, skew_s=5.0)

    result = auditor.run()

    assert result.epoch == 0
    assert (result.checked, result.found) == (6, 5)
    assert list(result.missing) == [DROPPED]
    assert "no proof" in result.missing[DROPPED]
    assert auditor.status.missing == (DROPPED,)
    assert f"seq {DROPPED}" in caplog.text
    # What was found is forgotten; the missing one stays until it turns up.
    assert journal.pending() == 1
    assert journal.missing() == [DROPPED]


def test_a_proof_against_a_root_not_on_chain_is_missing(env: ChainEnv, tmp_path: Path) -> None:
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.db"))
    journal = AckJournal(outbox.connection)
    outbox.retire = journal.retire
    entry = outbox.append(lambda seq: sign_report(DEVICE.report(seq), DEVICE.key))
    outbox.delete([entry.seq])
    honest = DroppingAggregator(env, {entry.seq: entry.data}, dropped=-1)
    # A tree the chain does not hold for epoch 0: its proof checks, its root does not.
    other = StandardMerkleTree.of(
        [data_leaf(DEVICE.device_id, entry.seq, entry.data), (bytes(32), 0, bytes(32))],
        DATA_LEAF_TYPES,
    )
    honest.tree = other
    result = Auditor(DEVICE.device_id, journal, honest, env.anchor, skew_s=5.0).run()
    assert list(result.missing) == [entry.seq]
    assert "root on-chain" in result.missing[entry.seq]


def test_reports_acked_after_the_anchored_epoch_wait(env: ChainEnv, tmp_path: Path) -> None:
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.db"))
    journal = AckJournal(outbox.connection, clock=lambda: time.time() + 3600)
    outbox.retire = journal.retire
    entry = outbox.append(lambda seq: sign_report(DEVICE.report(seq), DEVICE.key))
    outbox.delete([entry.seq])
    result = Auditor(DEVICE.device_id, journal, _NoEpochs(), env.anchor, skew_s=5.0).run()
    assert (result.checked, result.missing) == (0, {})
    assert journal.pending() == 1


class _NoEpochs:
    def epochs(self) -> list[dict[str, Any]]:
        return [{"epoch": 0, "start": 0, "end": time.time(), "status": "done"}]

    def proof(self, device: str, seq: int) -> dict[str, Any] | None:
        raise AssertionError("a report not yet due is not asked for")


class _ApiDouble(ThreadingHTTPServer):
    """The aggregator double's epochs and proofs over HTTP, as the API routes answer."""

    def __init__(self, aggregator: DroppingAggregator) -> None:
        self.aggregator = aggregator
        super().__init__(("127.0.0.1", 0), _ApiHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ApiHandler(BaseHTTPRequestHandler):
    server: _ApiDouble

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].split("/")
        body: Any = None
        if path[1:3] == ["v1", "epochs"]:
            body = {"items": self.server.aggregator.epochs(), "next_offset": None}
        elif path[1:3] == ["v1", "proofs"] and len(path) == 5:
            body = self.server.aggregator.proof(path[3], int(path[4]))
        data = json.dumps(body).encode()
        self.send_response(404 if body is None else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_agent_audit_command_names_the_missing_report(
    env: ChainEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.sqlite"))
    journal = AckJournal(outbox.connection)
    outbox.retire = journal.retire
    sent: dict[int, bytes] = {}
    for _ in range(5):
        entry = outbox.append(lambda seq: sign_report(DEVICE.report(seq), DEVICE.key))
        sent[entry.seq] = entry.data
    outbox.delete_spans([(1, 5)])
    outbox.close()
    api = _ApiDouble(DroppingAggregator(env, sent, dropped=2))
    threading.Thread(target=api.serve_forever, daemon=True).start()
    env.deployment.save(tmp_path / "deployment.json")
    config = tmp_path / "agent.yaml"
    config.write_text(
        "outbox: {path: outbox.sqlite}\n"
        f"audit: {{api: '{api.url}', rpc: '{env.url}', deployment: deployment.json, "
        "skew_s: 5}\n"
    )
    try:
        code = main(["agent", "audit", "--config", str(config), "--json"])
    finally:
        api.shutdown()
        api.server_close()
    assert code == 1  # something is missing
    document = json.loads(capsys.readouterr().out)
    assert document["missing"] == [2]
    assert (document["checked"], document["found"]) == (5, 4)
    assert "no proof" in document["reasons"]["2"]
