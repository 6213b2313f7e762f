"""The report as data: its fields, limits and payload keys (see :mod:`fieldproof.wire.report`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fieldproof.wire.errors import MalformedError
from fieldproof.wire.senml import Record

SCHEMA_VERSION = 1
MAX_REPORT_SIZE = 16 * 1024
DEVICE_ID_SIZE = 32
MODEL_PREFIX_SIZE = 8
MAX_SEQ = 2**63 - 1
MAX_MODEL_ID_LENGTH = 64
MAX_RECORDS = 512

KEY_VERSION, KEY_DEVICE, KEY_SEQ, KEY_START, KEY_END = 1, 2, 3, 4, 5
KEY_MODEL_ID, KEY_MODEL_SHA, KEY_READINGS = 6, 7, 8


@dataclass(frozen=True, slots=True)
class ModelRef:
    """The model that produced a report: its id and the first 8 bytes of its sha256."""

    model_id: str
    sha256_prefix: bytes

    def __post_init__(self) -> None:
        if not self.model_id or len(self.model_id) > MAX_MODEL_ID_LENGTH:
            raise MalformedError("model_id", f"must be 1..{MAX_MODEL_ID_LENGTH} characters")
        if len(self.sha256_prefix) != MODEL_PREFIX_SIZE:
            raise MalformedError("model_sha256", f"must be {MODEL_PREFIX_SIZE} bytes")

    @classmethod
    def from_sha256_hex(cls, model_id: str, sha256_hex: str) -> ModelRef:
        return cls(model_id, bytes.fromhex(sha256_hex)[:MODEL_PREFIX_SIZE])


@dataclass(frozen=True, slots=True)
class Report:
    """One interval's readings from one device."""

    device_id: bytes
    seq: int
    start: int
    end: int
    records: tuple[Record, ...]
    model: ModelRef | None = None
    version: int = field(default=SCHEMA_VERSION)

    def __post_init__(self) -> None:
        if len(self.device_id) != DEVICE_ID_SIZE:
            raise MalformedError("device_id", f"must be {DEVICE_ID_SIZE} bytes")
        if not 0 <= self.seq <= MAX_SEQ:
            raise MalformedError("seq", f"must be in 0..2^63-1, got {self.seq}")
        if self.start < 0 or self.end < self.start:
            raise MalformedError("end", f"interval [{self.start}, {self.end}] is not ordered")
        if self.version != SCHEMA_VERSION:
            raise MalformedError("version", f"unsupported schema version {self.version}")
        if len(self.records) > MAX_RECORDS:
            raise MalformedError("readings", f"more than {MAX_RECORDS} records")
