"""The network's open protocol beside the wire format: topic tree and message payload schemas."""

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
    "DeviceTopic",
    "DeviceTopics",
    "HealthPayload",
    "StatusPayload",
    "TopicKind",
    "device_filter",
    "parse_health",
    "parse_status",
    "shared_filter",
]
