"""Token buckets: each client may spend ``burst`` requests at once, refilled at ``rate``/s."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: int
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Spend one token; return 0 when allowed, else the seconds until one is back."""
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """Buckets by client name; the least recently used are forgotten past ``max_clients``
    (a forgotten client starts with a full bucket, which only ever errs towards allowing)."""

    def __init__(
        self, *, max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_clients
        self._clock = clock

    def take(self, client: str, rate: float, burst: int) -> float:
        """0 when ``client`` may proceed, else how long to wait (seconds)."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = TokenBucket(rate, burst, float(burst), now)
                self._buckets[client] = bucket
                if len(self._buckets) > self._max:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(client)
            return bucket.take(now)
