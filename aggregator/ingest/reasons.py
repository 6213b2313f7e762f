"""Why a message was refused: one code per pipeline step, stored with every dead letter."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Rejection reason codes, in pipeline order."""

    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    UNSIGNED = "unsigned"
    DEVICE_MISMATCH = "device_mismatch"
    UNKNOWN_DEVICE = "unknown_device"
    INACTIVE_DEVICE = "inactive_device"
    REGISTRY_UNAVAILABLE = "registry_unavailable"
    BAD_SIGNATURE = "bad_signature"
    WRONG_TOPIC = "wrong_topic"
    SEQ_REUSED = "seq_reused"
    BEACON_MISSING = "beacon_missing"
    BEACON_FUTURE = "beacon_future"
    BEACON_UNKNOWN = "beacon_unknown"
    BEACON_STALE = "beacon_stale"
    CHAIN_UNAVAILABLE = "chain_unavailable"
    TIMESTAMP_FUTURE = "timestamp_future"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    UNIT_MISMATCH = "unit_mismatch"
    OUT_OF_RANGE = "out_of_range"
    WRONG_TYPE = "wrong_type"


WIRE_REASONS: dict[str, Reason] = {
    "too_large": Reason.TOO_LARGE,
    "malformed": Reason.MALFORMED,
    "bad_signature": Reason.BAD_SIGNATURE,
    "device_mismatch": Reason.DEVICE_MISMATCH,
}
