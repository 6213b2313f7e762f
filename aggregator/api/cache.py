"""A small time-to-live cache for values that are costly to read and may lag a little."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Each value is read again ``ttl_s`` seconds after it was read; at most ``size`` kept."""

    def __init__(
        self, ttl_s: float, *, size: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[K, tuple[float, V]] = {}

    def get(self, key: K, read: Callable[[], V]) -> V:
        now = self._clock()
        with self._lock:
            found = self._values.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = read()
        with self._lock:
            if len(self._values) >= self.size:
                self._values.clear()  # rare; simpler than LRU bookkeeping and still bounded
            self._values[key] = (now + self.ttl_s, value)
        return value
