"""Publishes the chain's latest block, retained, on ``fp/v1/beacon`` for agents.

Agents sign it into their reports (wire version 2), so it must be a block this
aggregator's cache knows: it is the head the ingest's own :class:`BlockWatcher` read.
Retained, so an agent gets the latest one the moment it subscribes; throttled, because
an agent needs a recent block, not every block.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aggregator.ingest.beacon import Block
from fieldproof.protocol.beacon import BlockBeacon, encode_beacon
from fieldproof.protocol.topics import BEACON_TOPIC
from fieldproof.wire import Beacon

Publish = Callable[[str, bytes, bool], None]


class BeaconPublisher:
    """Call with each new head; publishes at most once per ``every_s``."""

    def __init__(
        self, publish: Publish, every_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.publish = publish
        self.every_s = every_s
        self.clock = clock
        self.published = 0
        self._last: float | None = None

    def __call__(self, block: Block) -> None:
        now = self.clock()
        if self._last is not None and now - self._last < self.every_s:
            return
        document = BlockBeacon(Beacon(block.number, block.block_hash), block.timestamp)
        self.publish(BEACON_TOPIC, encode_beacon(document), True)
        self._last = now
        self.published += 1
