"""Pairing a device with an owner and registering it: the one path behind both CLIs.

``fieldproof chain pop|register`` (operator side, registry read from a deployment) and
``fieldproof device pairing|register`` (device side, registry given) sign and submit
the same document through these functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldproof.chain.backends import connect
from fieldproof.chain.deploy import Deployment
from fieldproof.chain.errors import ChainValueError
from fieldproof.chain.keysource import load_account
from fieldproof.chain.location import cell_str
from fieldproof.chain.pop import ProofOfPossession, sign_pop
from fieldproof.chain.sender import Sender
from fieldproof.identity import Signer


def sign_pairing(key: Signer, registry: str, chain_id: int, owner: str, nonce: int) -> str:
    """The signed pairing document (JSON text) a device hands to whoever registers it.

    It holds the proof of possession plus the uncompressed public key and the ``r||s``
    signature, so a reader can check it off-chain without rebuilding either.
    """
    pop = sign_pop(key, registry, chain_id, owner, nonce)
    document: dict[str, Any] = {
        **pop.to_json(),
        "publicKey": "0x" + key.public_key.hex(),
        "signature": "0x" + (pop.r + pop.s).hex(),
    }
    return json.dumps(document, indent=2) + "\n"


def read_pairing(path: Path) -> ProofOfPossession:
    """The proof of possession in a pairing (or bare proof of possession) file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ChainValueError(f"proof of possession {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ChainValueError(f"proof of possession {path}: expected a JSON object")
    return ProofOfPossession.from_json(data)


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What submitting a pairing did."""

    device_id: bytes
    owner: str
    tx_hash: str | None
    already_registered: bool
    cell: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "deviceId": "0x" + self.device_id.hex(),
            "owner": self.owner,
            "tx": self.tx_hash,
            "alreadyRegistered": self.already_registered,
            "cell": None if self.cell is None else cell_str(self.cell),
        }


def register_pairing(
    pop: ProofOfPossession,
    deployment: Deployment,
    *,
    rpc: str,
    key_source: str,
    metadata_uri: str = "",
    cell: int | None = None,
    origin: str = "proof of possession",
) -> Enrolment:
    """Submit ``pop`` to the deployment's DeviceRegistry, paid by ``key_source``.

    With ``cell`` (an H3 cell, :mod:`fieldproof.chain.location`) the device is placed there
    too; only the owner's key may do that. A proof signed for another registry or chain is
    refused before anything is sent (the error names ``origin``); a device already
    registered for the same owner sends nothing.
    """
    registry_address = deployment.contracts["DeviceRegistry"].address
    if (pop.registry, pop.chain_id) != (registry_address, deployment.chain_id):
        raise ChainValueError(
            f"{origin} is for registry {pop.registry} on chain {pop.chain_id}, "
            f"not {registry_address} on chain {deployment.chain_id}"
        )
    w3 = connect(rpc)
    deployment.ensure_chain(w3)
    registry = deployment.registry(w3, Sender(w3, load_account(key_source)))
    outcome = registry.register(pop, metadata_uri, cell)
    # register() only counts as done when the chain holds this owner, so pop.owner is it.
    location = registry.location_of(pop.device_id)
    placed = None if location is None else location.cell
    return Enrolment(pop.device_id, pop.owner, outcome.tx_hash, outcome.skipped, placed)


def register_pairing_file(
    path: Path,
    deployment: Path,
    *,
    rpc: str,
    key_source: str,
    metadata_uri: str = "",
    cell: int | None = None,
) -> Enrolment:
    """:func:`register_pairing` for a pairing file and a ``deployment.json``."""
    return register_pairing(
        read_pairing(path),
        Deployment.load(deployment),
        rpc=rpc,
        key_source=key_source,
        metadata_uri=metadata_uri,
        cell=cell,
        origin=f"proof of possession {path}",
    )
