"""Deploy the five contracts, wire their roles, and describe the result as deployment.json.

``deployment.json`` holds the chain id and, per contract, its address and ABI, so any tool
(this package or not) can talk to the deployment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from eth_utils.address import to_checksum_address
from web3 import Web3

from fieldproof.chain.artifacts import CONTRACT_NAMES, load_artifact
from fieldproof.chain.bindings import (
    DEFAULT_ADMIN_ROLE,
    DISTRIBUTOR_ROLE,
    MINTER_ROLE,
    SLASHER_ROLE,
    Bound,
    DataAnchor,
    DeviceRegistry,
    RewardDistributor,
    RewardToken,
)
from fieldproof.chain.errors import ChainValueError
from fieldproof.chain.sender import Sender
from fieldproof.chain.staking import DeviceStaking

_B = TypeVar("_B", bound=Bound)

DEPLOYMENT_FORMAT = "fieldproof-deployment-v1"
DEFAULT_EPOCH_CAP = 1_000_000 * 10**18
DEFAULT_TOKEN_NAME = "Fieldproof Reward"
DEFAULT_TOKEN_SYMBOL = "FPR"
# A week off rewards after a move: longer than the few days a cell-hopping device could
# gain by chasing a free cell, short enough for an owner who really moved.
DEFAULT_MOVE_COOLDOWN = 7 * 24 * 3600
DEFAULT_MIN_STAKE = 100 * 10**18
# Two weeks: time to notice, weigh and slash a cheater's stake before it can leave.
DEFAULT_UNSTAKE_DELAY = 14 * 24 * 3600
# Minted once to the genesis holder so that the first owners can stake.
DEFAULT_GENESIS_SUPPLY = 10_000_000 * 10**18


@dataclass(frozen=True, slots=True)
class DeployedContract:
    address: str
    abi: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where the contracts of one deployment live."""

    chain_id: int
    contracts: Mapping[str, DeployedContract]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": DEPLOYMENT_FORMAT,
            "chainId": self.chain_id,
            "contracts": {
                name: {"address": entry.address, "abi": list(entry.abi)}
                for name, entry in self.contracts.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Deployment:
        try:
            if data.get("format") != DEPLOYMENT_FORMAT:
                raise ChainValueError(
                    f"deployment: format {data.get('format')!r}, expected {DEPLOYMENT_FORMAT!r}"
                )
            contracts = {
                name: DeployedContract(to_checksum_address(entry["address"]), tuple(entry["abi"]))
                for name, entry in data["contracts"].items()
            }
            missing = [name for name in CONTRACT_NAMES if name not in contracts]
            if missing:
                raise ChainValueError(f"deployment: contracts -> missing {', '.join(missing)}")
            return cls(int(data["chainId"]), contracts)
        except KeyError as exc:
            raise ChainValueError(f"deployment: missing key {exc}") from exc
        except (TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ChainValueError):
                raise
            raise ChainValueError(f"deployment: {exc}") from exc

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise ChainValueError(f"deployment {path}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise ChainValueError(f"deployment {path}: not JSON ({exc})") from exc
        return cls.from_json(data)

    def ensure_chain(self, w3: Web3) -> None:
        """Fail unless ``w3`` is connected to the chain this deployment lives on."""
        connected = int(w3.eth.chain_id)
        if connected != self.chain_id:
            raise ChainValueError(
                f"deployment is on chain {self.chain_id}, but the node serves chain {connected}"
            )

    def _bind(self, kind: type[_B], w3: Web3, sender: Sender | None) -> _B:
        entry = self.contracts[kind.contract_name]
        return kind(w3, entry.address, sender, entry.abi)

    def registry(self, w3: Web3, sender: Sender | None = None) -> DeviceRegistry:
        return self._bind(DeviceRegistry, w3, sender)

    def anchor(self, w3: Web3, sender: Sender | None = None) -> DataAnchor:
        return self._bind(DataAnchor, w3, sender)

    def token(self, w3: Web3, sender: Sender | None = None) -> RewardToken:
        return self._bind(RewardToken, w3, sender)

    def distributor(self, w3: Web3, sender: Sender | None = None) -> RewardDistributor:
        return self._bind(RewardDistributor, w3, sender)

    def staking(self, w3: Web3, sender: Sender | None = None) -> DeviceStaking:
        return self._bind(DeviceStaking, w3, sender)


def _deploy(sender: Sender, name: str, *args: Any) -> str:
    artifact = load_artifact(name)
    factory = sender.w3.eth.contract(abi=list(artifact.abi), bytecode=artifact.bytecode)
    data = factory.constructor(*args).data_in_transaction
    return sender.deploy(str(data), what=f"deploy {name}")


def deploy_all(
    sender: Sender,
    *,
    admin: str | None = None,
    anchorer: str | None = None,
    distributor: str | None = None,
    slasher: str | None = None,
    treasury: str | None = None,
    genesis_holder: str | None = None,
    epoch_cap: int = DEFAULT_EPOCH_CAP,
    token_name: str = DEFAULT_TOKEN_NAME,
    token_symbol: str = DEFAULT_TOKEN_SYMBOL,
    genesis_supply: int = DEFAULT_GENESIS_SUPPLY,
    move_cooldown: int = DEFAULT_MOVE_COOLDOWN,
    min_stake: int = DEFAULT_MIN_STAKE,
    unstake_delay: int = DEFAULT_UNSTAKE_DELAY,
) -> Deployment:
    """Deploy DeviceRegistry, DataAnchor, RewardToken, RewardDistributor and DeviceStaking.

    Roles: ``anchorer`` anchors, ``distributor`` publishes reward roots, ``slasher``
    slashes stakes (all default to the deployer), the RewardDistributor contract mints.
    Slashed tokens go to ``treasury`` and the genesis supply to ``genesis_holder`` (both
    default to ``admin``). The deployer administers everything while wiring roles and hands
    the admin role to ``admin`` at the end when that is another account.
    """
    me = sender.address
    admin = to_checksum_address(admin or me)
    anchorer = to_checksum_address(anchorer or me)
    distributor = to_checksum_address(distributor or me)
    slasher = to_checksum_address(slasher or me)
    treasury = to_checksum_address(treasury or admin)
    genesis_holder = to_checksum_address(genesis_holder or admin)
    w3 = sender.w3
    registry_address = _deploy(sender, "DeviceRegistry", me, move_cooldown)
    anchor_address = _deploy(sender, "DataAnchor", me, anchorer)
    token_address = _deploy(
        sender, "RewardToken", token_name, token_symbol, me, genesis_holder, genesis_supply
    )
    distributor_address = _deploy(sender, "RewardDistributor", token_address, me, epoch_cap)
    staking_address = _deploy(
        sender,
        "DeviceStaking",
        token_address,
        registry_address,
        me,
        treasury,
        min_stake,
        unstake_delay,
    )

    token = RewardToken(w3, token_address, sender)
    rewards = RewardDistributor(w3, distributor_address, sender)
    staking = DeviceStaking(w3, staking_address, sender)
    token.grant_role(MINTER_ROLE, distributor_address)
    rewards.grant_role(DISTRIBUTOR_ROLE, distributor)
    staking.grant_role(SLASHER_ROLE, slasher)
    bound: list[Bound] = [
        DeviceRegistry(w3, registry_address, sender),
        DataAnchor(w3, anchor_address, sender),
        token,
        rewards,
        staking,
    ]
    if admin != me:
        for contract in bound:
            contract.grant_role(DEFAULT_ADMIN_ROLE, admin)
            contract.renounce_role(DEFAULT_ADMIN_ROLE)
    addresses = {
        "DeviceRegistry": registry_address,
        "DataAnchor": anchor_address,
        "RewardToken": token_address,
        "RewardDistributor": distributor_address,
        "DeviceStaking": staking_address,
    }
    return Deployment(
        chain_id=int(w3.eth.chain_id),
        contracts={
            name: DeployedContract(to_checksum_address(address), load_artifact(name).abi)
            for name, address in addresses.items()
        },
    )
