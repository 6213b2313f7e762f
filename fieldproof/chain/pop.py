"""Device proof of possession: what a device signs so that DeviceRegistry registers it.

The device signs ``abi.encode(registry, chainid, owner, deviceId, nonce)`` with ES256, i.e.
the contract checks a P-256 signature of ``sha256`` of that encoding. The device tool
builds a :class:`ProofOfPossession`; the owner tool submits it (anyone may).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address

from fieldproof.chain.errors import ChainValueError
from fieldproof.identity import Signer, device_id_from_public_key, sha256


def pop_message(registry: str, chain_id: int, owner: str, device_id: bytes, nonce: int) -> bytes:
    """``abi.encode(registry, chainid, owner, deviceId, nonce)`` as the contract encodes it."""
    return bytes(
        abi_encode(
            ["address", "uint256", "address", "bytes32", "uint256"],
            [registry, chain_id, owner, device_id, nonce],
        )
    )


def pop_digest(registry: str, chain_id: int, owner: str, device_id: bytes, nonce: int) -> bytes:
    """The SHA-256 digest the contract verifies (``DeviceRegistry.popDigest``)."""
    return sha256(pop_message(registry, chain_id, owner, device_id, nonce))


@dataclass(frozen=True, slots=True)
class ProofOfPossession:
    """A device's signed consent to be registered by ``owner`` in ``registry``."""

    registry: str
    chain_id: int
    owner: str
    device_id: bytes
    x: bytes
    y: bytes
    nonce: int
    r: bytes
    s: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "chainId": self.chain_id,
            "owner": self.owner,
            "deviceId": "0x" + self.device_id.hex(),
            "x": "0x" + self.x.hex(),
            "y": "0x" + self.y.hex(),
            "nonce": self.nonce,
            "r": "0x" + self.r.hex(),
            "s": "0x" + self.s.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProofOfPossession:
        try:
            return cls(
                registry=to_checksum_address(data["registry"]),
                chain_id=int(data["chainId"]),
                owner=to_checksum_address(data["owner"]),
                device_id=_bytes32(data["deviceId"], "deviceId"),
                x=_bytes32(data["x"], "x"),
                y=_bytes32(data["y"], "y"),
                nonce=int(data["nonce"]),
                r=_bytes32(data["r"], "r"),
                s=_bytes32(data["s"], "s"),
            )
        except KeyError as exc:
            raise ChainValueError(f"proof of possession: missing key {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise ChainValueError(f"proof of possession: {exc}") from exc

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def _bytes32(text: Any, field: str) -> bytes:
    if not isinstance(text, str):
        raise ChainValueError(f"proof of possession: {field}: expected 0x-hex, got {text!r}")
    raw = bytes.fromhex(text.removeprefix("0x"))
    if len(raw) != 32:
        raise ChainValueError(f"proof of possession: {field}: expected 32 bytes, got {len(raw)}")
    return raw


def sign_pop(
    signer: Signer, registry: str, chain_id: int, owner: str, nonce: int
) -> ProofOfPossession:
    """Sign the proof of possession with the device key (low-s, as P256 requires)."""
    public_key = signer.public_key
    device_id = device_id_from_public_key(public_key)
    registry = to_checksum_address(registry)
    owner = to_checksum_address(owner)
    # Signer.sign hashes with SHA-256 itself: the digest the contract checks (pop_digest).
    signature = signer.sign(pop_message(registry, chain_id, owner, device_id, nonce))
    return ProofOfPossession(
        registry=registry,
        chain_id=chain_id,
        owner=owner,
        device_id=bytes(device_id),
        x=public_key[1:33],
        y=public_key[33:65],
        nonce=nonce,
        r=signature[:32],
        s=signature[32:],
    )
