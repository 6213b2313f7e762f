"""The per-device topic tree ``fp/v1/<device>/…`` (device = 0x-hex device id)."""

from __future__ import annotations

from dataclasses import dataclass

from fieldproof.identity import device_id_hex

TOPIC_ROOT = "fp/v1"


@dataclass(frozen=True, slots=True)
class DeviceTopics:
    """Topic names of one device."""

    device: str

    @classmethod
    def for_device_id(cls, device_id: bytes) -> DeviceTopics:
        return cls(device_id_hex(device_id))

    @property
    def base(self) -> str:
        return f"{TOPIC_ROOT}/{self.device}"

    @property
    def report(self) -> str:
        """Signed reports, QoS 1."""
        return f"{self.base}/report"

    @property
    def status(self) -> str:
        """Retained state (``online``/``offline`` + update outcomes); the last will."""
        return f"{self.base}/status"

    @property
    def health(self) -> str:
        """Heartbeat with health metrics."""
        return f"{self.base}/health"

    @property
    def config(self) -> str:
        """Retained operator-signed remote config (the device only reads it)."""
        return f"{self.base}/config"
