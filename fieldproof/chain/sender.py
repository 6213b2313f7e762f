"""One sender per key: a local nonce, receipts awaited, retries safe after a crash.

Every write goes through :meth:`Sender.send`. Callers pass an ``already_done`` check that
reads on-chain state (e.g. ``rootOf(epoch) != 0``); it runs before the first send and
again whenever the outcome of an earlier attempt is unknown, so a write re-run after a
crash, or racing a copy of itself, lands at most once.
"""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TransactionNotFound,
)
from web3.types import TxParams, TxReceipt, Wei

from fieldproof.chain.errors import ChainError, ChainRevertError
from fieldproof.chain.reverts import decode_revert

AlreadyDone = Callable[[], bool]
# A block number, or a tag; reads at a past block need an archive node once it is older
# than the node's pruning window.
BlockRef = int | Literal["latest", "earliest", "pending", "safe", "finalized"]


@dataclass(frozen=True, slots=True)
class TxOutcome:
    """What a send did: ``skipped`` when ``already_done`` said the work was on-chain."""

    tx_hash: str | None
    gas_used: int
    block_number: int | None
    skipped: bool
    contract_address: str | None = None


SKIPPED = TxOutcome(tx_hash=None, gas_used=0, block_number=None, skipped=True)


@dataclass(frozen=True, slots=True)
class _Fees:
    max_fee: int | None  # None: legacy gas price in ``priority``
    priority: int

    def bumped(self, percent: int) -> _Fees:
        # Nodes accept a replacement only above +10 % on both fee fields.
        def up(value: int) -> int:
            return value * (100 + percent) // 100 + 1

        return _Fees(None if self.max_fee is None else up(self.max_fee), up(self.priority))

    def params(self) -> dict[str, int]:
        if self.max_fee is None:
            return {"gasPrice": self.priority}
        return {"maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.priority}


def _tester_revert_data(exc: Exception) -> bytes | str | None:
    # The in-process chain raises eth-tester's TransactionFailed carrying the revert data
    # as the repr of a bytes object ("execution reverted: b'...'") or as plain text.
    text = str(exc.args[0]) if exc.args else ""
    body = text.removeprefix("execution reverted: ")
    if body.startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(body)
        except (ValueError, SyntaxError):
            return body
        return value if isinstance(value, bytes) else body
    return body


def as_revert(exc: Exception, what: str, tx_hash: str | None = None) -> ChainRevertError | None:
    """The :class:`ChainRevertError` for a revert raised by web3; None for other errors."""
    try:
        from eth_tester.exceptions import TransactionFailed
    except ImportError:  # the in-process chain is the [demo] extra; without it, no such error

        class TransactionFailed(Exception):  # type: ignore[no-redef]  # noqa: N818
            """Stands for eth-tester's revert where eth-tester is not installed."""

    data = getattr(exc, "data", None)
    if isinstance(exc, ContractCustomError | ContractPanicError) and isinstance(data, str):
        reason, description = decode_revert(data)
    elif isinstance(exc, ContractLogicError):
        message = getattr(exc, "message", None) or str(exc)
        reason = message.removeprefix("execution reverted: ")
        description = message
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            reason, description = decode_revert(data)
    elif isinstance(exc, TransactionFailed):
        raw = _tester_revert_data(exc)
        if isinstance(raw, bytes):
            reason, description = decode_revert(raw)
        else:
            reason = description = raw or "unknown"
    else:
        return None
    return ChainRevertError(f"{what}: reverted: {description}", reason, tx_hash)


class Sender:
    """Signs and sends transactions for one key, keeping its nonce locally."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        *,
        receipt_timeout: float = 120.0,
        poll_interval: float = 0.05,
        fee_bump_percent: int = 25,
        max_replacements: int = 4,
        gas_margin_percent: int = 25,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.receipt_timeout = receipt_timeout
        self.poll_interval = poll_interval
        self.fee_bump_percent = fee_bump_percent
        self.max_replacements = max_replacements
        self.gas_margin_percent = gas_margin_percent
        self._nonce: int | None = None
        self._chain_id: int | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return str(self.account.address)

    def resync(self) -> None:
        """Forget the local nonce; the next send reads it from the node."""
        with self._lock:
            self._nonce = None

    def _take_nonce(self) -> int:
        if self._nonce is None:
            # "latest", not "pending": with one sender per key, anything still pending is
            # what this sender (or its crashed predecessor) left behind, and the next send
            # replaces it instead of queueing behind it. Callers' already-done checks make
            # that replacement safe.
            self._nonce = self.w3.eth.get_transaction_count(self.account.address, "latest")
        return self._nonce

    def _fees(self) -> _Fees:
        block = self.w3.eth.get_block("latest")
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            return _Fees(None, int(self.w3.eth.gas_price))
        priority = int(self.w3.eth.max_priority_fee)
        # Twice the base fee survives six full blocks of base-fee growth.
        return _Fees(2 * int(base_fee) + priority, priority)

    def _chain(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def transact(
        self,
        function: ContractFunction,
        *,
        already_done: AlreadyDone | None = None,
        value: int = 0,
        gas: int | None = None,
    ) -> TxOutcome:
        """Send a contract call (see :meth:`send`)."""
        tx: TxParams = {
            "to": function.address,
            "data": function._encode_transaction_data(),
            "value": Wei(value),
        }
        if gas is not None:
            tx["gas"] = gas
        return self.send(tx, already_done=already_done, what=function.fn_name)

    def send(
        self, tx: TxParams, *, already_done: AlreadyDone | None = None, what: str = "transaction"
    ) -> TxOutcome:
        """Send ``tx`` and wait for its receipt.

        Skips the send when ``already_done()`` is true; replaces a transaction not mined
        within ``receipt_timeout`` with the same nonce and fees raised by
        ``fee_bump_percent``; raises :class:`ChainRevertError` for a revert (estimated
        or mined) and :class:`ChainError` when nothing got mined.
        """
        with self._lock:
            if already_done is not None and already_done():
                return SKIPPED
            try:
                return self._send_locked(dict(tx), already_done, what)
            except BaseException:
                # The node's view of our nonce is the truth after anything unexpected.
                self._nonce = None
                raise

    def _estimate(self, tx: dict[str, Any], what: str) -> int:
        request: TxParams = {"from": self.account.address, **tx}  # type: ignore[typeddict-item]
        try:
            estimate = int(self.w3.eth.estimate_gas(request))
        except Exception as exc:
            revert = as_revert(exc, what)
            if revert is None:
                raise ChainError(f"{what}: gas estimate failed: {exc}") from exc
            raise revert from exc
        return estimate * (100 + self.gas_margin_percent) // 100

    def _send_locked(
        self, tx: dict[str, Any], already_done: AlreadyDone | None, what: str
    ) -> TxOutcome:
        if "gas" not in tx:
            tx["gas"] = self._estimate(tx, what)
        nonce = self._take_nonce()
        fees = self._fees()
        sent: list[HexBytes] = []
        for _ in range(self.max_replacements + 1):
            signed = self.account.sign_transaction(
                {**tx, **fees.params(), "nonce": nonce, "chainId": self._chain()}
            )
            try:
                sent.append(HexBytes(self.w3.eth.send_raw_transaction(signed.raw_transaction)))
            except Exception as exc:
                message = str(exc).lower()
                if "already known" in message or "already imported" in message:
                    sent.append(HexBytes(signed.hash))
                elif "nonce too low" in message or "nonce is too low" in message:
                    # Our nonce was used: by an earlier attempt of ours that got mined, or
                    # by another process with the same key. Look before sending again.
                    receipt = self._find_receipt(sent)
                    if receipt is not None:
                        return self._finish(receipt, nonce, what)
                    if already_done is not None and already_done():
                        self._nonce = None
                        return SKIPPED
                    self._nonce = None
                    nonce = self._take_nonce()
                    continue
                elif "underpriced" in message or "fee too low" in message:
                    # The pool holds another transaction with our nonce paying more (left by
                    # a crashed run): let it be mined, else outbid it.
                    if self._nonce_used(nonce):
                        if already_done is not None and already_done():
                            self._nonce = None
                            return SKIPPED
                        self._nonce = None
                        nonce = self._take_nonce()
                    fees = fees.bumped(self.fee_bump_percent)
                    continue
                else:
                    raise ChainError(f"{what}: node refused the transaction: {exc}") from exc
            receipt = self._wait(sent)
            if receipt is not None:
                return self._finish(receipt, nonce, what)
            if already_done is not None and already_done():
                self._nonce = None
                return SKIPPED
            fees = fees.bumped(self.fee_bump_percent)
        raise ChainError(
            f"{what}: not mined after {self.max_replacements + 1} attempts "
            f"of {self.receipt_timeout} s (nonce {nonce})"
        )

    def _nonce_used(self, nonce: int) -> bool:
        """Wait up to ``receipt_timeout`` for a transaction with ``nonce`` to be mined."""
        deadline = time.monotonic() + self.receipt_timeout
        while True:
            if self.w3.eth.get_transaction_count(self.account.address, "latest") > nonce:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.poll_interval)

    def _find_receipt(self, hashes: list[HexBytes]) -> TxReceipt | None:
        for tx_hash in hashes:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                continue
        return None

    def _wait(self, hashes: list[HexBytes]) -> TxReceipt | None:
        deadline = time.monotonic() + self.receipt_timeout
        while True:
            receipt = self._find_receipt(hashes)
            if receipt is not None or time.monotonic() >= deadline:
                return receipt
            time.sleep(self.poll_interval)

    def _finish(self, receipt: TxReceipt, nonce: int, what: str) -> TxOutcome:
        self._nonce = nonce + 1
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        if receipt["status"] != 1:
            raise self._mined_revert(receipt, what, tx_hash)
        address = receipt.get("contractAddress")
        return TxOutcome(
            tx_hash=tx_hash,
            gas_used=int(receipt["gasUsed"]),
            block_number=int(receipt["blockNumber"]),
            skipped=False,
            contract_address=None if address is None else str(address),
        )

    def _mined_revert(self, receipt: TxReceipt, what: str, tx_hash: str) -> ChainRevertError:
        # Receipts carry no revert data: replay the call on the parent block to name it.
        try:
            tx = self.w3.eth.get_transaction(receipt["transactionHash"])
            self.w3.eth.call(
                {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"]},
                int(receipt["blockNumber"]) - 1,
            )
        except Exception as exc:
            revert = as_revert(exc, what, tx_hash)
            if revert is not None:
                return revert
        return ChainRevertError(f"{what}: reverted in transaction {tx_hash}", "unknown", tx_hash)

    def deploy(self, creation_data: str, what: str = "deploy") -> str:
        """Deploy a contract from its creation code + encoded constructor arguments."""
        outcome = self.send({"data": HexBytes(creation_data)}, what=what)
        if outcome.contract_address is None:
            raise ChainError(f"{what}: receipt has no contract address")
        return outcome.contract_address


def call(function: ContractFunction, block: BlockRef | None = None) -> Any:
    """Run a view call (at ``block``, the latest by default), turning a revert into
    :class:`ChainRevertError`."""
    try:
        if block is None:
            return function.call()
        return function.call(block_identifier=block)
    except Exception as exc:
        revert = as_revert(exc, function.fn_name)
        if revert is None:
            raise ChainError(f"{function.fn_name}: call failed: {exc}") from exc
        raise revert from exc
