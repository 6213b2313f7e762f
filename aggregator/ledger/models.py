"""Typed rows the ledger stores and returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class IncomingReport:
    """A verified report on its way into the ledger."""

    device_id: bytes
    seq: int
    received_at: float
    start: int
    end: int
    raw: bytes
    digest: bytes


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A report as stored; ``row_id`` increases in commit order (the projection cursor)."""

    row_id: int
    device_id: bytes
    seq: int
    received_at: float
    start: int
    end: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A refused message: why, when, from which topic, and its (cut) raw bytes."""

    received_at: float
    topic: str
    reason: str
    detail: str
    raw: bytes
    size: int
    device_id: bytes | None = None
    seq: int | None = None
    row_id: int | None = None


@dataclass(frozen=True, slots=True)
class DeadPoint:
    """A series point the series store refused for good, with the store's reason."""

    report_id: int
    device_id: bytes
    seq: int
    measurement: str
    line: str
    reason: str
    at: float
    row_id: int | None = None


@dataclass(frozen=True, slots=True)
class Gap:
    """Sequence numbers ``after_seq + 1 .. seq - 1`` of a device had not arrived."""

    device_id: bytes
    after_seq: int
    seq: int
    received_at: float


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """What a status topic said (``online``/``offline``) and when."""

    device_id: bytes
    state: str
    at: float


@dataclass(frozen=True, slots=True)
class HealthUpdate:
    """One heartbeat from a health topic (its payload as text, bounded)."""

    device_id: bytes
    payload: str
    at: float


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """What the aggregator knows about a device's liveness."""

    device_id: bytes
    state: str
    state_at: float | None
    last_seen: float | None
    health: str | None
    health_at: float | None


@dataclass(slots=True)
class Batch:
    """Everything one writer transaction commits."""

    reports: list[IncomingReport] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    healths: list[HealthUpdate] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.reports)
            + len(self.dead_letters)
            + len(self.gaps)
            + len(self.statuses)
            + len(self.healths)
        )


@dataclass(frozen=True, slots=True)
class ReportHead:
    """A stored report without its bytes."""

    seq: int
    start: int
    end: int
    received_at: float


class EpochStatus(StrEnum):
    """Where a closed epoch stands: ``closed`` → ``anchored`` → ``done`` (or ``empty``)."""

    CLOSED = "closed"  # root persisted, nothing known on-chain yet
    ANCHORED = "anchored"  # DataAnchor holds the root; rewards not yet published
    DONE = "done"
    EMPTY = "empty"  # no reports: nothing to anchor

    @property
    def finished(self) -> bool:
        return self in (EpochStatus.DONE, EpochStatus.EMPTY)


@dataclass(frozen=True, slots=True)
class EpochRecord:
    """One closed epoch as persisted before anything is sent."""

    epoch: int
    start: int
    end: int
    status: EpochStatus
    count: int
    root: bytes | None
    cid: str | None
    reward_root: bytes | None
    total_cumulative: int | None
    cumulative: Mapping[str, int] | None
    anchor_tx: str | None = None
    reward_tx: str | None = None
