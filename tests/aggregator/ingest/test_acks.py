"""Acks state what the ledger holds, also when another aggregator committed the rest."""

from __future__ import annotations

from pathlib import Path

from aggregator.ingest.acks import LedgerAcks
from aggregator.ledger import Batch, IncomingReport, SqlLedger, open_ledger
from fieldproof.protocol import Ack, parse_ack

DEVICE = bytes(range(32))
TOPIC = "fp/v1/0x" + DEVICE.hex() + "/ack"


def _commit(ledger: SqlLedger, *seqs: int) -> dict[bytes, list[int]]:
    reports = [IncomingReport(DEVICE, s, 1.0, 0, 60, b"r%d" % s, b"d%d" % s) for s in seqs]
    ledger.write_batch(Batch(reports=reports))
    return {DEVICE: list(seqs)}


def test_acks_follow_the_shared_ledger(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    sent_a: list[tuple[str, bytes]] = []
    sent_b: list[tuple[str, bytes]] = []
    a = LedgerAcks(ledger, lambda t, p: sent_a.append((t, p)))
    b = LedgerAcks(ledger, lambda t, p: sent_b.append((t, p)))

    a.after_commit(_commit(ledger, 1, 2, 3, 6, 7))
    assert [t for t, _ in sent_a] == [TOPIC]
    assert parse_ack(sent_a[-1][1]) == Ack(3, ((6, 7),))
    # Another aggregator on the same ledger commits the gap: A learns it from the ledger.
    b.after_commit(_commit(ledger, 4, 5))
    assert parse_ack(sent_b[-1][1]) == Ack(7)
    a.after_commit(_commit(ledger, 8, 10))
    assert parse_ack(sent_a[-1][1]) == Ack(8, ((10, 10),))
    # A redelivery (duplicate) is acknowledged again.
    a.after_commit({DEVICE: [2]})
    assert parse_ack(sent_a[-1][1]) == Ack(8)


def test_through_seeded_from_the_ledger_in_bounded_walks(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    _commit(ledger, *range(1, 101))
    assert ledger.contiguous_through(DEVICE) == 100  # one count answers a gapless device
    _commit(ledger, *range(102, 131))
    assert ledger.contiguous_through(DEVICE) == 100
    assert ledger.contiguous_through(DEVICE, 0, limit=30) == 30
    assert ledger.contiguous_through(DEVICE, 30, limit=30) == 60
    assert ledger.contiguous_through(b"\x01" * 32) == 0
    sent: list[tuple[str, bytes]] = []
    LedgerAcks(ledger, lambda t, p: sent.append((t, p))).after_commit({DEVICE: [130]})
    assert parse_ack(sent[-1][1]) == Ack(100, ((130, 130),))
