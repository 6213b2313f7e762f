"""The ledger: record of truth for raw signed reports, dead letters and device status."""

from aggregator.ledger.factory import open_ledger
from aggregator.ledger.models import (
    Batch,
    DeadLetter,
    DeadPoint,
    DeviceStatus,
    EpochRecord,
    EpochStatus,
    Gap,
    HealthUpdate,
    IncomingReport,
    ReportHead,
    StatusUpdate,
    StoredReport,
)
from aggregator.ledger.sql import SqlLedger

__all__ = [
    "Batch",
    "DeadLetter",
    "DeadPoint",
    "DeviceStatus",
    "EpochRecord",
    "EpochStatus",
    "Gap",
    "HealthUpdate",
    "IncomingReport",
    "ReportHead",
    "SqlLedger",
    "StatusUpdate",
    "StoredReport",
    "open_ledger",
]
