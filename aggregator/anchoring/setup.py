"""The anchoring role built from its config sections: chain, key, epochs and rewards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aggregator.anchoring.chain import ContractChain
from aggregator.anchoring.errors import AnchoringValueError
from aggregator.anchoring.placements import ChainPlacements, DeviceFilePlacements
from aggregator.anchoring.service import AnchorSettings, EpochAnchorer
from aggregator.anchoring.state import AnchorState
from aggregator.config import AnchoringConfig, RewardsConfig
from aggregator.ledger.sql import SqlLedger
from fieldproof.rewards.placement import PlacementProvider
from fieldproof.rewards.rules import RuleParams
from fieldproof.rewards.scoring import ScoringParams

if TYPE_CHECKING:
    from web3 import Web3

    from fieldproof.chain.deploy import Deployment


def anchor_settings(anchoring: AnchoringConfig, rewards: RewardsConfig) -> AnchorSettings:
    return AnchorSettings(
        bundle_dir=anchoring.bundle_dir,
        epoch_seconds=anchoring.epoch_seconds,
        genesis=anchoring.genesis,
        grace_seconds=anchoring.grace_seconds,
        emission=rewards.emission,
        lease_seconds=anchoring.lease_seconds,
        holder=anchoring.holder,
        first_epoch=anchoring.first_epoch,
        params=ScoringParams(agreement_tolerance_ppm=rewards.agreement_tolerance_ppm),
        rules=RuleParams(
            cell_capacity=rewards.cell_capacity,
            neighbour_rings=rewards.neighbour_rings,
            min_neighbour_cells=rewards.min_neighbour_cells,
        ),
    )


def placement_source(
    rewards: RewardsConfig, w3: Web3, deployment: Deployment
) -> PlacementProvider | None:
    """The configured source of the devices' placements (``None``: version 1 rewards)."""
    if rewards.placements == "none":
        return None
    if rewards.placements == "devices":
        assert rewards.devices is not None  # the config checks it
        return DeviceFilePlacements(rewards.devices)
    if "DeviceStaking" not in deployment.contracts:
        raise AnchoringValueError(
            "rewards -> placements: chain, but the deployment has no DeviceStaking; "
            "use placements: devices (with a device file) or none"
        )
    return ChainPlacements(w3, deployment.staking(w3))


def build_anchorer(
    anchoring: AnchoringConfig, rewards: RewardsConfig, ledger: SqlLedger
) -> EpochAnchorer:
    """An anchorer over the deployed contracts, sending with the configured key; its
    state lives in ``ledger``. Refuses an emission above the distributor's epoch cap."""
    from fieldproof.chain.backends import connect_deployment
    from fieldproof.chain.deploy import Deployment
    from fieldproof.chain.keysource import load_account
    from fieldproof.chain.sender import Sender

    deployment = Deployment.load(anchoring.deployment)
    w3 = connect_deployment(anchoring.rpc, deployment)
    sender = Sender(w3, load_account(anchoring.key))
    chain = ContractChain(
        deployment.anchor(w3, sender), deployment.distributor(w3, sender), deployment.registry(w3)
    )
    cap = chain.distributor.epoch_cap()
    if rewards.emission > cap:
        # setRoot would revert every epoch and anchoring would stall behind it.
        raise AnchoringValueError(
            f"rewards -> emission: {rewards.emission} exceeds RewardDistributor's epoch cap {cap}"
        )
    state: AnchorState = ledger
    placements = placement_source(rewards, w3, deployment)
    return EpochAnchorer(
        anchor_settings(anchoring, rewards), ledger, chain, state, placements=placements
    )
