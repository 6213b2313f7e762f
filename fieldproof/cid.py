"""IPFS content identifiers (CIDv1) computed locally, without an IPFS node.

A CIDv1 for a blob stored as one raw block: version 1, codec ``raw`` (0x55), a
sha2-256 multihash, written in base32 lower-case multibase (prefix ``b``). This is what
``ipfs add --cid-version 1 --raw-leaves`` prints for a file that fits one block, so a
bundle published to IPFS later keeps the identifier anchored on-chain.
"""

from __future__ import annotations

import base64
import hashlib

from fieldproof.errors import FieldproofError

CID_VERSION = 1
RAW_CODEC = 0x55
SHA2_256 = 0x12
SHA2_256_SIZE = 32
BASE32_PREFIX = "b"


class CidError(FieldproofError, ValueError):
    """A string is not a CIDv1 of the kind this module makes."""


def varint(value: int) -> bytes:
    """Unsigned LEB128, as multiformats' ``unsigned-varint`` (CIDs and CAR sections)."""
    if value < 0:
        raise ValueError("varint: negative value")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


_PREFIX = varint(CID_VERSION) + varint(RAW_CODEC) + varint(SHA2_256) + varint(SHA2_256_SIZE)


def cid_bytes(data: bytes) -> bytes:
    """The binary CIDv1 (raw codec, sha2-256) of ``data``."""
    return _PREFIX + hashlib.sha256(data).digest()


def cid_v1(data: bytes) -> str:
    """The CIDv1 of ``data`` as text: ``b`` + RFC 4648 base32, lower case, no padding."""
    encoded = base64.b32encode(cid_bytes(data)).decode("ascii").lower().rstrip("=")
    return BASE32_PREFIX + encoded


def digest_of(cid: str) -> bytes:
    """The sha2-256 digest inside a raw CIDv1 string; raises :class:`CidError` otherwise."""
    if not cid.startswith(BASE32_PREFIX):
        raise CidError(f"CID {cid!r}: expected base32 multibase prefix 'b'")
    body = cid[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise CidError(f"CID {cid!r}: not base32") from exc
    if not raw.startswith(_PREFIX) or len(raw) != len(_PREFIX) + SHA2_256_SIZE:
        raise CidError(f"CID {cid!r}: not a CIDv1 with raw codec and sha2-256 multihash")
    return raw[len(_PREFIX) :]


def matches(cid: str, data: bytes) -> bool:
    """Whether ``cid`` identifies exactly ``data``."""
    return digest_of(cid) == hashlib.sha256(data).digest()
