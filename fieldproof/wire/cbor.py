"""Deterministic CBOR (RFC 8949 §4.2.1) on top of cbor2, with strict, size-capped decoding."""

from __future__ import annotations

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
