"""What the API reads: the ledger, the series store and, when present, the anchorer's
state, the epoch bundles and the chain. The demo and ``fieldproof aggregator run`` pass
their own handles; the API never writes to any of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from aggregator.anchoring.state import AnchorState
from aggregator.ledger.sql import SqlLedger
from aggregator.series.base import SeriesStore
from fieldproof.verify import ContractView

if TYPE_CHECKING:  # the bindings pull in web3; only a deployment needs them
    from web3 import Web3

    from fieldproof.chain.bindings import DataAnchor, DeviceRegistry, RewardDistributor
    from fieldproof.chain.deploy import Deployment


@dataclass(frozen=True, slots=True)
class DeviceMeta:
    """What the operator says about a device: a label and where it stands."""

    name: str | None = None
    lat: float | None = None
    lon: float | None = None


class ChainReader(Protocol):
    """The chain reads the API needs: verification (as ``fieldproof.verify.ChainView``),
    owners and claimed rewards."""

    def public_key_of(self, device_id: bytes) -> bytes | None: ...

    def registered_at(self, device_id: bytes) -> int | None: ...

    def anchored_root(self, epoch: int) -> bytes | None: ...

    def owner_of(self, device_id: bytes) -> str | None: ...

    def claimed(self, owner: str) -> int: ...


class ContractReader(ContractView):
    """:class:`ChainReader` over the deployed DeviceRegistry, DataAnchor and distributor:
    the verifier's :class:`ContractView` plus owners and claimed rewards."""

    def __init__(
        self, registry: DeviceRegistry, anchor: DataAnchor, distributor: RewardDistributor
    ) -> None:
        super().__init__(registry, anchor)
        self.distributor = distributor

    @classmethod
    def from_deployment(cls, w3: Web3, deployment: Deployment) -> ContractReader:
        return cls(deployment.registry(w3), deployment.anchor(w3), deployment.distributor(w3))

    def owner_of(self, device_id: bytes) -> str | None:
        return self.registry.owner_of(device_id)

    def claimed(self, owner: str) -> int:
        return self.distributor.claimed(owner)


@dataclass(frozen=True, slots=True)
class ApiSources:
    """Handles the API reads from; the optional ones switch their endpoints on."""

    ledger: SqlLedger
    series: SeriesStore
    anchors: AnchorState | None = None
    bundle_dir: Path | None = None
    chain: ChainReader | None = None
    devices: Mapping[bytes, DeviceMeta] = field(default_factory=dict)
    # A device whose last message is older than this is shown as stale.
    stale_after_s: float = 300.0


def chain_reader(rpc: str, deployment_file: Path) -> ContractReader:
    """A :class:`ContractReader` over the contracts ``deployment_file`` names at ``rpc``."""
    from fieldproof.chain.backends import connect_deployment
    from fieldproof.chain.deploy import Deployment

    deployment = Deployment.load(deployment_file)
    return ContractReader.from_deployment(connect_deployment(rpc, deployment), deployment)
