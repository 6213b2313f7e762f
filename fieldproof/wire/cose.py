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
    """The Sig_structure for "Signature1" with empty external AAD."""
    return cbor.encode(["Signature1", protected, b"", payload])


def sign1(payload: bytes, kid: bytes, signer: Signer) -> bytes:
    """A tagged COSE_Sign1 of ``payload`` with alg ES256 and ``kid``."""
    signature = signer.sign(sig_structure(PROTECTED_ES256, payload))
    return cbor.encode(
        cbor2.CBORTag(COSE_SIGN1_TAG, [PROTECTED_ES256, {HEADER_KID: kid}, payload, signature])
    )


def parse_sign1(data: bytes, *, max_size: int) -> Sign1:
    """Decode a tagged COSE_Sign1 with alg ES256; checks structure, not the signature."""
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
