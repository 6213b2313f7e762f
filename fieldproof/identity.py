"""Device identity: ECDSA P-256 keys, encrypted key files and self-certifying device ids.

The device id is derived from the public key, so anyone holding a report and the
registered key can check one against the other:

* on-chain form: ``bytes32`` = keccak256 of the compressed SEC1 point;
* human form: the ``did:key`` of the P-256 key (multicodec ``p256-pub``, base58btc).

Signing goes through the small :class:`Signer` protocol so that a TPM, PKCS#11 token
or secure element can replace the file key without touching callers.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NewType, Protocol, runtime_checkable

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from eth_hash.auto import keccak

from fieldproof.errors import IdentityError, KeyPassphraseError

# ECDSA over SHA-256, made once: the object is immutable and built per call otherwise.
_ES256 = ec.ECDSA(hashes.SHA256())

DeviceId = NewType("DeviceId", bytes)
"""32-byte device id: keccak256 of the compressed SEC1 public key."""

PASSPHRASE_ENV = "FIELDPROOF_PASSPHRASE"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P256_MULTICODEC = bytes((0x80, 0x24))  # varint of 0x1200, multicodec "p256-pub"
SIGNATURE_SIZE = 64
UNCOMPRESSED_KEY_SIZE = 65
COMPRESSED_KEY_SIZE = 33


@runtime_checkable
class Signer(Protocol):
    """Anything that can sign as a device: a key file, a TPM, a secure element."""

    @property
    def public_key(self) -> bytes:
        """Uncompressed SEC1 public key (65 bytes, ``04 || x || y``)."""
        ...

    @property
    def device_id(self) -> DeviceId:
        """The device id derived from :attr:`public_key`."""
        ...

    def sign(self, message: bytes) -> bytes:
        """ES256 signature of ``message``: raw ``r || s`` (64 bytes), low-s normalised."""
        ...


def _load_point(public_key: bytes) -> ec.EllipticCurvePublicKey:
    if len(public_key) not in (UNCOMPRESSED_KEY_SIZE, COMPRESSED_KEY_SIZE):
        raise IdentityError(
            f"public key: expected 33 or 65 bytes of SEC1, got {len(public_key)} bytes"
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    except ValueError as exc:
        raise IdentityError(f"public key: not a point on P-256 ({exc})") from exc


def compress_public_key(public_key: bytes) -> bytes:
    """The 33-byte compressed SEC1 form of a P-256 public key given in either form."""
    return _load_point(public_key).public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )


def uncompress_public_key(public_key: bytes) -> bytes:
    """The 65-byte uncompressed SEC1 form of a P-256 public key given in either form."""
    return _load_point(public_key).public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def device_id_from_public_key(public_key: bytes) -> DeviceId:
    """keccak256 of the compressed SEC1 point: the device id as stored on-chain."""
    return DeviceId(keccak(compress_public_key(public_key)))


def did_key_from_public_key(public_key: bytes) -> str:
    """The ``did:key`` (multicodec p256-pub, base58btc) of a P-256 public key."""
    encoded = base58.b58encode(_P256_MULTICODEC + compress_public_key(public_key)).decode()
    return f"did:key:z{encoded}"


def public_key_from_did_key(did: str) -> bytes:
    """Uncompressed SEC1 public key from a P-256 ``did:key``."""
    prefix = "did:key:z"
    if not did.startswith(prefix):
        raise IdentityError(f"did: expected a base58btc did:key, got {did!r}")
    try:
        raw = base58.b58decode(did[len(prefix) :])
    except ValueError as exc:
        raise IdentityError(f"did: not base58btc ({exc})") from exc
    if raw[:2] != _P256_MULTICODEC:
        raise IdentityError("did: not a P-256 key (multicodec p256-pub expected)")
    return uncompress_public_key(raw[2:])


def device_id_hex(device_id: bytes) -> str:
    """0x-prefixed lowercase hex of a 32-byte device id."""
    return "0x" + device_id.hex()


def parse_device_id(text: str) -> DeviceId:
    """Parse a 0x-prefixed 64-hex-digit device id."""
    body = text[2:] if text.startswith(("0x", "0X")) else text
    try:
        raw = bytes.fromhex(body)
    except ValueError as exc:
        raise IdentityError(f"device id: not hex: {text!r}") from exc
    if len(raw) != 32:
        raise IdentityError(f"device id: expected 32 bytes, got {len(raw)}: {text!r}")
    return DeviceId(raw)


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Check a raw ``r || s`` ES256 signature of ``message`` under ``public_key``."""
    return PublicKeyVerifier(public_key).verify(message, signature)


