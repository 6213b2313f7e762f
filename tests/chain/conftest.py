"""One chain test suite, two backends: every test taking ``chain`` runs on the in-process
eth-tester chain and on a real anvil node. Deployments are module-scoped; each test runs
inside an EVM snapshot that is reverted afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from fieldproof.chain.backends import connect, prefunded_keys
from fieldproof.chain.bindings import (
    Bound,
    DataAnchor,
    DeviceRegistry,
    RewardDistributor,
    RewardToken,
)
from fieldproof.chain.deploy import Deployment, deploy_all
from fieldproof.chain.location import cell_from_latlng
from fieldproof.chain.pop import sign_pop
from fieldproof.chain.sender import Sender
from fieldproof.chain.staking import DeviceStaking
from fieldproof.identity import DeviceKey
from tests.services.anvil import rpc

B = TypeVar("B", bound=Bound)

BACKENDS = ("eth-tester", "anvil")
ACCOUNTS = 8
EPOCH_CAP = 10**24
MOVE_COOLDOWN = 3_600
MIN_STAKE = 100 * 10**18
UNSTAKE_DELAY = 86_400
GENESIS_SUPPLY = 10**24  # held by account 0


@dataclass
class ChainEnv:
    """A chain, funded accounts and one sender per account."""

    name: str
    url: str
    w3: Web3
    accounts: list[LocalAccount]
    _senders: dict[str, Sender] = field(default_factory=dict)

    def sender(self, index: int) -> Sender:
        account = self.accounts[index]
        if account.address not in self._senders:
            self._senders[account.address] = Sender(self.w3, account, receipt_timeout=30)
        return self._senders[account.address]

    def address(self, index: int) -> str:
        return str(self.accounts[index].address)

    def snapshot(self) -> object:
        return self.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]

    def revert(self, snapshot: object) -> None:
        self.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
        for sender in self._senders.values():
            sender.resync()

    def advance(self, seconds: int) -> int:
        """Move the chain's clock ``seconds`` on and mine a block; returns its timestamp."""
        if self.name == "eth-tester":
            pending = int(self.w3.eth.get_block("pending")["timestamp"])
            self.w3.provider.make_request("testing_timeTravel", [pending + seconds])  # type: ignore[arg-type]
        else:
            rpc(self.url, "evm_increaseTime", [seconds])
            rpc(self.url, "evm_mine", [])
        return int(self.w3.eth.get_block("latest")["timestamp"])


def make_chain(name: str, request: pytest.FixtureRequest) -> ChainEnv:
    if name == "eth-tester":
        w3 = connect("eth-tester://")
        keys = prefunded_keys(w3)[:ACCOUNTS]
        return ChainEnv(name, "eth-tester://", w3, [Account.from_key(key) for key in keys])
    url: str = request.getfixturevalue("anvil_url")
    accounts = [Account.create() for _ in range(ACCOUNTS)]
    for account in accounts:
        rpc(url, "anvil_setBalance", [account.address, hex(10**24)])
    return ChainEnv(name, url, connect(url), accounts)


@pytest.fixture(scope="module", params=BACKENDS)
def chain(request: pytest.FixtureRequest) -> ChainEnv:
    return make_chain(request.param, request)


@dataclass
class Deployed:
    """The five contracts, bound to the sender of the role that uses each.

    Accounts: 0 admin/deployer (holds the genesis supply), 1 anchorer, 2 distributor,
    3-5 owners and strangers, 6 slasher, 7 treasury.
    """

    chain: ChainEnv
    deployment: Deployment
    registry: DeviceRegistry
    anchor: DataAnchor
    token: RewardToken
    distributor: RewardDistributor
    staking: DeviceStaking

    def as_account(self, kind: type[B], index: int) -> B:
        """The contract of type ``kind`` bound to the sender of account ``index``."""
        entry = self.deployment.contracts[kind.contract_name]
        return kind(self.chain.w3, entry.address, self.chain.sender(index), entry.abi)


@pytest.fixture(scope="module")
def deployed(chain: ChainEnv) -> Deployed:
    deployment = deploy_all(
        chain.sender(0),
        anchorer=chain.address(1),
        distributor=chain.address(2),
        slasher=chain.address(6),
        treasury=chain.address(7),
        epoch_cap=EPOCH_CAP,
        move_cooldown=MOVE_COOLDOWN,
        min_stake=MIN_STAKE,
        unstake_delay=UNSTAKE_DELAY,
        genesis_supply=GENESIS_SUPPLY,
    )
    w3 = chain.w3
    return Deployed(
        chain=chain,
        deployment=deployment,
        registry=deployment.registry(w3, chain.sender(3)),
        anchor=deployment.anchor(w3, chain.sender(1)),
        token=deployment.token(w3),
        distributor=deployment.distributor(w3, chain.sender(2)),
        staking=deployment.staking(w3, chain.sender(6)),
    )


@pytest.fixture
def fresh(deployed: Deployed) -> Iterator[Deployed]:
    """The module's deployment, with every change of the test rolled back afterwards."""
    snapshot = deployed.chain.snapshot()
    try:
        yield deployed
    finally:
        deployed.chain.revert(snapshot)


# Real station sites (Beijing, from the shared stations list), as resolution-7 cells.
SITES = {
    "Aotizhongxin": (39.9821, 116.3966),
    "Dongsi": (39.9289, 116.4174),
    "Tiantan": (39.8863, 116.4072),
}


def register_device(
    fresh: Deployed, owner: int, site: str | None = "Aotizhongxin", key: DeviceKey | None = None
) -> DeviceKey:
    """A new device registered by its owner (account ``owner``), placed at ``site``."""
    key = key or DeviceKey.generate()
    registry = fresh.as_account(DeviceRegistry, owner)
    nonce = registry.nonce_of(key.device_id)
    pop = sign_pop(
        key, registry.address, fresh.chain.w3.eth.chain_id, fresh.chain.address(owner), nonce
    )
    registry.register(pop, cell=None if site is None else cell_from_latlng(*SITES[site]))
    return key


def fund_and_stake(fresh: Deployed, owner: int, device_id: bytes, amount: int) -> None:
    """Give account ``owner`` ``amount`` tokens from the genesis holder and stake them."""
    fresh.as_account(RewardToken, 0).transfer(fresh.chain.address(owner), amount)
    staking = fresh.as_account(DeviceStaking, owner)
    fresh.as_account(RewardToken, owner).approve(staking.address, amount)
    staking.stake(device_id, amount)
