"""A key source held in memory: for the embedded aggregator and the demo."""

from __future__ import annotations

import threading

from aggregator.registry.device_keys import DeviceEntry
from fieldproof.identity import device_id_from_public_key, uncompress_public_key


class StaticKeySource:
    """Devices added at run time with :meth:`add`; :meth:`deactivate` refuses one."""

    def __init__(self, public_keys: list[bytes] | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[bytes, DeviceEntry] = {}
        for key in public_keys or []:
            self.add(key)

    def add(self, public_key: bytes, *, active: bool = True) -> bytes:
        """Register a key; returns its device id."""
        key = uncompress_public_key(public_key)
        device_id = bytes(device_id_from_public_key(key))
        with self._lock:
            self._entries[device_id] = DeviceEntry(device_id, key, active)
        return device_id

    def deactivate(self, device_id: bytes) -> None:
        with self._lock:
            entry = self._entries[bytes(device_id)]
            self._entries[entry.device_id] = DeviceEntry(entry.device_id, entry.public_key, False)

    def lookup(self, device_id: bytes) -> DeviceEntry | None:
        return self._entries.get(bytes(device_id))
