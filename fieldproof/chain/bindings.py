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
from fieldproof.chain.location import check_cell
from fieldproof.chain.pop import ProofOfPossession
from fieldproof.chain.sender import BlockRef, Sender, TxOutcome, call

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ZERO_HASH = bytes(32)
DEFAULT_ADMIN_ROLE = ZERO_HASH


def role_id(name: str) -> bytes:
    """The AccessControl role id: keccak256 of its name; the admin role is zero."""
    return DEFAULT_ADMIN_ROLE if name == "DEFAULT_ADMIN_ROLE" else bytes(keccak(text=name))


ANCHORER_ROLE = role_id("ANCHORER_ROLE")
DISTRIBUTOR_ROLE = role_id("DISTRIBUTOR_ROLE")
MINTER_ROLE = role_id("MINTER_ROLE")
SLASHER_ROLE = role_id("SLASHER_ROLE")


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

    def _me(self) -> str:
        if self.sender is None:
            raise ChainValueError(f"{self.contract_name}: a sender is needed to write")
        return self.sender.address

    def _call(self, name: str, *args: Any, block: BlockRef | None = None) -> Any:
        return call(self.contract.functions[name](*args), block)

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


@dataclass(frozen=True, slots=True)
class Location:
    """Where a device stands: its H3 cell (uint64), since when (``placed_at``, the start of
    its seniority) and from when it may earn rewards after a move (``eligible_from``).
    Times are block timestamps (Unix seconds)."""

    cell: int
    placed_at: int
    eligible_from: int


@dataclass(frozen=True, slots=True)
class Move:
    """A ``DeviceMoved`` event: a placement at registration (``old_cell`` 0) or a move."""

    device_id: bytes
    old_cell: int
    new_cell: int
    placed_at: int
    eligible_from: int
    block_number: int
    tx_hash: str


class DeviceRegistry(Bound):
    contract_name = "DeviceRegistry"

    def register(
        self, pop: ProofOfPossession, metadata_uri: str = "", cell: int | None = None
    ) -> TxOutcome:
        """Register the device of ``pop`` for its owner (anyone may submit it); with
        ``cell`` (an H3 cell as uint64, see :mod:`fieldproof.chain.location`) the device is
        placed there too, which only the owner may do."""
        if cell is not None:
            check_cell(cell)
            if self.sender is not None and self.sender.address != pop.owner:
                raise ChainValueError(
                    f"register: only the owner {pop.owner} may set the device's cell, "
                    f"not {self.sender.address}"
                )

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
                cell or 0,
                pop.nonce,
                pop.r,
                pop.s,
            ),
            done,
        )

    def move(self, device_id: bytes, cell: int) -> TxOutcome:
        """Place the device in ``cell`` (owner only); restarts its seniority and, for a
        device that had a cell, its move cool-down. A no-op when it is already there."""
        check_cell(cell)

        def done() -> bool:
            location = self.location_of(device_id)
            return location is not None and location.cell == cell

        return self._send(self.contract.functions.move(device_id, cell), done)

    def set_move_cooldown(self, seconds: int) -> TxOutcome:
        return self._send(
            self.contract.functions.setMoveCooldown(seconds),
            lambda: self.move_cooldown() == seconds,
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

    def location_of(self, device_id: bytes, block: BlockRef | None = None) -> Location | None:
        """The device's :class:`Location` (at ``block``, the latest by default); ``None``
        while it is not located (or not registered)."""
        cell, placed_at, eligible_from = self._call("locationOf", device_id, block=block)
        if cell == 0:
            return None
        return Location(int(cell), int(placed_at), int(eligible_from))

    def move_cooldown(self) -> int:
        """Seconds a moved device stays ineligible for rewards."""
        return int(self._call("moveCooldown"))

    def cell_resolution(self) -> int:
        return int(self._call("CELL_RESOLUTION"))

    def is_valid_cell(self, cell: int) -> bool:
        """The contract's own check of an H3 cell (resolution included)."""
        return bool(self._call("isValidCell", cell))

    def moves(
        self,
        device_id: bytes | None = None,
        from_block: int = 0,
        to_block: BlockRef = "latest",
    ) -> list[Move]:
        """Every placement and move (``DeviceMoved``) in the block range, oldest first;
        of one device, or of all. A device's cell history, for seniority and audits."""
        filters = {} if device_id is None else {"deviceId": device_id}
        logs = self.contract.events.DeviceMoved.get_logs(
            argument_filters=filters, from_block=from_block, to_block=to_block
        )
        return [
            Move(
                device_id=bytes(log["args"]["deviceId"]),
                old_cell=int(log["args"]["oldCell"]),
                new_cell=int(log["args"]["newCell"]),
                placed_at=int(log["args"]["placedAt"]),
                eligible_from=int(log["args"]["eligibleFrom"]),
                block_number=int(log["blockNumber"]),
                tx_hash="0x" + bytes(log["transactionHash"]).hex(),
            )
            for log in sorted(logs, key=lambda log: (log["blockNumber"], log["logIndex"]))
        ]

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
            return _anchor_record(log)
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
            records.append(_anchor_record(log))
        return records


def _anchor_record(log: Any) -> AnchorRecord:
    """An ``Anchored`` event log as a record."""
    args = log["args"]
    return AnchorRecord(
        epoch=int(args["epoch"]),
        root=bytes(args["root"]),
        count=int(args["count"]),
        uri=str(args["uri"]),
        block_number=int(log["blockNumber"]),
        tx_hash="0x" + bytes(log["transactionHash"]).hex(),
    )


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

    def allowance(self, owner: str, spender: str) -> int:
        return int(
            self._call("allowance", to_checksum_address(owner), to_checksum_address(spender))
        )

    def approve(self, spender: str, amount: int) -> TxOutcome:
        """Let ``spender`` (e.g. DeviceStaking) take up to ``amount`` from the sender."""
        spender = to_checksum_address(spender)
        me = self._me()
        return self._send(
            self.contract.functions.approve(spender, amount),
            lambda: self.allowance(me, spender) == amount,
        )

    def transfer(self, to: str, amount: int) -> TxOutcome:
        """Send ``amount`` to ``to``; a resend after an unknown outcome is checked against
        the balance ``to`` had before."""
        to = to_checksum_address(to)
        before = self.balance_of(to)
        return self._send(
            self.contract.functions.transfer(to, amount),
            lambda: self.balance_of(to) >= before + amount,
        )


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
