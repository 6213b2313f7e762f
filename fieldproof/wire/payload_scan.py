"""One pass over a report payload in its common shape, for the receive path.

The general decoder (:func:`fieldproof.wire.report.decode_payload`) decodes with cbor2,
re-encodes to prove the bytes are deterministic CBOR, then resolves the SenML pack:
three passes and a dictionary per reading. Every report a device sends has one shape:
the payload map's keys 1–5 and 8 (6 and 7 with a model, 9 in version 2), readings
without base fields, numbers as floats. :func:`scan_payload` reads exactly that shape,
checking each head is the shortest (RFC 8949 §4.2.1) as it goes, and returns None for
anything else, which the general decoder then accepts or refuses with its precise
error. So the scan never decides a refusal and must accept only what the general
decoder accepts (tests hold the two together).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from fieldproof.wire.cbor import (
    UnexpectedItemError,
    read_argument,
    read_bool,
    read_bytes,
    read_float,
    read_text,
    read_uint,
)
from fieldproof.wire.errors import WireError
from fieldproof.wire.report_types import (
    MAX_RECORDS,
    MAX_SEQ,
    SCHEMA_VERSION,
    Beacon,
    ModelRef,
    Report,
)
from fieldproof.wire.senml import VD, Record, checked_record

# The reader of each non-base SenML label, indexed by the label (0..8, RFC 8428 Table 4).
_READERS: tuple[Callable[[bytes, int], tuple[Any, int]], ...] = (
    read_text, read_text, read_float, read_text, read_bool, read_float, read_float,
    read_float, read_bytes,
)  # fmt: skip


def _record(data: bytes, at: int, index: int) -> tuple[Record, int]:
    head = data[at]
    if not 0xA1 <= head <= 0xB7:
        raise UnexpectedItemError
    at += 1
    previous = -1
    fields: list[Any] = [None] * 9
    for _ in range(head - 0xA0):
        label = data[at]
        # Labels 0..8 only (no base fields, no negative labels), in ascending order:
        # the deterministic key order, and no label twice.
        if label <= previous or label > VD:
            raise UnexpectedItemError
        previous = label
        fields[label], at = _READERS[label](data, at + 1)
    name, unit, value, string_value, bool_value, sum_, time, update_time, data_value = fields
    if name is None:
        raise UnexpectedItemError
    record = checked_record(
        "readings", index, name, unit, value, string_value, bool_value, data_value, time,
        sum_, update_time,
    )  # fmt: skip
    return record, at


def _expect_key(data: bytes, at: int, key: int) -> int:
    if data[at] != key:
        raise UnexpectedItemError
    return at + 1


def scan_payload(data: bytes) -> Report | None:
    """The report in ``data`` if it is in the common shape and valid, else None."""
    try:
        return _scan(data)
    except (UnexpectedItemError, IndexError, struct.error, WireError):
        # The general decoder words the refusal.
        return None


# Map heads by version: version 1 has 6 keys (8 with a model), version 2 one more.
_HEADS = {1: (0xA6, 0xA8), SCHEMA_VERSION: (0xA7, 0xA9)}


def _scan(data: bytes) -> Report:
    head = data[0]
    version, at = read_uint(data, _expect_key(data, 1, 1))
    heads = _HEADS.get(version)
    if heads is None or head not in heads:
        raise UnexpectedItemError
    # Wrong lengths (device id, model prefix) are refused by Report and ModelRef.
    device_id, at = read_bytes(data, _expect_key(data, at, 2))
    seq, at = read_uint(data, _expect_key(data, at, 3))
    start, at = read_uint(data, _expect_key(data, at, 4))
    length, at = read_uint(data, _expect_key(data, at, 5))
    if seq > MAX_SEQ or start > MAX_SEQ or length > MAX_SEQ:
        raise UnexpectedItemError
    model = None
    if head == heads[1]:
        model_id, at = read_text(data, _expect_key(data, at, 6))
        model_sha, at = read_bytes(data, _expect_key(data, at, 7))
        model = ModelRef(model_id, model_sha)
    at = _expect_key(data, at, 8)
    array = data[at]
    if array >> 5 != 4:
        raise UnexpectedItemError
    count, at = read_argument(data, at, array & 31)
    if count > MAX_RECORDS:
        raise UnexpectedItemError
    records = []
    for index in range(count):
        record, at = _record(data, at, index)
        records.append(record)
    beacon = None
    if version == SCHEMA_VERSION:
        # Key 9, then [uint, bstr 32]: array(2) is 0x82.
        at = _expect_key(data, at, 9)
        if data[at] != 0x82:
            raise UnexpectedItemError
        number, at = read_uint(data, at + 1)
        block_hash, at = read_bytes(data, at)
        if number > MAX_SEQ:
            raise UnexpectedItemError
        beacon = Beacon(number, block_hash)
    if at != len(data):
        raise UnexpectedItemError
    return Report(device_id, seq, start, start + length, tuple(records), model, beacon)
