"""Typed rows the ledger stores and returns."""

from __future__ import annotations

from dataclasses import dataclass, field


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
