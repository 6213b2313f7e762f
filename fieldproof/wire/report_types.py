"""The report as data: its fields, limits and payload keys (see :mod:`fieldproof.wire.report`)."""

from __future__ import annotations

from dataclasses import dataclass

from fieldproof.wire.errors import MalformedError
from fieldproof.wire.senml import Record

SCHEMA_VERSION = 2
"""The version reports are written in: 2 carries a freshness beacon, 1 does not."""
SCHEMA_VERSIONS = (1, 2)
BLOCK_HASH_SIZE = 32
MAX_REPORT_SIZE = 16 * 1024
DEVICE_ID_SIZE = 32
MODEL_PREFIX_SIZE = 8
MAX_SEQ = 2**63 - 1
MAX_MODEL_ID_LENGTH = 64
MAX_RECORDS = 512

KEY_VERSION, KEY_DEVICE, KEY_SEQ, KEY_START, KEY_END = 1, 2, 3, 4, 5
KEY_MODEL_ID, KEY_MODEL_SHA, KEY_READINGS, KEY_BEACON = 6, 7, 8, 9


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
class Beacon:
    """A recent block of the chain the network anchors on: its number and hash.

    A report that carries one cannot have been signed before that block existed.
    """

    number: int
    block_hash: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.number <= MAX_SEQ:
            raise MalformedError("beacon", f"block number {self.number} is out of range")
        if len(self.block_hash) != BLOCK_HASH_SIZE:
            raise MalformedError("beacon", f"block hash must be {BLOCK_HASH_SIZE} bytes")

    def __str__(self) -> str:
        return f"block {self.number} (0x{self.block_hash.hex()})"


@dataclass(frozen=True, slots=True)
class Report:
    """One interval's readings from one device."""

    device_id: bytes
    seq: int
    start: int
    end: int
    records: tuple[Record, ...]
    model: ModelRef | None = None
    beacon: Beacon | None = None

    def __post_init__(self) -> None:
        if len(self.device_id) != DEVICE_ID_SIZE:
            raise MalformedError("device_id", f"must be {DEVICE_ID_SIZE} bytes")
        if not 0 <= self.seq <= MAX_SEQ:
            raise MalformedError("seq", f"must be in 0..2^63-1, got {self.seq}")
        if self.start < 0 or self.end < self.start:
            raise MalformedError("end", f"interval [{self.start}, {self.end}] is not ordered")
        if len(self.records) > MAX_RECORDS:
            raise MalformedError("readings", f"more than {MAX_RECORDS} records")

    @property
    def version(self) -> int:
        """The schema version the report travels in: 2 with a beacon, 1 without."""
        return SCHEMA_VERSION if self.beacon is not None else 1
