"""Device identity: key files, device ids, did:key and signatures."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from fieldproof.errors import IdentityError, KeyPassphraseError
from fieldproof.identity import (
    P256_ORDER,
    DeviceKey,
    Signer,
    compress_public_key,
    device_id_from_public_key,
    did_key_from_public_key,
    load_key,
    parse_device_id,
    public_key_from_did_key,
    save_key,
    verify_signature,
)


def test_device_id_is_keccak_of_compressed_point() -> None:
    key = DeviceKey.generate()
    point = key.public_key
    prefix = b"\x03" if point[-1] & 1 else b"\x02"
    assert compress_public_key(point) == prefix + point[1:33]
    assert key.device_id == keccak(prefix + point[1:33])
    assert device_id_from_public_key(compress_public_key(point)) == key.device_id


def test_did_key_round_trip_and_prefix() -> None:
    key = DeviceKey.generate()
    did = did_key_from_public_key(key.public_key)
    # P-256 did:keys start with "zDn" (multicodec 0x1200, base58btc).
    assert did.startswith("did:key:zDn")
    assert public_key_from_did_key(did) == key.public_key


def test_key_file_is_encrypted_and_private(tmp_path: Path) -> None:
    key = DeviceKey.generate()
    path = tmp_path / "device.key"
    save_key(key, path, b"correct horse")
    text = path.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path, b"correct horse").device_id == key.device_id
    with pytest.raises(KeyPassphraseError):
        load_key(path, b"wrong")


def test_passphrase_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = DeviceKey.generate()
    path = tmp_path / "device.key"
    save_key(key, path, b"from-env")
    monkeypatch.setenv("FIELDPROOF_PASSPHRASE", "from-env")
    assert load_key(path).device_id == key.device_id


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    save_key(DeviceKey.generate(), path, None)
    with pytest.raises(IdentityError, match="already exists"):
        save_key(DeviceKey.generate(), path, None)


def test_signatures_are_low_s_and_verify() -> None:
    key = DeviceKey.generate()
    for i in range(50):
        message = f"message {i}".encode()
        signature = key.sign(message)
        assert int.from_bytes(signature[32:], "big") <= P256_ORDER // 2
        assert verify_signature(key.public_key, message, signature)
        assert not verify_signature(key.public_key, message + b"!", signature)
    assert isinstance(key, Signer)


def test_parse_device_id_errors() -> None:
    with pytest.raises(IdentityError, match="32 bytes"):
        parse_device_id("0x1234")
    with pytest.raises(IdentityError, match="not hex"):
        parse_device_id("0xzz")
    raw = bytes(range(32))
    assert parse_device_id("0x" + raw.hex()) == raw
