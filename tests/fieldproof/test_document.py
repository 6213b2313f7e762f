"""Signed status and health documents: the JSON travels intact inside its envelope."""

from __future__ import annotations

import pytest

from fieldproof.identity import DeviceKey
from fieldproof.wire import (
    DeviceMismatchError,
    MalformedError,
    SignatureError,
    open_document,
    sign_document,
    verify_document,
)

KEY = DeviceKey.from_secret(0x5157)


def test_a_signed_document_verifies_under_its_key() -> None:
    raw = sign_document(b'{"state":"online"}', KEY)
    assert verify_document(raw, KEY.public_key) == b'{"state":"online"}'
    assert open_document(raw).device_id == KEY.device_id


def test_plain_json_forged_and_tampered_documents_are_refused() -> None:
    with pytest.raises(MalformedError):
        verify_document(b'{"state":"online"}', KEY.public_key)
    other = DeviceKey.from_secret(0x5158)
    with pytest.raises(DeviceMismatchError):
        verify_document(sign_document(b"{}", other), KEY.public_key)
    tampered = bytearray(sign_document(b"{}", KEY))
    tampered[-1] ^= 1
    with pytest.raises(SignatureError):
        verify_document(bytes(tampered), KEY.public_key)