class PublicKeyVerifier:
    """Verifier bound to one public key, parsed once (the hot path of ingest)."""

    __slots__ = ("_key",)

    def __init__(self, public_key: bytes) -> None:
        self._key = _load_point(public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` (raw ``r || s``) signs ``message``."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
            return False
        try:
            self._key.verify(encode_dss_signature(r, s), message, _ES256)
        except InvalidSignature:
            return False
        return True


def _raw_low_s(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    # Low-s form: on-chain verifiers (OpenZeppelin P256) refuse the malleable twin.
    if s > P256_ORDER // 2:
        s = P256_ORDER - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass(frozen=True, slots=True)
class DeviceKey:
    """A P-256 device key held in memory; implements :class:`Signer`."""

    private_key: ec.EllipticCurvePrivateKey
    # Derived once: every report signed checks the signer's device id.
    _public_key: bytes = field(init=False, repr=False, compare=False)
    _device_id: DeviceId = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        public_key = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        object.__setattr__(self, "_public_key", public_key)
        object.__setattr__(self, "_device_id", device_id_from_public_key(public_key))

    @classmethod
    def generate(cls) -> DeviceKey:
        """A fresh random key."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_secret(cls, secret: int) -> DeviceKey:
        """A key from its private scalar (tests and deterministic fixtures)."""
        return cls(ec.derive_private_key(secret, ec.SECP256R1()))

    @property
    def public_key(self) -> bytes:
        return self._public_key

    @property
    def device_id(self) -> DeviceId:
        return self._device_id

    @property
    def did(self) -> str:
        return did_key_from_public_key(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return _raw_low_s(self.private_key.sign(message, _ES256))

    def to_pem(self, passphrase: bytes | None) -> bytes:
        """PKCS#8 PEM, encrypted with ``passphrase``; plaintext only when it is None."""
        encryption: serialization.KeySerializationEncryption
        if passphrase is None:
            encryption = serialization.NoEncryption()
        else:
            if not passphrase:
                raise IdentityError("passphrase: must not be empty")
            encryption = serialization.BestAvailableEncryption(passphrase)
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @classmethod
    def from_pem(cls, pem: bytes, passphrase: bytes | None) -> DeviceKey:
        """Load a PKCS#8 PEM key; ``passphrase`` is required when it is encrypted."""
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except TypeError as exc:
            # cryptography raises TypeError for a missing or unexpected password.
            if passphrase is None:
                raise KeyPassphraseError("key file is encrypted: a passphrase is required") from exc
            raise KeyPassphraseError(
                "key file is not encrypted but a passphrase was given"
            ) from exc
        except ValueError as exc:
            if passphrase is not None and b"ENCRYPTED" in pem:
                raise KeyPassphraseError("wrong passphrase for key file") from exc
            raise IdentityError(f"key file: not a PEM private key ({exc})") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            raise IdentityError("key file: not an ECDSA P-256 key")
        return cls(key)


def passphrase_from_env_or_prompt(*, confirm: bool = False) -> bytes:
    """The key passphrase from ``FIELDPROOF_PASSPHRASE``, else asked on the terminal."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value.encode()
    first = getpass.getpass("Key passphrase: ")
    if confirm and getpass.getpass("Repeat passphrase: ") != first:
        raise IdentityError("passphrases do not match")
    if not first:
        raise IdentityError(f"passphrase: empty (set {PASSPHRASE_ENV} or type one)")
    return first.encode()


def save_key(key: DeviceKey, path: Path, passphrase: bytes | None) -> None:
    """Write ``key`` to ``path`` (mode 0600), refusing to overwrite an existing file."""
    pem = key.to_pem(passphrase)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise IdentityError(f"key file {path} already exists; refusing to overwrite") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def load_key(path: Path, passphrase: bytes | None = None) -> DeviceKey:
    """Read a key file; an encrypted one takes ``passphrase`` or the env/prompt."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise IdentityError(f"key file {path}: {exc.strerror}") from exc
    if passphrase is None and b"ENCRYPTED" in pem:
        passphrase = passphrase_from_env_or_prompt()
    return DeviceKey.from_pem(pem, passphrase)


def sha256(data: bytes) -> bytes:
    """SHA-256 digest (kept here so callers need not import hashlib for one call)."""
    return hashlib.sha256(data).digest()
