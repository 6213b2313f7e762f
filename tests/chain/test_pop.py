"""The proof-of-possession message, signature and JSON form (pure)."""

from __future__ import annotations

import hashlib

import pytest
from eth_abi.abi import encode

from fieldproof.chain.errors import ChainValueError
from fieldproof.chain.pop import ProofOfPossession, pop_digest, pop_message, sign_pop
from fieldproof.identity import P256_ORDER, DeviceKey, verify_signature

REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_message_is_the_abi_encoding() -> None:
    device = bytes(range(32))
    message = pop_message(REGISTRY, 31337, OWNER, device, 5)
    expected = encode(
        ["address", "uint256", "address", "bytes32", "uint256"],
        [REGISTRY, 31337, OWNER, device, 5],
    )
    assert message == expected
    assert pop_digest(REGISTRY, 31337, OWNER, device, 5) == hashlib.sha256(expected).digest()


def test_signature_verifies_and_is_low_s() -> None:
    key = DeviceKey.generate()
    pop = sign_pop(key, REGISTRY, 1, OWNER, 0)
    assert pop.device_id == key.device_id
    assert b"\x04" + pop.x + pop.y == key.public_key
    assert int.from_bytes(pop.s, "big") <= P256_ORDER // 2
    message = pop_message(REGISTRY, 1, OWNER, key.device_id, 0)
    assert verify_signature(key.public_key, message, pop.r + pop.s)


def test_json_round_trip_and_errors() -> None:
    pop = sign_pop(DeviceKey.generate(), REGISTRY.lower(), 1, OWNER.lower(), 3)
    assert pop.registry == REGISTRY  # checksummed
    assert ProofOfPossession.from_json(pop.to_json()) == pop
    broken = {**pop.to_json(), "r": "0x1234"}
    with pytest.raises(ChainValueError, match="r: expected 32 bytes"):
        ProofOfPossession.from_json(broken)
    with pytest.raises(ChainValueError, match="missing key 'nonce'"):
        ProofOfPossession.from_json({k: v for k, v in pop.to_json().items() if k != "nonce"})
