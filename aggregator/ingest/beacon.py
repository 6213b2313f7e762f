"""The freshness beacon check: is a report's block one of the chain's, and recent?

A version 2 report names a block (number and hash) of the chain the network anchors
on, so it was signed after that block. :class:`BlockCache` keeps the chain's recent
blocks in memory, refreshed by :class:`BlockWatcher` in its own thread, so the check on
the receive path costs a dictionary lookup: never a chain call per report. A beacon
older than the cache (a report buffered through a long outage) is looked up once per
distinct block and remembered.

:class:`BeaconCheck` turns that into a verdict, measured against the report's own
interval so buffered reports still pass: a beacon ahead of the cached head is
``beacon_future``, one whose hash is not the chain's block at that number is
``beacon_unknown``, one whose block is more than ``max_age_s`` older than the interval's
end is ``beacon_stale``. Without a beacon (version 1) a report passes only while
``allow_missing`` holds.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aggregator.ingest.reasons import Reason
from fieldproof.wire import Beacon

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Block:
    """What the check needs of one block."""

    number: int
    block_hash: bytes
    parent_hash: bytes
    timestamp: int


class BlockSource(Protocol):
    """Where blocks come from (a JSON-RPC node, the in-process chain, a test)."""

    def latest(self) -> Block: ...

    def block(self, number: int) -> Block | None: ...


class Web3Blocks:
    """:class:`BlockSource` over a web3 connection."""

    def __init__(self, w3: Any) -> None:
        self.w3 = w3

    @staticmethod
    def _block(raw: Any) -> Block:
        return Block(
            int(raw["number"]),
            bytes(raw["hash"]),
            bytes(raw["parentHash"]),
            int(raw["timestamp"]),
        )

    def latest(self) -> Block:
        return self._block(self.w3.eth.get_block("latest"))

    def block(self, number: int) -> Block | None:
        try:
            return self._block(self.w3.eth.get_block(number))
        except Exception as exc:  # web3 raises BlockNotFound, or the node's own error
            if type(exc).__name__ == "BlockNotFound":
                return None
            raise


class ChainUnavailableError(Exception):
    """The chain could not be read; the report is refused for now and resent later."""


class BlockCache:
    """The chain's most recent ``keep`` blocks, and older ones looked up on demand."""

    def __init__(
        self, source: BlockSource, *, keep: int = 2048, older: int = 4096, backfill: int = 256
    ) -> None:
        self.source = source
        self.keep = keep
        # Blocks fetched per refresh at most; what is skipped is looked up when asked.
        self.backfill = backfill
        self.older = older
        self._lock = threading.Lock()
        self._recent: dict[int, Block] = {}
        self._head: Block | None = None
        self._looked_up: OrderedDict[int, Block | None] = OrderedDict()

    @property
    def head(self) -> Block | None:
        return self._head

    def refresh(self) -> int:
        """Read the chain's head and fill in the blocks since the last refresh; returns
        how many were added. A reorganisation drops the blocks it replaced."""
        latest = self.source.latest()
        added: dict[int, Block] = {latest.number: latest}
        child = latest
        floor = max(0, latest.number - self.keep + 1)
        while child.number > floor and len(added) <= self.backfill:
            known = self._recent.get(child.number - 1)
            if known is not None and known.block_hash == child.parent_hash:
                break
            parent = self.source.block(child.number - 1)
            if parent is None:
                break
            added[parent.number] = parent
            child = parent
        with self._lock:
            recent = {n: b for n, b in self._recent.items() if floor <= n < child.number}
            recent.update(added)
            self._recent = recent
            self._head = latest
        return len(added)

    def block(self, number: int) -> Block | None:
        """The chain's block ``number`` if it exists and is not ahead of the head."""
        head = self._head
        if head is None or number > head.number:
            return None
        found = self._recent.get(number)
        if found is not None:
            return found
        with self._lock:
            if number in self._looked_up:
                self._looked_up.move_to_end(number)
                return self._looked_up[number]
        try:
            looked = self.source.block(number)
        except Exception as exc:
            raise ChainUnavailableError(f"block {number}: {exc}") from exc
        with self._lock:
            self._looked_up[number] = looked
            while len(self._looked_up) > self.older:
                self._looked_up.popitem(last=False)
        return looked


@dataclass(frozen=True, slots=True)
class BeaconPolicy:
    """What a beacon must satisfy (``ingest.beacon`` in the config)."""

    max_age_s: float = 3600.0
    allow_missing: bool = True


class BeaconCheck:
    """The verdict on one report's beacon from the cache (never a chain call for a
    recent block)."""

    def __init__(self, cache: BlockCache, policy: BeaconPolicy | None = None) -> None:
        self.cache = cache
        self.policy = policy or BeaconPolicy()

    def check(self, beacon: Beacon | None, end: int) -> tuple[Reason, str] | None:
        """None when the beacon of a report whose interval ends at ``end`` passes."""
        policy = self.policy
        if beacon is None:
            if policy.allow_missing:
                return None
            return Reason.BEACON_MISSING, "version 1 report without a beacon"
        head = self.cache.head
        if head is None:
            return Reason.CHAIN_UNAVAILABLE, "no block of the chain known yet"
        if beacon.number > head.number:
            return (
                Reason.BEACON_FUTURE,
                f"beacon block {beacon.number} is ahead of the chain's head {head.number}",
            )
        try:
            block = self.cache.block(beacon.number)
        except ChainUnavailableError as exc:
            return Reason.CHAIN_UNAVAILABLE, str(exc)[:300]
        if block is None or block.block_hash != beacon.block_hash:
            return (
                Reason.BEACON_UNKNOWN,
                f"0x{beacon.block_hash.hex()} is not block {beacon.number} of the chain",
            )
        age = end - block.timestamp
        if age > policy.max_age_s:
            return (
                Reason.BEACON_STALE,
                f"beacon block {beacon.number} is {age:.0f} s older than the interval's end "
                f"(limit {policy.max_age_s:.0f} s)",
            )
        return None


class BlockWatcher:
    """Refreshes a :class:`BlockCache` every ``interval_s`` in its own thread and tells
    ``on_head`` of each new head (the beacon publisher)."""

    def __init__(
        self,
        cache: BlockCache,
        interval_s: float,
        *,
        on_head: Callable[[Block], None] | None = None,
    ) -> None:
        self.cache = cache
        self.interval_s = interval_s
        self.on_head = on_head
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> None:
        before = self.cache.head
        try:
            self.cache.refresh()
        except Exception as exc:
            self.errors += 1
            log.warning("beacon: chain head not read (%s); keeping the cached blocks", exc)
            return
        head = self.cache.head
        if self.on_head is not None and head is not None and head != before:
            try:
                self.on_head(head)
            except Exception:
                log.exception("beacon: publishing the head failed")

    def start(self) -> None:
        self.step()  # the first head before the first report
        self._thread = threading.Thread(target=self._run, name="beacon-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.step()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
