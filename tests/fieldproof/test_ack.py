"""The ack payload: built and parsed back unchanged; a bad document names its field."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldproof.protocol import Ack, build_acks, encode_ack, parse_ack
from fieldproof.protocol.ack import MAX_RANGES, runs
from fieldproof.protocol.payloads import PayloadError


@given(st.integers(0, 10_000), st.sets(st.integers(1, 20_000), max_size=400))
def test_round_trip_covers_exactly(through: int, seqs: set[int]) -> None:
    acks = build_acks(through, seqs)
    assert all(len(ack.ranges) <= MAX_RANGES for ack in acks)
    for ack in acks:
        assert parse_ack(encode_ack(ack)) == ack
    covered = {seq for ack in acks for first, last in ack.spans() for seq in range(first, last + 1)}
    assert covered == set(range(1, through + 1)) | seqs


@given(st.sets(st.integers(1, 500)))
def test_runs_are_disjoint_and_ascending(seqs: set[int]) -> None:
    found = runs(seqs)
    assert {s for a, b in found for s in range(a, b + 1)} == seqs
    assert all(b1 + 1 < a2 for (_, b1), (a2, _) in itertools.pairwise(found))


def test_ack_with_a_gap() -> None:
    ack = build_acks(3, [5, 6, 9])[0]
    assert ack == Ack(3, ((5, 6), (9, 9)))
    assert [s for s in range(1, 11) if ack.covers(s)] == [1, 2, 3, 5, 6, 9]
    assert encode_ack(ack) == b'{"ranges":[[5,6],[9,9]],"through":3}'


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "through"),
        ({"through": -1}, "through"),
        ({"through": "3"}, "through"),
        ({"through": True}, "through"),
        ({"through": 3, "ranges": {}}, "ranges"),
        ({"through": 3, "ranges": [[5]]}, "ranges -> 0"),
        ({"through": 3, "ranges": [[5, "6"]]}, "ranges -> 0 -> 1"),
        ({"through": 3, "ranges": [[7, 6]]}, "ranges -> 0"),
        ({"through": 3, "ranges": [[2, 6]]}, "ranges -> 0"),
        ({"through": 3, "ranges": [[5, 8], [8, 9]]}, "ranges -> 1"),
        ({"through": 3, "ranges": [[i, i] for i in range(5, 200, 2)]}, "ranges"),
        ({"through": 3, "extra": 1}, "extra"),
        ([], "(document)"),
    ],
)
def test_parse_errors_name_the_field(document: object, field: str) -> None:
    with pytest.raises(PayloadError, match=f"^ack: {re.escape(field)}:"):
        parse_ack(json.dumps(document).encode())


def test_not_json() -> None:
    with pytest.raises(PayloadError, match="not JSON"):
        parse_ack(b"\xff")
