"""The sender: nonce resync, fee-bumped replacement, crash-safe retries, revert names."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.types import TxReceipt

from fieldproof.chain.backends import connect
from fieldproof.chain.bindings import DataAnchor
from fieldproof.chain.deploy import deploy_all
from fieldproof.chain.errors import ChainRevertError
from fieldproof.chain.sender import Sender
from tests.chain.conftest import Deployed
from tests.services.anvil import rpc

ROOT = b"\x5a" * 32


def _funded(anvil_url: str) -> LocalAccount:
    account: LocalAccount = Account.create()
    rpc(anvil_url, "anvil_setBalance", [account.address, hex(10**22)])
    return account


@pytest.fixture
def manual_mining(anvil_url: str) -> Iterator[None]:
    rpc(anvil_url, "evm_setAutomine", [False])
    try:
        yield
    finally:
        rpc(anvil_url, "evm_setAutomine", [True])


def _mine_later(anvil_url: str, delay: float) -> threading.Timer:
    timer = threading.Timer(delay, rpc, (anvil_url, "evm_mine", []))
    timer.start()
    return timer


def test_a_crashed_write_is_not_repeated(fresh: Deployed) -> None:
    sender = fresh.anchor.sender
    assert sender is not None
    # The previous run sent the anchor and died before recording it.
    sender.transact(fresh.anchor.contract.functions.anchor(7, ROOT, 3, "uri"))
    restarted = Sender(fresh.chain.w3, sender.account)
    w3 = fresh.chain.w3
    nonce = w3.eth.get_transaction_count(sender.address)
    anchor = DataAnchor(w3, fresh.anchor.address, restarted)
    assert anchor.anchor(7, ROOT, 3, "uri").skipped
    assert w3.eth.get_transaction_count(sender.address) == nonce


def test_mined_revert_is_named(fresh: Deployed) -> None:
    sender = fresh.anchor.sender
    assert sender is not None
    # An explicit gas limit skips the estimate, so the revert happens in a mined block.
    with pytest.raises(ChainRevertError) as excinfo:
        sender.transact(fresh.anchor.contract.functions.anchor(1, bytes(32), 0, ""), gas=100_000)
    assert excinfo.value.reason == "ZeroRoot"
    assert excinfo.value.tx_hash is not None
    # The nonce was used by the failed transaction; the next send must still work.
    assert not fresh.anchor.anchor(1, ROOT, 0, "").skipped


def test_nonce_resyncs_after_another_process_used_it(anvil_url: str) -> None:
    w3 = connect(anvil_url)
    account = _funded(anvil_url)
    first, second = Sender(w3, account), Sender(w3, account)
    deployment = deploy_all(first)
    anchor_first = deployment.anchor(w3, first)
    anchor_second = deployment.anchor(w3, second)
    anchor_first.anchor(1, ROOT, 1, "")
    anchor_second.anchor(2, ROOT, 1, "")  # "first" still believes the next nonce is its own
    anchor_first.anchor(3, ROOT, 1, "")
    assert anchor_first.latest_epoch() == 3


class _MinesOnSecondWait(Sender):
    """Mines a block only once the first attempt has timed out and been replaced."""

    anvil_url = ""
    waits = 0

    def _wait(self, hashes: list[HexBytes]) -> TxReceipt | None:
        self.waits += 1
        if self.waits == 2:
            rpc(self.anvil_url, "evm_mine", [])
        return super()._wait(hashes)


@pytest.mark.usefixtures("manual_mining")
def test_slow_transaction_is_replaced_with_higher_fees(anvil_url: str) -> None:
    w3 = connect(anvil_url)
    account = _funded(anvil_url)
    rpc(anvil_url, "evm_setAutomine", [True])
    deployment = deploy_all(Sender(w3, account))
    rpc(anvil_url, "evm_setAutomine", [False])
    nonce = w3.eth.get_transaction_count(account.address)
    sender = _MinesOnSecondWait(w3, account, receipt_timeout=0.3)
    sender.anvil_url = anvil_url
    anchor = deployment.anchor(w3, sender)
    outcome = anchor.anchor(1, ROOT, 1, "")
    assert sender.waits == 2
    assert outcome.tx_hash is not None
    mined = w3.eth.get_transaction(outcome.tx_hash)
    parent = w3.eth.get_block(int(mined["blockNumber"]) - 1)
    first_fee = 2 * int(parent["baseFeePerGas"]) + int(w3.eth.max_priority_fee)
    assert int(mined["maxFeePerGas"]) > first_fee  # the replacement was mined
    assert mined["nonce"] == nonce
    assert anchor.root_of(1) == ROOT
    assert w3.eth.get_transaction_count(account.address) == nonce + 1


@pytest.mark.usefixtures("manual_mining")
def test_restart_replaces_what_the_crashed_run_left_pending(anvil_url: str) -> None:
    w3 = connect(anvil_url)
    account = _funded(anvil_url)
    rpc(anvil_url, "evm_setAutomine", [True])
    deployment = deploy_all(Sender(w3, account))
    rpc(anvil_url, "evm_setAutomine", [False])
    before = w3.eth.get_transaction_count(account.address)
    # The crashed run's transaction is still in the pool, unmined.
    crashed = deployment.anchor(w3, Sender(w3, account))
    tx = {
        "to": crashed.address,
        "data": crashed.contract.functions.anchor(4, ROOT, 1, "")._encode_transaction_data(),
        "gas": 200_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
        "nonce": before,
        "chainId": w3.eth.chain_id,
    }
    w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    restarted = deployment.anchor(w3, Sender(w3, account, receipt_timeout=0.4, max_replacements=30))
    timer = _mine_later(anvil_url, 1.0)
    try:
        restarted.anchor(4, ROOT, 1, "")
    finally:
        timer.join()
    rpc(anvil_url, "evm_mine", [])
    assert restarted.root_of(4) == ROOT
    # One transaction landed for the one write: the restart replaced, not queued.
    assert w3.eth.get_transaction_count(account.address) == before + 1
