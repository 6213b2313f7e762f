"""The beacon document aggregators publish, retained, on ``fp/v1/beacon``::

    {"number": N, "hash": "0x…", "timestamp": T}

the latest block of the chain the network anchors on, as the publishing aggregator
read it. Agents put its number and hash into each report they sign (wire version 2);
the timestamp lets an agent tell a beacon too old to use. The topic is writable by
aggregators only, and a forged beacon could only get a device's reports refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fieldproof.protocol.payloads import PayloadError
from fieldproof.wire import Beacon

MAX_BEACON_BYTES = 512


@dataclass(frozen=True, slots=True)
class BlockBeacon:
    """A block's beacon and its timestamp (Unix seconds)."""

    beacon: Beacon
    timestamp: int


def encode_beacon(block: BlockBeacon) -> bytes:
    document = {
        "hash": "0x" + block.beacon.block_hash.hex(),
        "number": block.beacon.number,
        "timestamp": block.timestamp,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _uint(document: dict[str, Any], key: str) -> int:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(f"beacon: {key}: expected an unsigned integer, got {value!r}"[:120])
    return value


def parse_beacon(payload: bytes) -> BlockBeacon:
    """The beacon in ``payload``, else :class:`PayloadError` naming the field."""
    if len(payload) > MAX_BEACON_BYTES:
        raise PayloadError(f"beacon: {len(payload)} bytes is more than {MAX_BEACON_BYTES}")
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"beacon: not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise PayloadError("beacon: expected an object")
    text = document.get("hash")
    if not isinstance(text, str) or not text.startswith("0x"):
        raise PayloadError("beacon: hash: expected 0x-hex")
    try:
        block_hash = bytes.fromhex(text[2:])
    except ValueError as exc:
        raise PayloadError("beacon: hash: not hex") from exc
    try:
        beacon = Beacon(_uint(document, "number"), block_hash)
    except ValueError as exc:
        raise PayloadError(str(exc)) from exc
    return BlockBeacon(beacon, _uint(document, "timestamp"))
