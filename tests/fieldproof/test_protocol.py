"""The topic tree and the status/health payload schemas of the core protocol."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldproof.protocol import (
    DeviceTopic,
    DeviceTopics,
    TopicKind,
    device_filter,
    parse_health,
    parse_status,
    shared_filter,
)
from fieldproof.protocol.payloads import MAX_PAYLOAD_BYTES, PayloadError

device_ids = st.binary(min_size=32, max_size=32)


@given(device_ids, st.sampled_from(list(TopicKind)))
def test_topics_round_trip(device_id: bytes, kind: TopicKind) -> None:
    topics = DeviceTopics.for_device_id(device_id)
    name = topics.of(kind)
    assert name == f"fp/v1/0x{device_id.hex()}/{kind.value}"
    assert DeviceTopic.parse(name) == DeviceTopic("0x" + device_id.hex(), kind)
    # Upper-case hex names the same device; the kind is case-sensitive.
    upper = f"fp/v1/0x{device_id.hex().upper()}/{kind.value}"
    assert DeviceTopic.parse(upper) == DeviceTopic("0x" + device_id.hex(), kind)
    assert DeviceTopic.parse(f"fp/v1/0x{device_id.hex()}/{kind.value.upper()}") is None


@pytest.mark.parametrize(
    "topic",
    [
        "fp/v1/0x" + "ab" * 32 + "/reports",
        "fp/v2/0x" + "ab" * 32 + "/report",
        "fp/v1/" + "ab" * 32 + "/report",
        "fp/v1/0x" + "ab" * 31 + "/report",
        "fp/v1/0x" + "zz" * 32 + "/report",
        "x/fp/v1/0x" + "ab" * 32 + "/report",
        "fp/v1/0x" + "ab" * 32 + "/report/extra",
        "report",
        "",
    ],
)
def test_other_topics_are_not_device_topics(topic: str) -> None:
    assert DeviceTopic.parse(topic) is None


def test_filters() -> None:
    assert device_filter(TopicKind.REPORT) == "fp/v1/+/report"
    assert device_filter(TopicKind.CONFIG, "%u") == "fp/v1/%u/config"
    assert shared_filter("aggregators", TopicKind.HEALTH) == "$share/aggregators/fp/v1/+/health"


def test_status_schema() -> None:
    status = parse_status(
        b'{"state": "online", "at": 2.5, "session": "s1", "device": "0xab", '
        b'"started_at": 1.5, "x": 1}'
    )
    assert status.state == "online"
    assert status.started_at == 1.5
    assert (status.at, status.session) == (2.5, "s1")
    assert parse_status(b'{"state": "offline", "at": 1, "session": "s1"}').state == "offline"
    with pytest.raises(PayloadError, match="status: state"):
        parse_status(b'{"state": "sleeping", "at": 1, "session": "s1"}')
    # Without when and by which session it was signed, a status could be a replay.
    with pytest.raises(PayloadError, match="status: at: Field required"):
        parse_status(b'{"state": "online", "session": "s1"}')
    with pytest.raises(PayloadError, match="status: session"):
        parse_status(b'{"state": "online", "at": 1, "session": ""}')
    with pytest.raises(PayloadError, match="status: not JSON"):
        parse_status(b"online")
    with pytest.raises(PayloadError, match=r"status: .*dict"):
        parse_status(b"[1, 2]")


def test_health_schema() -> None:
    document = {
        "device": "0xab",
        "at": 10.0,
        "uptime_s": 3.0,
        "cameras": [{"name": "door", "fps": 9.5, "connected": True, "dropped_frames": 0}],
        "outbox_depth": 2,
    }
    health = parse_health(json.dumps(document).encode())
    assert health.cameras[0].name == "door"
    assert health.outbox_depth == 2
    with pytest.raises(PayloadError, match="health: uptime_s"):
        parse_health(json.dumps({**document, "uptime_s": -1}).encode())
    with pytest.raises(PayloadError, match="health: device"):
        parse_health(b'{"at": 1, "uptime_s": 1}')
    with pytest.raises(PayloadError, match="more than"):
        parse_health(b" " * (MAX_PAYLOAD_BYTES + 1))
