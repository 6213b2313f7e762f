"""Deterministic CBOR (RFC 8949 §4.2.1) on top of cbor2, with strict, size-capped decoding."""

from __future__ import annotations

import math
import struct
from typing import Any

import cbor2

from fieldproof.wire.errors import MalformedError, ReportTooLargeError


def encode(value: Any) -> bytes:
    """Deterministic encoding: shortest integers and floats, definite lengths, sorted keys.

    cbor2's canonical mode sorts map keys length-first (RFC 7049); every map we write
    has single-byte keys, for which that order equals RFC 8949's bytewise order.
    """
    return bytes(cbor2.dumps(value, canonical=True))


def decode(data: bytes, *, what: str, max_size: int) -> Any:
    """Decode one CBOR item that must be deterministically encoded and fill ``data`` exactly."""
    if len(data) > max_size:
        raise ReportTooLargeError(len(data), max_size)
    try:
        value = cbor2.loads(data)
    except (
        Exception
    ) as exc:  # cbor2 raises many types (ValueError, OverflowError, ...) on hostile input
        raise MalformedError(what, f"not valid CBOR ({exc})") from exc
    try:
        canonical = encode(value)
    except Exception as exc:  # values cbor2 decodes but cannot re-encode (e.g. undefined tags)
        raise MalformedError(what, f"unsupported CBOR content ({exc})") from exc
    if canonical != data:
        raise MalformedError(what, "not deterministically encoded CBOR (RFC 8949 §4.2.1)")
    return value


# -- single deterministic items, read and written without cbor2 (the receive path) ---


def bstr_header(length: int) -> bytes:
    """The deterministic CBOR head of a byte string of ``length`` bytes (major type 2)."""
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    if length < 0x1_0000_0000:
        return b"\x5a" + length.to_bytes(4, "big")
    return b"\x5b" + length.to_bytes(8, "big")


_HALF = struct.Struct(">e")
_SINGLE = struct.Struct(">f")
_DOUBLE = struct.Struct(">d")
# The encoder (cbor2) writes no half-precision float of magnitude 2**15 or more, though
# some are exact in half precision; the deterministic form is what it writes.
_HALF_LIMIT = 32768.0


class UnexpectedItemError(Exception):
    """The bytes at this position are not the deterministic item of the kind asked for
    (readers below raise it, or IndexError/struct.error on truncated input)."""


def read_argument(data: bytes, at: int, info: int) -> tuple[int, int]:
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
        raise UnexpectedItemError
    if value < low:
        raise UnexpectedItemError
    return value, end


def read_uint(data: bytes, at: int) -> tuple[int, int]:
    head = data[at]
    if head >> 5:
        raise UnexpectedItemError
    return read_argument(data, at, head)


def read_text(data: bytes, at: int) -> tuple[str, int]:
    head = data[at]
    if head >> 5 != 3:
        raise UnexpectedItemError
    length, start = read_argument(data, at, head & 31)
    end = start + length
    try:
        return data[start:end].decode(), end
    except UnicodeDecodeError:
        raise UnexpectedItemError from None


def read_bytes(data: bytes, at: int) -> tuple[bytes, int]:
    head = data[at]
    if head >> 5 != 2:
        raise UnexpectedItemError
    length, start = read_argument(data, at, head & 31)
    return data[start : start + length], start + length


def read_float(data: bytes, at: int) -> tuple[float, int]:
    """A finite float in the width the encoder picks for it (the shortest exact one,
    half precision only below 2**15), else :class:`UnexpectedItemError` (integers,
    non-finite values, other widths)."""
    head = data[at]
    if head == 0xF9:
        value: float = _HALF.unpack_from(data, at + 1)[0]
        end = at + 3
        if abs(value) >= _HALF_LIMIT:
            raise UnexpectedItemError
    elif head == 0xFA:
        value = _SINGLE.unpack_from(data, at + 1)[0]
        end = at + 5
        if abs(value) < _HALF_LIMIT and _fits(_HALF, value):
            raise UnexpectedItemError
    elif head == 0xFB:
        value = _DOUBLE.unpack_from(data, at + 1)[0]
        end = at + 9
        if _fits(_SINGLE, value):
            raise UnexpectedItemError
    else:
        raise UnexpectedItemError
    if not math.isfinite(value):
        raise UnexpectedItemError
    return value, end


def _fits(width: struct.Struct, value: float) -> bool:
    try:
        narrowed: float = width.unpack(width.pack(value))[0]
    except OverflowError:
        return False
    return narrowed == value


def read_bool(data: bytes, at: int) -> tuple[bool, int]:
    simple = data[at]
    if simple != 0xF4 and simple != 0xF5:  # noqa: PLR1714 - two compares beat a tuple here
        raise UnexpectedItemError
    return simple == 0xF5, at + 1
