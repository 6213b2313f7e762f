"""The network's open protocol beside the wire format: topic tree and message payload schemas."""

from fieldproof.protocol.ack import Ack, build_acks, encode_ack, parse_ack
from fieldproof.protocol.payloads import HealthPayload, StatusPayload, parse_health, parse_status
from fieldproof.protocol.topics import (
    TOPIC_ROOT,
    DeviceTopic,
    DeviceTopics,
    TopicKind,
    device_filter,
    shared_filter,
)

__all__ = [
    "TOPIC_ROOT",
    "Ack",
    "DeviceTopic",
    "DeviceTopics",
    "HealthPayload",
    "StatusPayload",
    "TopicKind",
    "build_acks",
    "device_filter",
    "encode_ack",
    "parse_ack",
    "parse_health",
    "parse_status",
    "shared_filter",
]
