"""The anchoring service against the real contracts (eth-tester and anvil) and ledger.

Full loop over several epochs with every report proven end to end; crashes between
closing, sending and recording; an RPC outage; an empty epoch; the leader lease.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import h3
import pytest
from eth_hash.auto import keccak

from aggregator.anchoring.chain import ContractChain
from aggregator.anchoring.errors import AnchoringError
from aggregator.anchoring.service import AnchorSettings, EpochAnchorer
from aggregator.ledger import Batch, EpochStatus, IncomingReport, SqlLedger, open_ledger
from fieldproof.bundle import read_bundle
from fieldproof.chain.errors import ChainError
from fieldproof.rewards.placement import DevicePlacement, StaticPlacements
from fieldproof.rewards.tree import load_tree, rescore
from fieldproof.verify import STEP_REGISTERED, STEP_SIGNATURE, all_ok, verify
from tests.aggregator.anchoring.chainenv import BACKENDS, OWNER_A, OWNER_B, ChainEnv, make_env
from tests.aggregator.anchoring.reports import KEYS, signed

EPOCH = 60
EMISSION = 1_000 * 10**18
# One device per cell around Dongsi (Beijing): placed, eligible, staked.
_CELLS = sorted(h3.grid_disk(h3.latlng_to_cell(39.9289, 116.4174, 7), 2))
PLACEMENTS = StaticPlacements(
    {key.device_id: DevicePlacement(_CELLS[i], 1_000 + i) for i, key in enumerate(KEYS)}
)


@pytest.fixture(scope="module", params=BACKENDS)
def deployed_env(request: pytest.FixtureRequest) -> ChainEnv:
    env = make_env(request.param, request)
    env.register(KEYS[0], OWNER_A)
    env.register(KEYS[1], OWNER_A)
    env.register(KEYS[2], OWNER_B)
    # KEYS[3] stays unregistered: its reports are anchored but earn nothing.
    return env


@pytest.fixture
def env(deployed_env: ChainEnv) -> Iterator[ChainEnv]:
    """The module's deployment; whatever a test does on-chain is rolled back after it."""
    snapshot = deployed_env.snapshot()
    try:
        yield deployed_env
    finally:
        deployed_env.revert(snapshot)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqlLedger]:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield ledger
    ledger.close()


class Harness:
    """A ledger filled epoch by epoch, and anchorers that can be "restarted"."""

    def __init__(self, env: ChainEnv, ledger: SqlLedger, tmp_path: Path) -> None:
        self.env = env
        self.ledger = ledger
        self.tmp_path = tmp_path
        # Reports lie after every registration so the registration step holds too.
        self.genesis = env.latest_timestamp() + 1_000
        self.settings = AnchorSettings(
            bundle_dir=tmp_path / "bundles",
            epoch_seconds=EPOCH,
            genesis=self.genesis,
            grace_seconds=1,
            emission=EMISSION,
        )
        self.raws: dict[int, list[bytes]] = {}
        self._seq = 0
        self.state_url = f"sqlite:///{tmp_path / 'anchor.db'}"

    def anchorer(self, chain: object | None = None) -> EpochAnchorer:
        # The anchor state lives in a ledger (here one of its own, or a shared PostgreSQL).
        state = open_ledger(self.state_url)
        return EpochAnchorer(
            self.settings,
            self.ledger,
            chain or self.env.contract_chain(),  # type: ignore[arg-type]
            state,
            placements=PLACEMENTS,
        )

    def fill(self, epoch: int, devices: tuple[int, ...] = (0, 1, 2, 3)) -> None:
        start = self.genesis + epoch * EPOCH
        batch = Batch()
        for device in devices:
            for i in range(2):
                self._seq += 1
                report = signed(KEYS[device], self._seq, start + 30 * i, 30, [("temp", 20.0)])
                batch.reports.append(
                    IncomingReport(
                        device_id=report.device_id,
                        seq=report.seq,
                        received_at=start + 30 * i + 5,
                        start=start + 30 * i,
                        end=start + 30 * i + 30,
                        raw=report.raw,
                        digest=bytes(keccak(report.raw)),
                    )
                )
                self.raws.setdefault(epoch, []).append(report.raw)
        self.ledger.write_batch(batch)

    def after(self, epoch: int) -> float:
        """A moment at which ``epoch`` (and all before it) may close."""
        return self.genesis + (epoch + 1) * EPOCH + 2

    def anchored_epochs(self) -> list[int]:
        logs = self.env.anchor.contract.events.Anchored.get_logs(from_block=0)
        return [int(log["args"]["epoch"]) for log in logs]

    def reward_epochs(self) -> list[int]:
        logs = self.env.distributor.contract.events.RootSet.get_logs(from_block=0)
        return [int(log["args"]["epoch"]) for log in logs]


