"""The interface the ingest pipeline asks for a device's key and whether it may report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """One known device: its 65-byte uncompressed P-256 key and whether it is active."""

    device_id: bytes
    public_key: bytes
    active: bool


@runtime_checkable
class KeySource(Protocol):
    """Answers "who is this device?"; ``None`` means unknown. Must be cheap when cached."""

    def lookup(self, device_id: bytes) -> DeviceEntry | None: ...
