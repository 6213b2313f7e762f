"""Typed wrappers over the deployed contracts.

Views return Python values (``None`` for "nothing there"); writes go through a
:class:`~fieldproof.chain.sender.Sender` with an on-chain "already done?" check, so every
write may be repeated after a crash without landing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD

from fieldproof.chain.artifacts import load_artifact
from fieldproof.chain.errors import ChainError, ChainValueError
from fieldproof.chain.pop import ProofOfPossession
from fieldproof.chain.sender import Sender, TxOutcome, call

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ZERO_HASH = bytes(32)
DEFAULT_ADMIN_ROLE = ZERO_HASH


def role_id(name: str) -> bytes:
    """The AccessControl role id: keccak256 of its name; the admin role is zero."""
    return DEFAULT_ADMIN_ROLE if name == "DEFAULT_ADMIN_ROLE" else bytes(keccak(text=name))


ANCHORER_ROLE = role_id("ANCHORER_ROLE")
DISTRIBUTOR_ROLE = role_id("DISTRIBUTOR_ROLE")
MINTER_ROLE = role_id("MINTER_ROLE")


def _node(value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = bytes.fromhex(value.removeprefix("0x"))
    if len(value) != 32:
        raise ChainValueError(f"expected 32 bytes, got {len(value)}")
    return value


def _proof(proof: Sequence[bytes | str]) -> list[bytes]:
    return [_node(step) for step in proof]


class Bound:
    """A contract at an address, with an optional sender for writes."""

    contract_name: ClassVar[str]

    def __init__(
        self,
        w3: Web3,
        address: str,
        sender: Sender | None = None,
        abi: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        self.w3 = w3
        self.address = to_checksum_address(address)
        self.sender = sender
        self.contract: Contract = w3.eth.contract(
            address=self.address, abi=list(abi or load_artifact(self.contract_name).abi)
        )

    def _send(self, fn: Any, already_done: Any = None) -> TxOutcome:
        if self.sender is None:
            raise ChainValueError(f"{self.contract_name}: a sender is needed to write")
        return self.sender.transact(fn, already_done=already_done)

    def _call(self, name: str, *args: Any) -> Any:
        return call(self.contract.functions[name](*args))

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self._call("hasRole", role, to_checksum_address(account)))

    def grant_role(self, role: bytes, account: str) -> TxOutcome:
        account = to_checksum_address(account)
        return self._send(
            self.contract.functions.grantRole(role, account),
            lambda: self.has_role(role, account),
        )

    def revoke_role(self, role: bytes, account: str) -> TxOutcome:
        account = to_checksum_address(account)
        return self._send(
            self.contract.functions.revokeRole(role, account),
            lambda: not self.has_role(role, account),
        )

    def renounce_role(self, role: bytes) -> TxOutcome:
        if self.sender is None:
            raise ChainValueError(f"{self.contract_name}: a sender is needed to write")
        me = self.sender.address
        return self._send(
            self.contract.functions.renounceRole(role, me), lambda: not self.has_role(role, me)
        )


@dataclass(frozen=True, slots=True)
class Registration:
    """When a device was registered."""

    block_number: int
    timestamp: int


class DeviceRegistry(Bound):
    contract_name = "DeviceRegistry"

    def register(self, pop: ProofOfPossession, metadata_uri: str = "") -> TxOutcome:
        """Register the device of ``pop`` for its owner (anyone may submit it)."""

        def done() -> bool:
            return (
                self.owner_of(pop.device_id) == pop.owner
                and self.nonce_of(pop.device_id) > pop.nonce
            )

        return self._send(
            self.contract.functions.register(
                pop.device_id,
                pop.x,
                pop.y,
                pop.owner,
                metadata_uri,
                pop.nonce,
                pop.r,
                pop.s,
            ),
            done,
        )

    def transfer(self, device_id: bytes, to: str) -> TxOutcome:
        to = to_checksum_address(to)
        return self._send(
            self.contract.functions.transfer(device_id, to), lambda: self.owner_of(device_id) == to
        )

    def release(self, device_id: bytes) -> TxOutcome:
        return self._send(
            self.contract.functions.release(device_id), lambda: self.owner_of(device_id) is None
        )

    def set_metadata_uri(self, device_id: bytes, uri: str) -> TxOutcome:
        return self._send(
            self.contract.functions.setMetadataURI(device_id, uri),
            lambda: self.metadata_uri_of(device_id) == uri,
        )

    def deactivate(self, device_id: bytes) -> TxOutcome:
        return self._send(
            self.contract.functions.deactivate(device_id), lambda: not self.is_active(device_id)
        )

    def reactivate(self, device_id: bytes) -> TxOutcome:
        return self._send(
            self.contract.functions.reactivate(device_id), lambda: self.is_active(device_id)
        )

    def owner_of(self, device_id: bytes) -> str | None:
        owner = str(self._call("ownerOf", device_id))
        return None if owner == ZERO_ADDRESS else owner

    def is_active(self, device_id: bytes) -> bool:
        return bool(self._call("isActive", device_id))

    def public_key_of(self, device_id: bytes) -> bytes:
        """Uncompressed SEC1 key (65 bytes); reverts with DeviceNotRegistered otherwise."""
        x, y = self._call("publicKeyOf", device_id)
        return b"\x04" + bytes(x) + bytes(y)

    def registration_of(self, device_id: bytes) -> Registration | None:
        block_number, timestamp = self._call("registrationOf", device_id)
        if block_number == 0:
            return None
        return Registration(int(block_number), int(timestamp))

    def metadata_uri_of(self, device_id: bytes) -> str:
        return str(self._call("metadataURIOf", device_id))

    def nonce_of(self, device_id: bytes) -> int:
        return int(self._call("nonces", device_id))

    def pop_digest(self, owner: str, device_id: bytes, nonce: int) -> bytes:
        return bytes(self._call("popDigest", to_checksum_address(owner), device_id, nonce))

    def device_id_of(self, x: bytes, y: bytes) -> bytes:
        return bytes(self._call("deviceIdOf", x, y))


@dataclass(frozen=True, slots=True)
class AnchorRecord:
    """An ``Anchored`` event: what the aggregator anchored for an epoch, and where."""

    epoch: int
    root: bytes
    count: int
    uri: str
    block_number: int
    tx_hash: str


class DataAnchor(Bound):
    contract_name = "DataAnchor"

    def anchor(self, epoch: int, root: bytes | str, count: int, uri: str) -> TxOutcome:
        """Anchor ``root`` for ``epoch``; a no-op when that root is already anchored."""
        root = _node(root)

        def done() -> bool:
            current = self.root_of(epoch)
            if current is not None and current != root:
                raise ChainError(
                    f"anchor: epoch {epoch} already holds root 0x{current.hex()}, "
                    f"not 0x{root.hex()}"
                )
            return current is not None

        return self._send(self.contract.functions.anchor(epoch, root, count, uri), done)

    def root_of(self, epoch: int) -> bytes | None:
        root = bytes(self._call("rootOf", epoch))
        return None if root == ZERO_HASH else root

    def latest_epoch(self) -> int | None:
        if not self._call("hasAnchor"):
            return None
        return int(self._call("latestEpoch"))

    def anchor_record(self, epoch: int, from_block: int = 0) -> AnchorRecord | None:
        """The event that anchored ``epoch`` (count and URI live only in events)."""
        logs = self.contract.events.Anchored.get_logs(
            argument_filters={"epoch": epoch}, from_block=from_block
        )
        for log in logs:
            args = log["args"]
            return AnchorRecord(
                epoch=int(args["epoch"]),
                root=bytes(args["root"]),
                count=int(args["count"]),
                uri=str(args["uri"]),
                block_number=int(log["blockNumber"]),
                tx_hash="0x" + bytes(log["transactionHash"]).hex(),
            )
        return None

    def anchors_in(self, tx_hash: str) -> list[AnchorRecord]:
        """The ``Anchored`` events this contract emitted in transaction ``tx_hash``; none
        when the chain does not know the transaction. One receipt, whatever the chain's
        age: no log search over a block range that public nodes may refuse."""
        try:
            receipt = self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
        except TransactionNotFound:
            return []
        records = []
        for log in self.contract.events.Anchored().process_receipt(receipt, errors=DISCARD):
            if to_checksum_address(log["address"]) != self.address:
                continue  # the same event from another contract proves nothing here
            args = log["args"]
            records.append(
                AnchorRecord(
                    epoch=int(args["epoch"]),
                    root=bytes(args["root"]),
                    count=int(args["count"]),
                    uri=str(args["uri"]),
                    block_number=int(log["blockNumber"]),
                    tx_hash="0x" + bytes(log["transactionHash"]).hex(),
                )
            )
        return records


class RewardToken(Bound):
    contract_name = "RewardToken"

    def balance_of(self, account: str) -> int:
        return int(self._call("balanceOf", to_checksum_address(account)))

    def total_supply(self) -> int:
        return int(self._call("totalSupply"))

    def symbol(self) -> str:
        return str(self._call("symbol"))

    def decimals(self) -> int:
        return int(self._call("decimals"))


class RewardDistributor(Bound):
    contract_name = "RewardDistributor"

    def set_root(self, epoch: int, root: bytes | str, total_cumulative: int) -> TxOutcome:
        """Publish the reward root of ``epoch``; a no-op when it is already published."""
        root = _node(root)

        def done() -> bool:
            current = self.root_of(epoch)
            if current is not None and current != root:
                raise ChainError(
                    f"setRoot: epoch {epoch} already holds root 0x{current.hex()}, "
                    f"not 0x{root.hex()}"
                )
            return current is not None

        return self._send(self.contract.functions.setRoot(epoch, root, total_cumulative), done)

    def claim(self, account: str, cumulative: int, proof: Sequence[bytes | str]) -> TxOutcome:
        """Pay ``account`` up to ``cumulative``; a no-op when it was already paid that much."""
        account = to_checksum_address(account)
        return self._send(
            self.contract.functions.claim(account, cumulative, _proof(proof)),
            lambda: self.claimed(account) >= cumulative,
        )

    def set_epoch_cap(self, cap: int) -> TxOutcome:
        return self._send(self.contract.functions.setEpochCap(cap), lambda: self.epoch_cap() == cap)

    def pause(self) -> TxOutcome:
        return self._send(self.contract.functions.pause(), self.paused)

    def unpause(self) -> TxOutcome:
        return self._send(self.contract.functions.unpause(), lambda: not self.paused())

    def claimed(self, account: str) -> int:
        return int(self._call("claimed", to_checksum_address(account)))

    def verify_leaf(self, account: str, cumulative: int, proof: Sequence[bytes | str]) -> bool:
        """Whether the contract accepts ``proof`` for the leaf under its current root."""
        return bool(
            self._call("verifyLeaf", to_checksum_address(account), cumulative, _proof(proof))
        )

    def root_of(self, epoch: int) -> bytes | None:
        root = bytes(self._call("rootOf", epoch))
        return None if root == ZERO_HASH else root

    def merkle_root(self) -> bytes | None:
        root = bytes(self._call("merkleRoot"))
        return None if root == ZERO_HASH else root

    def current_epoch(self) -> int | None:
        if not self._call("hasRoot"):
            return None
        return int(self._call("currentEpoch"))

    def total_cumulative(self) -> int:
        return int(self._call("totalCumulative"))

    def epoch_cap(self) -> int:
        return int(self._call("epochCap"))

    def paused(self) -> bool:
        return bool(self._call("paused"))

    def token_address(self) -> str:
        return str(self._call("token"))
