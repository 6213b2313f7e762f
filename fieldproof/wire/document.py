"""Signed device documents: the status and health JSON inside a COSE_Sign1 (ES256).

The payload is the JSON document itself, byte for byte; the ``kid`` is the 32-byte
device id of the key that signed it, so the receiver checks the envelope against the
device named by the topic and that device's registered key before reading the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldproof.identity import (
    DeviceId,
    PublicKeyVerifier,
    Signer,
    device_id_from_public_key,
)
from fieldproof.protocol.payloads import MAX_PAYLOAD_BYTES
from fieldproof.wire.cose import parse_sign1, sign1
from fieldproof.wire.errors import DeviceMismatchError, MalformedError, SignatureError

DEVICE_ID_SIZE = 32
MAX_DOCUMENT_SIZE = MAX_PAYLOAD_BYTES + 256
"""The largest signed document: the largest JSON payload plus the envelope."""


@dataclass(frozen=True, slots=True)
class SignedDocument:
    """A decoded document envelope; its signature is checked by :meth:`verify`."""

    device_id: DeviceId
    payload: bytes
    to_be_signed: bytes
    signature: bytes

    def verify(self, verifier: PublicKeyVerifier) -> bool:
        """True when the envelope is signed by ``verifier``'s key."""
        return verifier.verify(self.to_be_signed, self.signature)


def sign_document(document: bytes, signer: Signer) -> bytes:
    """The COSE_Sign1 of the JSON ``document`` bytes, kid = the signer's device id."""
    return sign1(document, bytes(signer.device_id), signer)


def open_document(raw: bytes, *, max_size: int = MAX_DOCUMENT_SIZE) -> SignedDocument:
    """Decode a signed document without checking its signature (:class:`WireError`)."""
    envelope = parse_sign1(raw, max_size=max_size)
    if len(envelope.kid) != DEVICE_ID_SIZE:
        raise MalformedError("cose.kid", f"expected a {DEVICE_ID_SIZE}-byte device id")
    return SignedDocument(
        DeviceId(envelope.kid), envelope.payload, envelope.to_be_signed, envelope.signature
    )


def verify_document(raw: bytes, public_key: bytes, *, max_size: int = MAX_DOCUMENT_SIZE) -> bytes:
    """The JSON payload of ``raw`` once it verifies under ``public_key``.

    Raises :class:`MalformedError` for anything that is not a signed document,
    :class:`DeviceMismatchError` when the kid is not the key's device id and
    :class:`SignatureError` when the signature does not verify.
    """
    document = open_document(raw, max_size=max_size)
    if document.device_id != device_id_from_public_key(public_key):
        raise DeviceMismatchError("document: kid is not the signing key's device id")
    if not document.verify(PublicKeyVerifier(public_key)):
        raise SignatureError("document: signature does not verify")
    return document.payload
