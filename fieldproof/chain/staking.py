"""DeviceStaking: stakes behind devices, their eligibility for rewards, slashing.

The reward scoring reads :meth:`DeviceStaking.eligibility` for the devices of an epoch at
the block that closes it (:func:`block_at`), so anyone can read the same answer again
later and re-run the scoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address
from web3 import Web3

from fieldproof.chain.bindings import ZERO_ADDRESS, Bound, DeviceRegistry
from fieldproof.chain.errors import ChainValueError
from fieldproof.chain.sender import SKIPPED, BlockRef, TxOutcome

# Devices per eligibility call: keeps each eth_call well inside a node's gas limit for calls.
ELIGIBILITY_BATCH = 200


@dataclass(frozen=True, slots=True)
class StakeInfo:
    """One staker's tokens behind one device (token base units; ``unlock_at`` Unix s)."""

    amount: int
    pending: int
    unlock_at: int


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Whether a device may be rewarded, with the facts that decide it.

    ``owner`` is ``None`` for an unregistered device; ``cell`` 0 means not located;
    ``staked`` is the current owner's stake (pending tokens excluded). ``eligible``: the
    device is registered, active, located, past ``eligible_from`` and its owner's stake is
    at least the minimum (and above zero).
    """

    device_id: bytes
    owner: str | None
    active: bool
    cell: int
    placed_at: int
    eligible_from: int
    staked: int
    eligible: bool


@dataclass(frozen=True, slots=True)
class StakeChange:
    """A ``Staked`` (``balance``: staked after), ``UnstakeRequested`` (``balance``: pending
    after, ``unlock_at`` set) or ``Withdrawn`` (``balance`` 0) event."""

    kind: str  # "staked" | "unstake_requested" | "withdrawn"
    device_id: bytes
    staker: str
    amount: int
    balance: int
    unlock_at: int | None
    block_number: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class Slash:
    """A ``Slashed`` event: ``amount`` taken from ``staker``'s stake behind the device."""

    device_id: bytes
    staker: str
    amount: int
    treasury: str
    evidence_uri: str
    block_number: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class ParameterChange:
    """A ``MinStakeSet``, ``UnstakeDelaySet`` or ``TreasurySet`` event."""

    name: str  # "min_stake" | "unstake_delay" | "treasury"
    value: int | str
    block_number: int
    tx_hash: str


def evidence_uri(bundle_cid: str, flag: str) -> str:
    """The evidence of a slash: the epoch bundle (by its IPFS CID) and the flag in it."""
    if not bundle_cid or not flag:
        raise ChainValueError("evidence needs the bundle's CID and a flag")
    return f"ipfs://{bundle_cid.removeprefix('ipfs://')}#flag={flag}"


def block_at(w3: Web3, timestamp: int) -> int:
    """The last block whose timestamp is at most ``timestamp`` (binary search; block
    timestamps never decrease). Fails when the chain starts after ``timestamp``."""
    low, high = 0, int(w3.eth.block_number)
    if int(w3.eth.get_block(low)["timestamp"]) > timestamp:
        raise ChainValueError(f"no block at or before {timestamp}: the chain starts later")
    while low < high:
        middle = (low + high + 1) // 2
        if int(w3.eth.get_block(middle)["timestamp"]) <= timestamp:
            low = middle
        else:
            high = middle - 1
    return low


def _tx(log: Any) -> tuple[int, str]:
    return int(log["blockNumber"]), "0x" + bytes(log["transactionHash"]).hex()


def _ordered(logs: Sequence[Any]) -> list[Any]:
    return sorted(logs, key=lambda log: (log["blockNumber"], log["logIndex"]))


