"""What the anchorer keeps so that a restart resumes where it stopped.

One row per closed epoch, written *before* anything is sent: the data root, report count
and bundle CID, and the reward root with the cumulative totals it commits to. Its status
moves ``closed`` → ``anchored`` → ``done`` (``empty`` for an epoch without reports). A
lease row elects the one process allowed to anchor.

The state lives in the ledger (its tables come with the ledger's migrations), so the
processes that share a ledger share the lease; :class:`AnchorState` is the part of the
ledger's interface the anchorer and the API read.
"""

from __future__ import annotations

from typing import Protocol

from aggregator.ledger.models import EpochRecord, EpochStatus

__all__ = ["AnchorState", "EpochRecord", "EpochStatus"]


class AnchorState(Protocol):
    """Closed epochs and the leader lease (implemented by the ledger)."""

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> bool: ...

    def release_lease(self, name: str, holder: str) -> None: ...

    def lease_holder(self, name: str, now: float) -> str | None: ...

    def first_epoch(self, default: int) -> int: ...

    def epoch(self, epoch: int) -> EpochRecord | None: ...

    def last_epoch(self) -> EpochRecord | None: ...

    def epochs(self) -> list[EpochRecord]: ...

    def previous_cumulative(self, before: int) -> dict[str, int]: ...

    def record_closed(self, record: EpochRecord) -> EpochRecord: ...

    def mark(self, epoch: int, status: EpochStatus, *, tx: str | None = None) -> None: ...