@pytest.fixture
def harness(env: ChainEnv, ledger: SqlLedger, tmp_path: Path) -> Harness:
    return Harness(env, ledger, tmp_path)


def test_full_loop_proves_every_report_and_pays_owners(harness: Harness) -> None:
    env = harness.env
    anchorer = harness.anchorer()
    assert anchorer.tick(harness.genesis + 1) == []  # epoch 0 is still open
    for epoch in range(3):
        harness.fill(epoch)
    outcomes = anchorer.tick(harness.after(2))
    assert [o.epoch for o in outcomes] == [0, 1, 2]
    assert all(o.status is EpochStatus.DONE for o in outcomes)
    assert harness.anchored_epochs() == [0, 1, 2]
    assert harness.reward_epochs() == [0, 1, 2]
    view = env.view()
    for outcome in outcomes:
        assert outcome.cid is not None
        cid, bundle, dump = read_bundle(harness.settings.bundle_dir / f"{outcome.cid}.json")
        assert env.anchor.root_of(outcome.epoch) == bundle.root == outcome.root
        record = env.anchor.anchor_record(outcome.epoch)
        assert record is not None
        assert record.uri == f"ipfs://{cid}"
        assert record.count == bundle.count == 8
        for report in bundle.reports:
            steps = verify(report.raw, bundle.proof(report.device_id, report.seq), view)
            if report.device_id == KEYS[3].device_id:
                # Anchored, but no registered key vouches for it.
                failed = [step.name for step in steps if not step.ok]
                assert failed == [STEP_SIGNATURE, STEP_REGISTERED]
            else:
                assert all_ok(steps), steps
        assert {r.raw for r in bundle.reports} == set(harness.raws[outcome.epoch])
        # Anyone re-running the scoring on the published bundle gets the published root.
        assert dump is not None
        assert rescore(bundle, dump).root == env.distributor.root_of(outcome.epoch)
    # Owners claim the last epoch's cumulative amounts.
    _, _, dump = read_bundle(harness.settings.bundle_dir / f"{outcomes[-1].cid}.json")
    assert dump is not None
    tree = load_tree(dump)
    assert tree is not None
    paid = 0
    for index, (owner, cumulative) in tree.entries():
        env.distributor.claim(owner, cumulative, tree.get_proof(index))
        assert env.token.balance_of(owner) == cumulative
        paid += cumulative
    # Three registered devices with equal scores, two owned by A: A gets two thirds.
    a, b = env.address(OWNER_A), env.address(OWNER_B)
    assert env.token.balance_of(a) == 3 * (EMISSION * 2 // 3)
    assert env.token.balance_of(b) == 3 * (EMISSION // 3)
    assert env.distributor.total_cumulative() == paid
    # A second tick has nothing left to do.
    assert anchorer.tick(harness.after(2)) == []


class SimulatedCrashError(Exception):
    pass


class CrashingChain(ContractChain):
    """Dies once at a chosen point: before or after sending the anchor or the reward root."""

    def __init__(self, inner: ContractChain, point: str, epoch: int) -> None:
        super().__init__(inner.data_anchor, inner.distributor, inner.registry)
        self.point = point
        self.epoch = epoch
        self.crashed = False

    def _maybe(self, point: str, epoch: int) -> None:
        if not self.crashed and self.point == point and self.epoch == epoch:
            self.crashed = True
            raise SimulatedCrashError(point)

    def anchor(self, epoch: int, root: bytes, count: int, uri: str) -> str | None:
        self._maybe("before-anchor", epoch)
        tx = super().anchor(epoch, root, count, uri)
        self._maybe("after-anchor", epoch)
        return tx

    def set_reward_root(self, epoch: int, root: bytes, total_cumulative: int) -> str | None:
        self._maybe("before-reward", epoch)
        tx = super().set_reward_root(epoch, root, total_cumulative)
        self._maybe("after-reward", epoch)
        return tx


@pytest.mark.parametrize(
    "point", ["before-anchor", "after-anchor", "before-reward", "after-reward"]
)
def test_crash_and_restart_anchor_each_epoch_exactly_once(harness: Harness, point: str) -> None:
    harness.anchorer().tick(harness.genesis + 1)
    for epoch in range(4):
        harness.fill(epoch)
    crashing = CrashingChain(harness.env.contract_chain(), point, epoch=1)
    with pytest.raises(SimulatedCrashError):
        harness.anchorer(crashing).tick(harness.after(3))
    assert crashing.crashed
    # A new process on the same state database takes over.
    outcomes = harness.anchorer().tick(harness.after(3))
    assert [o.epoch for o in outcomes] == [1, 2, 3]
    assert harness.anchored_epochs() == [0, 1, 2, 3]
    assert harness.reward_epochs() == [0, 1, 2, 3]
    state = open_ledger(harness.state_url)
    assert [r.status for r in state.epochs()] == [EpochStatus.DONE] * 4


class FlakyChain(ContractChain):
    """An RPC outage: the first ``failures`` reads of anchored roots fail."""

    def __init__(self, inner: ContractChain, failures: int) -> None:
        super().__init__(inner.data_anchor, inner.distributor, inner.registry)
        self.failures = failures

    def anchored_root(self, epoch: int) -> bytes | None:
        if self.failures > 0:
            self.failures -= 1
            raise ChainError("node does not answer (simulated outage)")
        return super().anchored_root(epoch)


def test_rpc_outage_delays_but_never_skips(harness: Harness) -> None:
    flaky = FlakyChain(harness.env.contract_chain(), failures=2)
    anchorer = harness.anchorer(flaky)
    anchorer.tick(harness.genesis + 1)
    harness.fill(0)
    harness.fill(1)
    for _ in range(2):
        with pytest.raises(ChainError):
            anchorer.tick(harness.after(1))
    assert harness.anchored_epochs() == []
    assert [o.epoch for o in anchorer.tick(harness.after(1))] == [0, 1]
    assert harness.anchored_epochs() == [0, 1]


def test_empty_epoch_is_closed_without_an_anchor(harness: Harness) -> None:
    anchorer = harness.anchorer()
    anchorer.tick(harness.genesis + 1)
    harness.fill(0)
    harness.fill(2)
    outcomes = anchorer.tick(harness.after(2))
    assert [(o.epoch, o.status) for o in outcomes] == [
        (0, EpochStatus.DONE),
        (1, EpochStatus.EMPTY),
        (2, EpochStatus.DONE),
    ]
    assert harness.anchored_epochs() == [0, 2]


def test_a_foreign_root_on_chain_stops_the_anchorer(harness: Harness) -> None:
    anchorer = harness.anchorer()
    anchorer.tick(harness.genesis + 1)
    harness.fill(0)
    anchorer.close(0)
    harness.env.anchor.anchor(0, b"\x07" * 32, 1, "ipfs://other")
    with pytest.raises(AnchoringError, match="refusing"):
        anchorer.tick(harness.after(0))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_only_the_lease_holder_anchors(
    harness: Harness, database: str, request: pytest.FixtureRequest
) -> None:
    if database == "postgresql":
        # Aggregators sharing a PostgreSQL database elect the anchorer there.
        harness.state_url = request.getfixturevalue("postgres_url")
    first = harness.anchorer()
    second = harness.anchorer()
    object.__setattr__(second, "settings", _with_holder(harness.settings, "second"))
    assert first.tick(harness.genesis + 1) == []
    harness.fill(0)
    renewed = harness.genesis + EPOCH - 10
    assert first.tick(renewed) == []  # renews the lease; epoch 0 is still open
    assert second.tick(harness.after(0)) == []  # the first holds the lease
    assert harness.anchored_epochs() == []
    # Once the first stops renewing, the lease expires and the second takes over.
    later = renewed + harness.settings.lease_seconds + 1
    assert [o.epoch for o in second.tick(later)] == [0]
    assert first.tick(later + 1) == []


def _with_holder(settings: AnchorSettings, holder: str) -> AnchorSettings:
    from dataclasses import replace

    return replace(settings, holder=holder)


class StealingChain(ContractChain):
    """While the epoch is being closed, another process takes the lease over."""

    def __init__(self, inner: ContractChain, thief: EpochAnchorer, at: float) -> None:
        super().__init__(inner.data_anchor, inner.distributor, inner.registry)
        self.thief = thief
        self.at = at
        self.stolen = False

    def owner_of(self, device_id: bytes) -> str | None:
        if not self.stolen:
            self.stolen = self.thief.is_leader(self.at)
        return super().owner_of(device_id)


def test_lease_lost_while_closing_sends_nothing(harness: Harness) -> None:
    thief = harness.anchorer()
    object.__setattr__(thief, "settings", _with_holder(harness.settings, "thief"))
    # The thief's moment lies after the victim's renewed lease ran out.
    stolen_at = harness.after(0) + harness.settings.lease_seconds + 1
    victim = harness.anchorer(StealingChain(harness.env.contract_chain(), thief, stolen_at))
    victim.tick(harness.genesis + 1)
    harness.fill(0)
    with pytest.raises(AnchoringError, match="lost the anchoring lease"):
        victim.tick(harness.after(0))
    assert harness.anchored_epochs() == []
    # The new leader finishes the epoch the victim closed, with the root it persisted.
    assert [o.epoch for o in thief.tick(stolen_at + 1)] == [0]
    assert harness.anchored_epochs() == [0]
