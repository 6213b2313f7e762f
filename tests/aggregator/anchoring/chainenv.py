"""A fresh deployment on eth-tester or anvil, with registered devices, for anchoring tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from aggregator.anchoring.chain import ContractChain
from fieldproof.chain.backends import connect, prefunded_keys
from fieldproof.chain.bindings import DataAnchor, DeviceRegistry, RewardDistributor, RewardToken
from fieldproof.chain.deploy import Deployment, deploy_all
from fieldproof.chain.pop import sign_pop
from fieldproof.chain.sender import Sender
from fieldproof.identity import DeviceKey
from fieldproof.verify import ContractView
from tests.services.anvil import rpc

BACKENDS = ("eth-tester", "anvil")
EPOCH_CAP = 10**27
# Accounts: 0 deployer/admin, 1 anchorer, 2 distributor, 3 and 4 device owners.
ADMIN, ANCHORER, DISTRIBUTOR, OWNER_A, OWNER_B = range(5)


@dataclass
class ChainEnv:
    url: str
    w3: Web3
    accounts: list[LocalAccount]
    deployment: Deployment
    senders: list[Sender]

    def address(self, index: int) -> str:
        return str(self.accounts[index].address)

    @property
    def registry(self) -> DeviceRegistry:
        return self.deployment.registry(self.w3, self.senders[OWNER_A])

    @property
    def anchor(self) -> DataAnchor:
        return self.deployment.anchor(self.w3, self.senders[ANCHORER])

    @property
    def distributor(self) -> RewardDistributor:
        return self.deployment.distributor(self.w3, self.senders[DISTRIBUTOR])

    @property
    def token(self) -> RewardToken:
        return self.deployment.token(self.w3)

    def contract_chain(self) -> ContractChain:
        return ContractChain(self.anchor, self.distributor, self.registry)

    def view(self) -> ContractView:
        return ContractView(self.deployment.registry(self.w3), self.deployment.anchor(self.w3))

    def register(self, key: DeviceKey, owner: int) -> int:
        """Register ``key`` for account ``owner``; returns the registration's timestamp."""
        registry = self.registry
        pop = sign_pop(
            key,
            registry.address,
            int(self.w3.eth.chain_id),
            self.address(owner),
            registry.nonce_of(key.device_id),
        )
        registry.register(pop)
        registration = registry.registration_of(key.device_id)
        assert registration is not None
        return registration.timestamp

    def snapshot(self) -> object:
        return self.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]

    def revert(self, snapshot: object) -> None:
        """Roll the chain back to ``snapshot``; senders re-read their nonces."""
        self.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
        for sender in self.senders:
            sender.resync()

    def latest_timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


def make_env(backend: str, request: pytest.FixtureRequest) -> ChainEnv:
    """Deploy the contracts afresh on ``backend`` (anvil through the session's node)."""
    if backend == "eth-tester":
        url = "eth-tester://"
        w3 = connect(url)
        accounts = [Account.from_key(key) for key in prefunded_keys(w3)[:5]]
    else:
        url = request.getfixturevalue("anvil_url")
        w3 = connect(url)
        accounts = [Account.create() for _ in range(5)]
        for account in accounts:
            rpc(url, "anvil_setBalance", [account.address, hex(10**24)])
    senders = [Sender(w3, account, receipt_timeout=30) for account in accounts]
    deployment = deploy_all(
        senders[ADMIN],
        anchorer=accounts[ANCHORER].address,
        distributor=accounts[DISTRIBUTOR].address,
        epoch_cap=EPOCH_CAP,
    )
    return ChainEnv(url, w3, accounts, deployment, senders)
