"""Hostile input at volume: the hand-made corpus plus ≥ 10,000 generated payloads go
through the pipeline and writer into a real SQLite ledger, interleaved with valid reports.
No crash, every refusal has a known reason, every valid report is stored once."""

from __future__ import annotations

import itertools
import queue
import time
from pathlib import Path

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.ingest.consumer import Message
from aggregator.ingest.pipeline import Verifier
from aggregator.ingest.reasons import Reason
from aggregator.ingest.writer import BatchBuilder, IngestWriter
from aggregator.ledger import open_ledger
from aggregator.metrics import IngestMetrics
from aggregator.registry.static import StaticKeySource
from tests.aggregator.ingest.corpus import bad_corpus, payload_of, resign
from tests.aggregator.reports import new_device

GOOD, UNKNOWN, INACTIVE = new_device(), new_device(), new_device()
PER_EXAMPLE = 40
EXAMPLES = 260  # 260 x 40 = 10,400 generated payloads
TEMPLATE = GOOD.signed(1)

cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.binary(max_size=40)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.integers(-8, 10) | st.text(max_size=3), children, max_size=5)
    ),
    max_leaves=12,
)


@st.composite
def hostile(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        payload = draw(st.binary(max_size=300))
    elif kind == 1:
        payload = cbor2.dumps(draw(cbor_values))
    elif kind == 2:  # a valid report, mutated
        data = bytearray(TEMPLATE)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        payload = bytes(data[: draw(st.integers(0, len(data)))])
    elif kind == 3:  # correctly signed, arbitrary content in the payload fields
        fields = payload_of(GOOD, 1)
        key = draw(st.sampled_from(sorted(fields)))
        fields[key] = draw(cbor_values)
        payload = resign(GOOD, fields)
    else:  # correctly signed, arbitrary readings
        fields = payload_of(GOOD, 1)
        fields[8] = draw(
            st.lists(
                st.dictionaries(st.integers(-6, 8), cbor_values, min_size=1, max_size=4),
                max_size=3,
            )
        )
        payload = resign(GOOD, fields)
    topic = draw(st.sampled_from([GOOD.topic, UNKNOWN.topic, "fp/v1/zz/report"]))
    return topic, payload


def test_hostile_stream_never_stops_the_ingest(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    keys = StaticKeySource([GOOD.key.public_key, INACTIVE.key.public_key])
    keys.deactivate(INACTIVE.device_id)
    metrics = IngestMetrics()
    builder = BatchBuilder(Verifier(keys), metrics, dead_letter_bytes=4096)
    writer = IngestWriter(
        queue.Queue(), ledger, builder, lambda messages: None, metrics, batch_size=500, batch_ms=5
    )
    valid_device = new_device()
    keys.add(valid_device.key.public_key)
    seqs = itertools.count(1)
    mids = itertools.count(1)
    sent_valid: list[int] = []
    hostile_count = 0

    def message(topic: str, payload: bytes) -> Message:
        return Message(topic, payload, next(mids), 1, time.time(), 0)

    def valid() -> Message:
        seq = next(seqs)
        sent_valid.append(seq)
        return message(valid_device.topic, valid_device.signed(seq))

    corpus = bad_corpus(GOOD, UNKNOWN, INACTIVE, seq=2)
    batch = []
    for _name, topic, payload, _reason in corpus:
        batch += [message(topic, payload), valid()]
    writer.process(batch)
    assert ledger.dead_letter_counts() == {
        reason: sum(1 for case in corpus if case[3] == reason) for reason in {c[3] for c in corpus}
    }

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(hostile(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def run(items: list[tuple[str, bytes]]) -> None:
        nonlocal hostile_count
        messages = []
        for topic, payload in items:
            messages += [message(topic, payload), valid()]
        hostile_count += len(items)
        writer.process(messages)

    run()
    assert hostile_count >= 10_000
    stored = ledger.reports_after(0, limit=1_000_000)
    valid_rows = [r for r in stored if r.device_id == valid_device.device_id]
    assert sorted(r.seq for r in valid_rows) == sent_valid
    # Only the valid device (and the good device's own valid template, if a mutation
    # happened to leave it whole) may have stored reports.
    assert {r.device_id for r in stored} <= {valid_device.device_id, GOOD.device_id}
    letters = ledger.dead_letters(limit=1_000_000)
    known = {reason.value for reason in Reason}
    assert letters
    assert all(letter.reason in known and letter.detail for letter in letters)
    snapshot = metrics.snapshot()
    assert snapshot["processed"] == snapshot["received"]
    assert snapshot["received"] == (
        snapshot["accepted"] + snapshot["duplicates"] + snapshot["rejected"]
    )
