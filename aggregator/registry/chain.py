"""Registry-backed key source: the DeviceRegistry contract, read through a TTL cache.

Each device is looked up on the chain at most once per ``cache_s`` (an unknown device
once per ``negative_cache_s``), so a flood of reports costs the node nothing; a device
deactivated on-chain is refused within ``cache_s``. When the chain cannot be reached,
the last answer keeps being served rather than locking every device out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from aggregator.registry.device_keys import DeviceEntry
from fieldproof.errors import FieldproofError


class RegistryReader(Protocol):
    """The read side of the DeviceRegistry binding that this source needs."""

    def registration_of(self, device_id: bytes) -> Any | None: ...

    def public_key_of(self, device_id: bytes) -> bytes: ...

    def is_active(self, device_id: bytes) -> bool: ...


class ChainKeySource:
    """Key source over a :class:`RegistryReader`, cached per device."""

    def __init__(
        self,
        registry: RegistryReader,
        *,
        cache_s: float = 60.0,
        negative_cache_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.cache_s = cache_s
        self.negative_cache_s = negative_cache_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[bytes, tuple[float, DeviceEntry | None]] = {}

    def _fetch(self, device_id: bytes) -> DeviceEntry | None:
        if self.registry.registration_of(device_id) is None:
            return None
        public_key = bytes(self.registry.public_key_of(device_id))
        return DeviceEntry(device_id, public_key, bool(self.registry.is_active(device_id)))

    def lookup(self, device_id: bytes) -> DeviceEntry | None:
        device_id = bytes(device_id)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(device_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            entry = self._fetch(device_id)
        except (FieldproofError, OSError, ValueError) as exc:
            if cached is not None:
                return cached[1]
            raise LookupError(f"device registry unreachable: {exc}") from exc
        ttl = self.cache_s if entry is not None else self.negative_cache_s
        with self._lock:
            self._cache[device_id] = (now + ttl, entry)
        return entry


def connect_chain_key_source(
    url: str, registry_address: str, *, cache_s: float, negative_cache_s: float
) -> ChainKeySource:
    """Bind the DeviceRegistry at ``registry_address`` on the chain at ``url``."""
    from fieldproof.chain.backends import connect
    from fieldproof.chain.bindings import DeviceRegistry

    w3 = connect(url)
    registry = DeviceRegistry(w3, registry_address)
    return ChainKeySource(registry, cache_s=cache_s, negative_cache_s=negative_cache_s)