class DeviceStaking(Bound):
    contract_name = "DeviceStaking"

    # -- writes -------------------------------------------------------------------------

    def stake(self, device_id: bytes, amount: int) -> TxOutcome:
        """Add ``amount`` to the sender's stake behind the device (its owner only; approve
        the token first). Resends within this call are checked against the stake before."""
        me = self._me()
        before = self.stake_of(device_id, me).amount
        return self._send(
            self.contract.functions.stake(device_id, amount),
            lambda: self.stake_of(device_id, me).amount >= before + amount,
        )

    def stake_to(self, device_id: bytes, target: int) -> TxOutcome:
        """Raise the sender's stake behind the device to ``target``: safe to run again."""
        me = self._me()
        missing = target - self.stake_of(device_id, me).amount
        if missing <= 0:
            return SKIPPED
        return self._send(
            self.contract.functions.stake(device_id, missing),
            lambda: self.stake_of(device_id, me).amount >= target,
        )

    def request_unstake(self, device_id: bytes, amount: int) -> TxOutcome:
        """Move ``amount`` of the sender's stake to pending; withdrawable after the delay."""
        me = self._me()
        before = self.stake_of(device_id, me).pending
        return self._send(
            self.contract.functions.requestUnstake(device_id, amount),
            lambda: self.stake_of(device_id, me).pending >= before + amount,
        )

    def withdraw(self, device_id: bytes) -> TxOutcome:
        """Take out the sender's unlocked pending tokens; a no-op when none are pending."""
        me = self._me()
        return self._send(
            self.contract.functions.withdraw(device_id),
            lambda: self.stake_of(device_id, me).pending == 0,
        )

    def slash(
        self, device_id: bytes, amount: int, evidence: str, staker: str | None = None
    ) -> TxOutcome:
        """Send up to ``amount`` of ``staker``'s tokens behind the device (the current
        owner's by default) to the treasury; slasher role only. ``evidence``: see
        :func:`evidence_uri`."""
        if staker is None:
            staker = DeviceRegistry(self.w3, self.registry_address()).owner_of(device_id)
            if staker is None:
                raise ChainValueError("slash: the device has no owner; name the staker")
        staker = to_checksum_address(staker)
        before = self.stake_of(device_id, staker)
        total = before.amount + before.pending
        expected = total - min(amount, total)
        # Nothing to take (or nothing asked) goes to the contract, whose revert says so.
        return self._send(
            self.contract.functions.slash(device_id, staker, amount, evidence),
            lambda: amount > 0 < total and _total(self.stake_of(device_id, staker)) <= expected,
        )

    def set_min_stake(self, amount: int) -> TxOutcome:
        return self._send(
            self.contract.functions.setMinStake(amount), lambda: self.min_stake() == amount
        )

    def set_unstake_delay(self, seconds: int) -> TxOutcome:
        return self._send(
            self.contract.functions.setUnstakeDelay(seconds),
            lambda: self.unstake_delay() == seconds,
        )

    def set_treasury(self, treasury: str) -> TxOutcome:
        treasury = to_checksum_address(treasury)
        return self._send(
            self.contract.functions.setTreasury(treasury), lambda: self.treasury() == treasury
        )

    def pause(self) -> TxOutcome:
        return self._send(self.contract.functions.pause(), self.paused)

    def unpause(self) -> TxOutcome:
        return self._send(self.contract.functions.unpause(), lambda: not self.paused())

    # -- reads --------------------------------------------------------------------------

    def stake_of(self, device_id: bytes, staker: str, block: BlockRef | None = None) -> StakeInfo:
        amount, pending, unlock_at = self._call(
            "stakeOf", device_id, to_checksum_address(staker), block=block
        )
        return StakeInfo(int(amount), int(pending), int(unlock_at))

    def is_eligible(self, device_id: bytes, block: BlockRef | None = None) -> bool:
        return bool(self._call("isEligible", device_id, block=block))

    def eligibility(
        self, device_ids: Sequence[bytes], block: BlockRef | None = None
    ) -> list[Eligibility]:
        """:class:`Eligibility` of each device, in order, all read at one ``block``
        (the latest by default: pin a number so that every batch sees the same state)."""
        if block is None:
            block = int(self.w3.eth.block_number)
        result: list[Eligibility] = []
        for start in range(0, len(device_ids), ELIGIBILITY_BATCH):
            batch = list(device_ids[start : start + ELIGIBILITY_BATCH])
            rows = self._call("eligibility", batch, block=block)
            for device_id, row in zip(batch, rows, strict=True):
                owner, active, cell, placed_at, eligible_from, staked, eligible = row
                result.append(
                    Eligibility(
                        device_id=device_id,
                        owner=None if owner == ZERO_ADDRESS else str(owner),
                        active=bool(active),
                        cell=int(cell),
                        placed_at=int(placed_at),
                        eligible_from=int(eligible_from),
                        staked=int(staked),
                        eligible=bool(eligible),
                    )
                )
        return result

    def eligibility_at(
        self, device_ids: Sequence[bytes], timestamp: int
    ) -> tuple[int, list[Eligibility]]:
        """:meth:`eligibility` as of ``timestamp`` (e.g. an epoch's end): read at the last
        block at or before it, returned with that block's number so a bundle can name it."""
        block = block_at(self.w3, timestamp)
        return block, self.eligibility(device_ids, block)

    def min_stake(self, block: BlockRef | None = None) -> int:
        return int(self._call("minStake", block=block))

    def unstake_delay(self) -> int:
        return int(self._call("unstakeDelay"))

    def treasury(self) -> str:
        return str(self._call("treasury"))

    def paused(self) -> bool:
        return bool(self._call("paused"))

    def token_address(self) -> str:
        return str(self._call("token"))

    def registry_address(self) -> str:
        return str(self._call("registry"))

    # -- events -------------------------------------------------------------------------

    def stake_changes(
        self, device_id: bytes | None = None, from_block: int = 0, to_block: BlockRef = "latest"
    ) -> list[StakeChange]:
        """``Staked``, ``UnstakeRequested`` and ``Withdrawn`` events, oldest first."""
        filters = {} if device_id is None else {"deviceId": device_id}
        events = self.contract.events
        found: list[tuple[Any, StakeChange]] = []
        for log in events.Staked.get_logs(
            argument_filters=filters, from_block=from_block, to_block=to_block
        ):
            args = log["args"]
            change = StakeChange(
                "staked", bytes(args["deviceId"]), str(args["staker"]), int(args["amount"]),
                int(args["staked"]), None, *_tx(log),
            )  # fmt: skip
            found.append((log, change))
        for log in events.UnstakeRequested.get_logs(
            argument_filters=filters, from_block=from_block, to_block=to_block
        ):
            args = log["args"]
            change = StakeChange(
                "unstake_requested", bytes(args["deviceId"]), str(args["staker"]),
                int(args["amount"]), int(args["pending"]), int(args["unlockAt"]), *_tx(log),
            )  # fmt: skip
            found.append((log, change))
        for log in events.Withdrawn.get_logs(
            argument_filters=filters, from_block=from_block, to_block=to_block
        ):
            args = log["args"]
            change = StakeChange(
                "withdrawn", bytes(args["deviceId"]), str(args["staker"]), int(args["amount"]),
                0, None, *_tx(log),
            )  # fmt: skip
            found.append((log, change))
        found.sort(key=lambda pair: (pair[0]["blockNumber"], pair[0]["logIndex"]))
        return [change for _, change in found]

    def slashes(
        self, device_id: bytes | None = None, from_block: int = 0, to_block: BlockRef = "latest"
    ) -> list[Slash]:
        """``Slashed`` events with their evidence URIs, oldest first."""
        filters = {} if device_id is None else {"deviceId": device_id}
        logs = self.contract.events.Slashed.get_logs(
            argument_filters=filters, from_block=from_block, to_block=to_block
        )
        return [
            Slash(
                device_id=bytes(log["args"]["deviceId"]),
                staker=str(log["args"]["staker"]),
                amount=int(log["args"]["amount"]),
                treasury=str(log["args"]["treasury"]),
                evidence_uri=str(log["args"]["evidenceURI"]),
                block_number=int(log["blockNumber"]),
                tx_hash="0x" + bytes(log["transactionHash"]).hex(),
            )
            for log in _ordered(logs)
        ]

    def parameter_changes(
        self, from_block: int = 0, to_block: BlockRef = "latest"
    ) -> list[ParameterChange]:
        """``MinStakeSet``, ``UnstakeDelaySet`` and ``TreasurySet`` events, oldest first."""
        events = self.contract.events
        kinds = (
            ("min_stake", events.MinStakeSet, "minStake"),
            ("unstake_delay", events.UnstakeDelaySet, "delay"),
            ("treasury", events.TreasurySet, "treasury"),
        )
        found: list[tuple[Any, ParameterChange]] = []
        for name, event, field in kinds:
            for log in event.get_logs(from_block=from_block, to_block=to_block):
                raw = log["args"][field]
                value: int | str = str(raw) if name == "treasury" else int(raw)
                found.append((log, ParameterChange(name, value, *_tx(log))))
        found.sort(key=lambda pair: (pair[0]["blockNumber"], pair[0]["logIndex"]))
        return [change for _, change in found]


def _total(info: StakeInfo) -> int:
    return info.amount + info.pending
