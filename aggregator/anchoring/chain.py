"""What the anchorer needs from the chain, and its implementation over the contracts."""

from __future__ import annotations

from typing import Protocol

from fieldproof.chain.bindings import DataAnchor, DeviceRegistry, RewardDistributor


class AnchorChain(Protocol):
    """DataAnchor and RewardDistributor writes with their reads, and device owners."""

    def anchor(self, epoch: int, root: bytes, count: int, uri: str) -> str | None:
        """Anchor ``root`` for ``epoch``; returns the transaction hash (``None``: skipped)."""
        ...

    def anchored_root(self, epoch: int) -> bytes | None: ...

    def set_reward_root(self, epoch: int, root: bytes, total_cumulative: int) -> str | None:
        """Publish the reward root of ``epoch``; returns the transaction hash."""
        ...

    def reward_root(self, epoch: int) -> bytes | None: ...

    def owner_of(self, device_id: bytes) -> str | None: ...


class ContractChain:
    """:class:`AnchorChain` over the deployed contracts (writes through their senders)."""

    def __init__(
        self, anchor: DataAnchor, distributor: RewardDistributor, registry: DeviceRegistry
    ) -> None:
        self.data_anchor = anchor
        self.distributor = distributor
        self.registry = registry

    def anchor(self, epoch: int, root: bytes, count: int, uri: str) -> str | None:
        return self.data_anchor.anchor(epoch, root, count, uri).tx_hash

    def anchored_root(self, epoch: int) -> bytes | None:
        return self.data_anchor.root_of(epoch)

    def set_reward_root(self, epoch: int, root: bytes, total_cumulative: int) -> str | None:
        return self.distributor.set_root(epoch, root, total_cumulative).tx_hash

    def reward_root(self, epoch: int) -> bytes | None:
        return self.distributor.root_of(epoch)

    def owner_of(self, device_id: bytes) -> str | None:
        return self.registry.owner_of(device_id)
