"""End-to-end acknowledgements: after each commit, tell each device what the ledger holds.

The broker's PUBACK only says the broker has a report; a device deletes a report from
its outbox when an ack on ``fp/v1/<device>/ack`` covers its seq (see
:mod:`fieldproof.protocol.ack`). Acks are published with QoS 1 and not retained: each
answers a delivery, a device whose ack was lost sends the report again and gets a new
one, and a retained ack would be one more stored message per device on the broker that
a fresh subscription replays for nothing.

``through`` comes from the ledger, never from this process's memory alone: the cache
below only holds values the ledger proved (reports are never deleted, so they stay
true), and any gap above it is looked up again, because another aggregator on the
same ledger may have committed the missing seqs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from aggregator.ledger.sql import SqlLedger
from fieldproof.identity import device_id_hex
from fieldproof.protocol import DeviceTopics, build_acks, encode_ack

log = logging.getLogger(__name__)

PublishFn = Callable[[str, bytes], None]


class LedgerAcks:
    """Publishes one ack per device of a committed batch (more only past the range cap)."""

    def __init__(
        self,
        ledger: SqlLedger,
        publish: PublishFn,
        *,
        walk_limit: int = 5000,
        max_devices: int = 100_000,
    ) -> None:
        self.ledger = ledger
        self.publish = publish
        self.walk_limit = walk_limit
        self.max_devices = max_devices
        self._through: dict[bytes, int] = {}
        self.published = 0

    def through(self, device_id: bytes, seqs: Iterable[int]) -> int:
        """Highest N with seqs ``1..N`` of the device committed, given the just committed
        ``seqs`` (a query only where they do not continue what is already known)."""
        known = self._through.get(device_id, 0)
        pending = False
        for seq in sorted(set(seqs)):
            if seq == known + 1:
                known = seq
            elif seq > known:
                pending = True
        if pending or device_id not in self._through:
            known = max(
                known, self.ledger.contiguous_through(device_id, known, limit=self.walk_limit)
            )
        if len(self._through) >= self.max_devices and device_id not in self._through:
            self._through.clear()  # a cache of ledger facts: dropping it costs queries only
        self._through[device_id] = known
        return known

    def after_commit(self, committed: Mapping[bytes, Iterable[int]]) -> None:
        """Publish the acks of ``committed`` (device -> seqs now in the ledger)."""
        for device_id, device_seqs in committed.items():
            seqs = list(device_seqs)
            try:
                through = self.through(device_id, seqs)
                topic = DeviceTopics(device_id_hex(device_id)).ack
                for ack in build_acks(through, seqs):
                    self.publish(topic, encode_ack(ack))
                    self.published += 1
            except Exception:
                # The reports are committed; the device sends them again and gets its ack
                # then, so a failed ack costs a resend, never data.
                log.exception("ack for device 0x%s failed", device_id.hex())
