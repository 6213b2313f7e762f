"""The API's time-to-live cache."""

from __future__ import annotations

from aggregator.api.cache import TtlCache


def test_ttl_cache_reads_again_after_its_ttl() -> None:
    now = [0.0]
    reads: list[int] = []
    cache: TtlCache[str, int] = TtlCache(10.0, clock=lambda: now[0])

    def read() -> int:
        reads.append(1)
        return len(reads)

    assert cache.get("k", read) == 1
    now[0] = 9.9
    assert cache.get("k", read) == 1
    now[0] = 10.1
    assert cache.get("k", read) == 2
