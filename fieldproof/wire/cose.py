"""COSE_Sign1 (RFC 9052 §4.2) with ES256, the envelope of every report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from fieldproof.identity import Signer
from fieldproof.wire import cbor
from fieldproof.wire.errors import MalformedError

COSE_SIGN1_TAG = 18
HEADER_ALG = 1
HEADER_KID = 4
ALG_ES256 = -7
SIGNATURE_SIZE = 64
PROTECTED_ES256 = cbor.encode({HEADER_ALG: ALG_ES256})
_TEXT_SIGNATURE1 = cbor.encode("Signature1")
_EMPTY_BSTR = cbor.encode(b"")
# The deterministic encoding of everything up to the kid's length: tag 18, array(4),
# the protected header as a byte string, the unprotected map {4: ...}.
_ENVELOPE_PREFIX = b"\xd2\x84" + cbor.encode(PROTECTED_ES256) + b"\xa1\x04"
_SIGNATURE_HEADER = b"\x58\x40"


@dataclass(frozen=True, slots=True)
class Sign1:
    """A decoded COSE_Sign1 whose signature has not been checked yet."""

    protected: bytes
    kid: bytes
    payload: bytes
    signature: bytes

    @property
    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected, self.payload)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The Sig_structure for "Signature1" with empty external AAD.

    Concatenated rather than encoded: it is built for every report received.
    """
    return b"".join(
        (b"\x84", _TEXT_SIGNATURE1, cbor.bstr_header(len(protected)), protected, _EMPTY_BSTR,
         cbor.bstr_header(len(payload)), payload)
    )  # fmt: skip


def _parse_canonical_sign1(data: bytes) -> Sign1 | None:
    """The common case without a CBOR round trip: the one deterministic encoding of a
    COSE_Sign1 with {alg: ES256}, {kid} and a 64-byte signature. None for anything else,
    which :func:`parse_sign1` then decodes in full to say what is wrong."""
    prefix = len(_ENVELOPE_PREFIX)
    if data[:prefix] != _ENVELOPE_PREFIX:
        return None
    try:
        kid, at = cbor.read_bytes(data, prefix)
        payload, at = cbor.read_bytes(data, at)
    except (cbor.UnexpectedItemError, IndexError):
        return None
    signature_at = at + len(_SIGNATURE_HEADER)
    if data[at:signature_at] != _SIGNATURE_HEADER or len(data) != signature_at + SIGNATURE_SIZE:
        return None
    return Sign1(PROTECTED_ES256, kid, payload, data[signature_at:])


def sign1(payload: bytes, kid: bytes, signer: Signer) -> bytes:
    """A tagged COSE_Sign1 of ``payload`` with alg ES256 and ``kid``."""
    signature = signer.sign(sig_structure(PROTECTED_ES256, payload))
    return cbor.encode(
        cbor2.CBORTag(COSE_SIGN1_TAG, [PROTECTED_ES256, {HEADER_KID: kid}, payload, signature])
    )


def parse_sign1(data: bytes, *, max_size: int) -> Sign1:
    """Decode a tagged COSE_Sign1 with alg ES256; checks structure, not the signature."""
    if len(data) <= max_size:
        fast = _parse_canonical_sign1(data)
        if fast is not None:
            return fast
    return _parse_sign1_in_full(data, max_size=max_size)


def _parse_sign1_in_full(data: bytes, *, max_size: int) -> Sign1:
    item = cbor.decode(data, what="cose", max_size=max_size)
    if not isinstance(item, cbor2.CBORTag) or item.tag != COSE_SIGN1_TAG:
        raise MalformedError("cose", "expected a tagged COSE_Sign1 (tag 18)")
    body: Any = item.value
    if not isinstance(body, list | tuple) or len(body) != 4:
        raise MalformedError("cose", "COSE_Sign1 must be an array of 4 items")
    protected, unprotected, payload, signature = body
    if not isinstance(protected, bytes):
        raise MalformedError("cose.protected", "expected a byte string")
    if protected != PROTECTED_ES256:
        raise MalformedError("cose.protected", "expected exactly {alg: ES256}")
    if not isinstance(unprotected, Mapping) or set(unprotected) != {HEADER_KID}:
        raise MalformedError("cose.unprotected", "expected exactly {kid}")
    kid = unprotected[HEADER_KID]
    if not isinstance(kid, bytes):
        raise MalformedError("cose.kid", "expected a byte string")
    if not isinstance(payload, bytes):
        raise MalformedError("cose.payload", "expected an attached byte-string payload")
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise MalformedError("cose.signature", "expected 64 bytes (ES256 r || s)")
    return Sign1(protected, kid, payload, signature)
