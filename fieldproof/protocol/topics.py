"""The per-device topic tree ``fp/v1/<device>/<kind>``: built and parsed here only.

``<device>`` is the device id as ``0x`` + 64 lowercase hex digits. Devices, the
aggregator and the broker's ACL writer all take their topic names from this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from fieldproof.identity import device_id_hex

TOPIC_ROOT = "fp/v1"
_DEVICE = re.compile(r"0x[0-9a-fA-F]{64}")


class TopicKind(StrEnum):
    """The last level of a device topic."""

    REPORT = "report"  # signed reports, QoS 1
    STATUS = "status"  # retained state; the last will says offline
    HEALTH = "health"  # heartbeat with health metrics
    CONFIG = "config"  # retained operator-signed config; the device only reads it
    ACK = "ack"  # what the ledger holds of the device's reports; only aggregators write it


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    """One topic of one device."""

    device: str
    kind: TopicKind

    def __str__(self) -> str:
        return f"{TOPIC_ROOT}/{self.device}/{self.kind.value}"

    @classmethod
    def parse(cls, topic: str) -> DeviceTopic | None:
        """The topic's device and kind, or None for any other shape."""
        root, sep, rest = topic.rpartition("/")
        if not sep:
            return None
        prefix, _, device = root.rpartition("/")
        if prefix != TOPIC_ROOT or _DEVICE.fullmatch(device) is None:
            return None
        try:
            return cls(device.lower(), TopicKind(rest))
        except ValueError:
            return None


def device_filter(kind: TopicKind, device: str = "+") -> str:
    """The subscription filter for ``kind`` of one device, or of every device (``+``)."""
    return f"{TOPIC_ROOT}/{device}/{kind.value}"


def shared_filter(group: str, kind: TopicKind) -> str:
    """An MQTT v5 shared subscription over every device's ``kind`` topic."""
    return f"$share/{group}/{device_filter(kind)}"


@dataclass(frozen=True, slots=True)
class DeviceTopics:
    """The topic names of one device."""

    device: str

    @classmethod
    def for_device_id(cls, device_id: bytes) -> DeviceTopics:
        return cls(device_id_hex(device_id))

    def of(self, kind: TopicKind) -> str:
        return str(DeviceTopic(self.device, kind))

    @property
    def base(self) -> str:
        return f"{TOPIC_ROOT}/{self.device}"

    @property
    def report(self) -> str:
        return self.of(TopicKind.REPORT)

    @property
    def status(self) -> str:
        return self.of(TopicKind.STATUS)

    @property
    def health(self) -> str:
        return self.of(TopicKind.HEALTH)

    @property
    def config(self) -> str:
        return self.of(TopicKind.CONFIG)

    @property
    def ack(self) -> str:
        return self.of(TopicKind.ACK)


BEACON_TOPIC = f"{TOPIC_ROOT}/beacon"
"""The chain's latest block as aggregators see it (retained; only aggregators write it)."""
