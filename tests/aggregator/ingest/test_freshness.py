"""Rules that refuse replayed or out-of-order status and health documents."""

from __future__ import annotations

from aggregator.ingest.freshness import DocumentFreshness
from aggregator.ingest.reasons import Reason
from fieldproof.protocol.payloads import HealthPayload, StatusPayload

DEVICE = b"\x01" * 32
NOW = 1_000_000.0


def _status(state: str, at: float, session: str) -> StatusPayload:
    return StatusPayload.model_validate({"state": state, "at": at, "session": session})


def _beat(at: float) -> HealthPayload:
    return HealthPayload.model_validate({"device": "0x01", "at": at, "uptime_s": 1.0})


def _rules() -> DocumentFreshness:
    return DocumentFreshness(max_age_s=600, max_future_skew_s=300)


def test_the_will_of_the_current_session_is_accepted_though_signed_earlier() -> None:
    rules = _rules()
    assert rules.check_status(DEVICE, _status("online", NOW, "b"), NOW) is None
    # Signed when the link started, before its online status; sent when it dropped.
    assert rules.check_status(DEVICE, _status("offline", NOW - 5, "b"), NOW + 3600) is None


def test_an_older_session_replayed_is_refused() -> None:
    rules = _rules()
    assert rules.check_status(DEVICE, _status("online", NOW - 100, "a"), NOW - 100) is None
    assert rules.check_status(DEVICE, _status("online", NOW, "b"), NOW) is None
    for state in ("online", "offline"):
        refused = rules.check_status(DEVICE, _status(state, NOW - 100, "a"), NOW + 1)
        assert refused is not None
        assert refused.reason is Reason.TIMESTAMP_TOO_OLD
        assert "replayed or out of order" in refused.detail


def test_an_online_status_from_the_future_is_refused() -> None:
    refused = _rules().check_status(DEVICE, _status("online", NOW + 301, "a"), NOW)
    assert refused is not None
    assert refused.reason is Reason.TIMESTAMP_FUTURE


def test_heartbeats_must_be_fresh_and_in_order() -> None:
    rules = _rules()
    assert rules.check_health(DEVICE, _beat(NOW - 10), NOW) is None
    repeated = rules.check_health(DEVICE, _beat(NOW - 10), NOW)
    assert repeated is not None
    assert repeated.reason is Reason.TIMESTAMP_TOO_OLD
    stale = rules.check_health(b"\x02" * 32, _beat(NOW - 601), NOW)
    assert stale is not None
    assert "601 s ago" in stale.detail
    ahead = rules.check_health(DEVICE, _beat(NOW + 400), NOW)
    assert ahead is not None
    assert ahead.reason is Reason.TIMESTAMP_FUTURE
    assert rules.check_health(DEVICE, _beat(NOW), NOW) is None


def test_devices_are_judged_apart() -> None:
    rules = _rules()
    assert rules.check_health(DEVICE, _beat(NOW), NOW) is None
    assert rules.check_health(b"\x02" * 32, _beat(NOW - 5), NOW) is None
