"""One pass over a report payload in its common shape, for the receive path.

The general decoder (:func:`fieldproof.wire.report.decode_payload`) decodes with cbor2,
re-encodes to prove the bytes are deterministic CBOR, then resolves the SenML pack:
three passes and a dictionary per reading. Every report a device sends has one shape:
the payload map's keys 1–5 and 8 (6 and 7 with a model), readings without base fields,
numbers as floats. :func:`scan_payload` reads exactly that shape, checking each head
is the shortest (RFC 8949 §4.2.1) as it goes, and returns None for anything else,
which the general decoder then accepts or refuses with its precise error. So the scan
never decides a refusal and must accept only what the general decoder accepts (tests
hold the two together).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from fieldproof.wire.errors import WireError
from fieldproof.wire.report_types import (
    DEVICE_ID_SIZE,
    MAX_RECORDS,
    MAX_SEQ,
    MODEL_PREFIX_SIZE,
    SCHEMA_VERSION,
    ModelRef,
    Report,
)
from fieldproof.wire.senml import VD, Record, checked_record

_HALF = struct.Struct(">e")
_SINGLE = struct.Struct(">f")
_DOUBLE = struct.Struct(">d")
# The encoder (cbor2) writes no half-precision float of magnitude 2**15 or more, though
# some are exact in half precision; the deterministic form is what it writes.
_HALF_LIMIT = 32768.0
_DEVICE_ID_HEAD = bytes((0x58, DEVICE_ID_SIZE))
_MODEL_PREFIX_HEAD = bytes((0x40 | MODEL_PREFIX_SIZE,))


class _OtherShapeError(Exception):
    """The payload is not in the common shape: leave it to the general decoder."""


def _argument(data: bytes, at: int, info: int) -> tuple[int, int]:
    """The argument of the head at ``at`` whose low five bits are ``info``, and the
    position after it; only the shortest form is accepted."""
    if info < 24:
        return info, at + 1
    if info == 24:
        value, end = data[at + 1], at + 2
        low = 24
    elif info == 25:
        value, end, low = int.from_bytes(data[at + 1 : at + 3], "big"), at + 3, 0x100
    elif info == 26:
        value, end, low = int.from_bytes(data[at + 1 : at + 5], "big"), at + 5, 0x10000
    elif info == 27:
        value, end, low = int.from_bytes(data[at + 1 : at + 9], "big"), at + 9, 1 << 32
    else:
        raise _OtherShapeError
    if value < low:
        raise _OtherShapeError
    return value, end


def _uint(data: bytes, at: int) -> tuple[int, int]:
    head = data[at]
    if head >> 5:
        raise _OtherShapeError
    return _argument(data, at, head)


def _text(data: bytes, at: int) -> tuple[str, int]:
    head = data[at]
    if head >> 5 != 3:
        raise _OtherShapeError
    length, start = _argument(data, at, head & 31)
    end = start + length
    try:
        return data[start:end].decode(), end
    except UnicodeDecodeError:
        raise _OtherShapeError from None


def _bytes(data: bytes, at: int) -> tuple[bytes, int]:
    head = data[at]
    if head >> 5 != 2:
        raise _OtherShapeError
    length, start = _argument(data, at, head & 31)
    return data[start : start + length], start + length


def read_float(data: bytes, at: int) -> tuple[float, int]:
    """A finite float in the width the encoder picks for it (the shortest exact one,
    half precision only below 2**15), else :class:`_OtherShapeError` (integers,
    non-finite values, other widths)."""
    head = data[at]
    if head == 0xF9:
        value: float = _HALF.unpack_from(data, at + 1)[0]
        end = at + 3
        if abs(value) >= _HALF_LIMIT:
            raise _OtherShapeError
    elif head == 0xFA:
        value = _SINGLE.unpack_from(data, at + 1)[0]
        end = at + 5
        if abs(value) < _HALF_LIMIT and _fits(_HALF, value):
            raise _OtherShapeError
    elif head == 0xFB:
        value = _DOUBLE.unpack_from(data, at + 1)[0]
        end = at + 9
        if _fits(_SINGLE, value):
            raise _OtherShapeError
    else:
        raise _OtherShapeError
    if not math.isfinite(value):
        raise _OtherShapeError
    return value, end


def _fits(width: struct.Struct, value: float) -> bool:
    try:
        narrowed: float = width.unpack(width.pack(value))[0]
    except OverflowError:
        return False
    return narrowed == value


def _bool(data: bytes, at: int) -> tuple[bool, int]:
    simple = data[at]
    if simple != 0xF4 and simple != 0xF5:  # noqa: PLR1714 - two compares beat a tuple here
        raise _OtherShapeError
    return simple == 0xF5, at + 1


# The reader of each non-base SenML label, indexed by the label (0..8, RFC 8428 Table 4).
_READERS: tuple[Callable[[bytes, int], tuple[Any, int]], ...] = (
    _text, _text, read_float, _text, _bool, read_float, read_float, read_float, _bytes,
)  # fmt: skip


def _record(data: bytes, at: int, index: int) -> tuple[Record, int]:
    head = data[at]
    if not 0xA1 <= head <= 0xB7:
        raise _OtherShapeError
    at += 1
    previous = -1
    fields: list[Any] = [None] * 9
    for _ in range(head - 0xA0):
        label = data[at]
        # Labels 0..8 only (no base fields, no negative labels), in ascending order:
        # the deterministic key order, and no label twice.
        if label <= previous or label > VD:
            raise _OtherShapeError
        previous = label
        fields[label], at = _READERS[label](data, at + 1)
    name, unit, value, string_value, bool_value, sum_, time, update_time, data_value = fields
    if name is None:
        raise _OtherShapeError
    record = checked_record(
        "readings", index, name, unit, value, string_value, bool_value, data_value, time,
        sum_, update_time,
    )  # fmt: skip
    return record, at


def _expect_key(data: bytes, at: int, key: int) -> int:
    if data[at] != key:
        raise _OtherShapeError
    return at + 1


def scan_payload(data: bytes) -> Report | None:
    """The report in ``data`` if it is in the common shape and valid, else None."""
    try:
        return _scan(data)
    except (_OtherShapeError, IndexError, struct.error, WireError):
        # The general decoder words the refusal.
        return None


def _scan(data: bytes) -> Report:
    head = data[0]
    if head not in (0xA6, 0xA8):
        raise _OtherShapeError
    version, at = _uint(data, _expect_key(data, 1, 1))
    if version != SCHEMA_VERSION:
        raise _OtherShapeError
    at = _expect_key(data, at, 2)
    if data[at : at + 2] != _DEVICE_ID_HEAD:
        raise _OtherShapeError
    device_id, at = data[at + 2 : at + 2 + DEVICE_ID_SIZE], at + 2 + DEVICE_ID_SIZE
    seq, at = _uint(data, _expect_key(data, at, 3))
    start, at = _uint(data, _expect_key(data, at, 4))
    length, at = _uint(data, _expect_key(data, at, 5))
    if seq > MAX_SEQ or start > MAX_SEQ or length > MAX_SEQ:
        raise _OtherShapeError
    model = None
    if head == 0xA8:
        model_id, at = _text(data, _expect_key(data, at, 6))
        at = _expect_key(data, at, 7)
        if data[at] != _MODEL_PREFIX_HEAD[0]:
            raise _OtherShapeError
        model = ModelRef(model_id, data[at + 1 : at + 1 + MODEL_PREFIX_SIZE])
        at += 1 + MODEL_PREFIX_SIZE
    at = _expect_key(data, at, 8)
    array = data[at]
    if array >> 5 != 4:
        raise _OtherShapeError
    count, at = _argument(data, at, array & 31)
    if count > MAX_RECORDS:
        raise _OtherShapeError
    records = []
    for index in range(count):
        record, at = _record(data, at, index)
        records.append(record)
    if at != len(data):
        raise _OtherShapeError
    return Report(device_id, seq, start, start + length, tuple(records), model, version)
