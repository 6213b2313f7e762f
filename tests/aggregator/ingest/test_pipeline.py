"""The verification pipeline as a pure function: every step, with its reason code."""

from __future__ import annotations

import time

import pytest

from aggregator.ingest.pipeline import Accepted, Duplicate, Limits, Rejected, Verifier
from aggregator.ingest.reasons import Reason
from aggregator.registry.static import StaticKeySource
from tests.aggregator.ingest.corpus import bad_corpus
from tests.aggregator.reports import new_device

GOOD, UNKNOWN, INACTIVE = new_device(), new_device(), new_device()


def verifier() -> Verifier:
    keys = StaticKeySource([GOOD.key.public_key, INACTIVE.key.public_key])
    keys.deactivate(INACTIVE.device_id)
    return Verifier(keys, limits=Limits(max_future_skew_s=300, max_age_s=30 * 86_400))


def test_valid_report_is_accepted() -> None:
    verdict = verifier().verify(GOOD.topic, GOOD.signed(1), time.time())
    assert isinstance(verdict, Accepted)
    assert (verdict.device_id, verdict.seq, verdict.gap_after) == (GOOD.device_id, 1, None)


@pytest.mark.parametrize(
    ("name", "topic", "payload", "reason"),
    bad_corpus(GOOD, UNKNOWN, INACTIVE, seq=5),
    ids=[case[0] for case in bad_corpus(GOOD, UNKNOWN, INACTIVE, seq=5)],
)
def test_bad_input_gets_its_reason(name: str, topic: str, payload: bytes, reason: Reason) -> None:
    verdict = verifier().verify(topic, payload, time.time())
    assert isinstance(verdict, Rejected), name
    assert verdict.reason == reason, verdict.detail
    assert verdict.detail


def test_replay_is_a_duplicate_and_reuse_is_refused() -> None:
    v = verifier()
    first = GOOD.signed(3)
    assert isinstance(v.verify(GOOD.topic, first, time.time()), Accepted)
    assert v.verify(GOOD.topic, first, time.time()) == Duplicate(GOOD.device_id, 3)
    other = v.verify(GOOD.topic, GOOD.signed(3), time.time())  # new signature, same seq
    assert isinstance(other, Rejected)
    assert other.reason == Reason.SEQ_REUSED


def test_gap_is_recorded_and_late_reports_still_accepted() -> None:
    v = verifier()
    for seq in (1, 2, 6):
        verdict = v.verify(GOOD.topic, GOOD.signed(seq), time.time())
        assert isinstance(verdict, Accepted)
    assert verdict.gap_after == 2
    late = v.verify(GOOD.topic, GOOD.signed(4), time.time())
    assert isinstance(late, Accepted)
    assert late.gap_after is None


def test_order_size_before_decode_and_signature_before_topic() -> None:
    v = Verifier(StaticKeySource([GOOD.key.public_key]), limits=Limits(max_bytes=100))
    big = v.verify("nowhere", b"\xff" * 101, time.time())
    assert isinstance(big, Rejected)
    assert big.reason == Reason.TOO_LARGE
    # A forged report on the wrong topic is refused for its signature, not the topic.
    forged = bytearray(GOOD.signed(1))
    forged[-2] ^= 0xFF
    verdict = verifier().verify(UNKNOWN.topic, bytes(forged), time.time())
    assert isinstance(verdict, Rejected)
    assert verdict.reason == Reason.BAD_SIGNATURE


def test_skew_window_is_configurable() -> None:
    now = time.time()
    ahead = GOOD.signed(1, start=int(now) + 100)  # ends 160 s ahead
    strict = Verifier(StaticKeySource([GOOD.key.public_key]), limits=Limits(max_future_skew_s=60))
    verdict = strict.verify(GOOD.topic, ahead, now)
    assert isinstance(verdict, Rejected)
    assert verdict.reason == Reason.TIMESTAMP_FUTURE
    assert isinstance(verifier().verify(GOOD.topic, ahead, now), Accepted)
