"""Outbox policy: seq allocation, persistence across reopen, cap, acknowledged deletes."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.outbox import Outbox, OutboxConfig


def _payload(seq: int, size: int = 100) -> bytes:
    return seq.to_bytes(8, "big") + b"x" * (size - 8)


def _sized(seq: int, size: int) -> bytes:
    return _payload(seq, size)


def test_seq_survives_reopen_and_never_repeats(tmp_path: Path) -> None:
    config = OutboxConfig(path=tmp_path / "o.sqlite")
    first = Outbox(config)
    seqs = [first.append(_payload).seq for _ in range(5)]
    first.delete(seqs)  # all acknowledged: the table is empty, the counter is not
    first.close()
    second = Outbox(config)
    assert second.stats().depth == 0
    assert second.append(_payload).seq == 6


def test_build_failure_does_not_consume_a_seq(tmp_path: Path) -> None:
    outbox = Outbox(OutboxConfig(path=tmp_path / "o.sqlite"))

    def broken(seq: int) -> bytes:
        raise RuntimeError("signer unavailable")

    with pytest.raises(RuntimeError):
        outbox.append(broken)
    assert outbox.append(_payload).seq == 1
    assert outbox.stats().depth == 1


def test_pending_is_oldest_first_after_cursor(tmp_path: Path) -> None:
    outbox = Outbox(OutboxConfig(path=tmp_path / "o.sqlite"))
    for _ in range(10):
        outbox.append(_payload)
    assert [e.seq for e in outbox.pending(0, 3)] == [1, 2, 3]
    assert [e.seq for e in outbox.pending(7, 10)] == [8, 9, 10]
    outbox.delete([8])
    assert [e.seq for e in outbox.pending(7, 10)] == [9, 10]


def test_cap_drops_oldest_and_counts(tmp_path: Path) -> None:
    outbox = Outbox(OutboxConfig(path=tmp_path / "o.sqlite", max_bytes=1024, max_reports=100))
    for _ in range(25):
        outbox.append(lambda seq: _payload(seq, 100))
    stats = outbox.stats()
    assert stats.bytes <= 1024
    assert stats.depth == 10
    assert stats.dropped == 15
    assert [e.seq for e in outbox.pending(0, 100)] == list(range(16, 26))


def test_cap_by_count(tmp_path: Path) -> None:
    outbox = Outbox(OutboxConfig(path=tmp_path / "o.sqlite", max_reports=3))
    for _ in range(5):
        outbox.append(_payload)
    assert [e.seq for e in outbox.pending(0, 10)] == [3, 4, 5]
    assert outbox.stats().dropped == 2


def test_delete_counts_only_present_rows(tmp_path: Path) -> None:
    outbox = Outbox(OutboxConfig(path=tmp_path / "o.sqlite"))
    for _ in range(3):
        outbox.append(_payload)
    assert outbox.delete([1, 2, 99]) == 2
    assert outbox.delete([1]) == 0
    assert outbox.stats().depth == 1
    assert outbox.stats().bytes == 100


def test_acknowledged_counts_deletes_not_drops_across_handles(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    writer = Outbox(OutboxConfig(path=path, max_reports=4))
    for _ in range(6):
        writer.append(_payload)
    writer.delete([3, 4])
    # A second handle on the same file (another process, say) sees the same counters.
    stats = Outbox(OutboxConfig(path=path)).stats()
    assert (stats.next_seq, stats.depth, stats.dropped) == (7, 2, 2)
    assert stats.acknowledged == 2


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 400)), min_size=1, max_size=40))
def test_counters_match_rows(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[bool, int]]
) -> None:
    path = tmp_path_factory.mktemp("ob") / "o.sqlite"
    outbox = Outbox(OutboxConfig(path=path, max_bytes=2048, max_reports=8))
    appended = 0
    for is_append, size in ops:
        if is_append:
            outbox.append(functools.partial(_sized, size=max(size, 8)))
            appended += 1
        else:
            outbox.delete([e.seq for e in outbox.pending(0, 2)])
    rows = outbox.pending(0, 10_000)
    stats = outbox.stats()
    assert stats.depth == len(rows)
    assert stats.bytes == sum(len(e.data) for e in rows)
    assert stats.next_seq == appended + 1
    assert stats.depth <= 8
    assert stats.bytes <= 2048 or stats.depth == 1
