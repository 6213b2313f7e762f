"""RewardToken and RewardDistributor on both backends: roots, caps, claims, pause."""

from __future__ import annotations

import pytest

from fieldproof.chain.bindings import RewardDistributor, RewardToken
from fieldproof.chain.errors import ChainError, ChainRevertError
from fieldproof.merkle import StandardMerkleTree
from tests.chain.conftest import EPOCH_CAP, GENESIS_SUPPLY, Deployed

ADMIN = 0
DISTRIBUTOR = 2
ALICE = 3
BOB = 4
STRANGER = 5
TYPES = ("address", "uint256")


def _tree(fresh: Deployed, amounts: dict[int, int]) -> StandardMerkleTree:
    return StandardMerkleTree.of(
        [(fresh.chain.address(index), amount) for index, amount in amounts.items()], TYPES
    )


def _publish(fresh: Deployed, epoch: int, amounts: dict[int, int]) -> StandardMerkleTree:
    tree = _tree(fresh, amounts)
    fresh.distributor.set_root(epoch, tree.root_bytes, sum(amounts.values()))
    return tree


def _claim(fresh: Deployed, tree: StandardMerkleTree, index: int, amount: int, by: int = STRANGER):
    account = fresh.chain.address(index)
    proof = tree.get_proof((account, amount))
    distributor = fresh.as_account(RewardDistributor, by)
    # Straight to the contract: the binding would skip a claim already paid.
    return distributor.sender.transact(  # type: ignore[union-attr]
        distributor.contract.functions.claim(account, amount, [bytes.fromhex(p[2:]) for p in proof])
    )


def _reason(excinfo: pytest.ExceptionInfo[ChainRevertError]) -> str:
    return excinfo.value.reason


def test_set_root_mints_the_increase(fresh: Deployed) -> None:
    tree = _publish(fresh, 1, {ALICE: 100, BOB: 50})
    d = fresh.distributor
    assert d.current_epoch() == 1
    assert d.merkle_root() == tree.root_bytes
    assert d.root_of(1) == tree.root_bytes
    assert d.total_cumulative() == 150
    assert fresh.token.balance_of(d.address) == 150
    _publish(fresh, 3, {ALICE: 300, BOB: 50})
    assert fresh.token.balance_of(d.address) == 350
    assert fresh.token.total_supply() == GENESIS_SUPPLY + 350


def test_claim_pays_the_difference_once(fresh: Deployed) -> None:
    tree = _publish(fresh, 1, {ALICE: 100, BOB: 50})
    alice = fresh.chain.address(ALICE)
    _claim(fresh, tree, ALICE, 100)
    assert fresh.token.balance_of(alice) == 100
    assert fresh.distributor.claimed(alice) == 100
    with pytest.raises(ChainRevertError) as excinfo:
        _claim(fresh, tree, ALICE, 100)
    assert _reason(excinfo) == "NothingToClaim"
    assert fresh.distributor.claim(alice, 100, tree.get_proof((alice, 100))).skipped
    tree = _publish(fresh, 2, {ALICE: 180, BOB: 50})
    _claim(fresh, tree, ALICE, 180, by=ALICE)
    assert fresh.token.balance_of(alice) == 180
    assert fresh.token.balance_of(fresh.distributor.address) == 50
    (first, second) = fresh.distributor.contract.events.Claimed.get_logs(from_block=0)
    assert [first["args"]["cumulative"], second["args"]["cumulative"]] == [100, 180]


def test_bad_proofs_are_refused(fresh: Deployed) -> None:
    tree = _publish(fresh, 1, {ALICE: 100, BOB: 50, STRANGER: 7})
    alice = fresh.chain.address(ALICE)
    proof = [bytes.fromhex(p[2:]) for p in tree.get_proof((alice, 100))]
    contract = fresh.distributor.contract.functions
    sender = fresh.distributor.sender
    assert sender is not None
    attempts = [
        contract.claim(alice, 101, proof),  # more than promised
        contract.claim(fresh.chain.address(BOB), 100, proof),  # someone else's leaf
        contract.claim(alice, 100, [bytes(32), *proof[1:]]),  # tampered node
        contract.claim(alice, 100, []),  # no proof
    ]
    for call in attempts:
        with pytest.raises(ChainRevertError) as excinfo:
            sender.transact(call)
        assert _reason(excinfo) == "InvalidProof"
    assert fresh.token.balance_of(alice) == 0


def test_stale_proof_after_a_new_root_is_refused(fresh: Deployed) -> None:
    old = _publish(fresh, 1, {ALICE: 100, BOB: 50})
    _publish(fresh, 2, {ALICE: 120, BOB: 50})
    with pytest.raises(ChainRevertError) as excinfo:
        _claim(fresh, old, ALICE, 100)
    assert _reason(excinfo) == "InvalidProof"


def test_claim_before_any_root_is_refused(fresh: Deployed) -> None:
    tree = _tree(fresh, {ALICE: 1, BOB: 2})
    with pytest.raises(ChainRevertError) as excinfo:
        _claim(fresh, tree, ALICE, 1)
    assert _reason(excinfo) == "InvalidProof"
    assert fresh.distributor.current_epoch() is None


@pytest.mark.parametrize("epoch", [1, 4])
def test_epochs_must_increase(fresh: Deployed, epoch: int) -> None:
    _publish(fresh, 4, {ALICE: 1})
    tree = _tree(fresh, {ALICE: 2})
    sender = fresh.distributor.sender
    assert sender is not None
    # Straight to the contract: the binding itself refuses a second root for epoch 4.
    with pytest.raises(ChainRevertError) as excinfo:
        sender.transact(fresh.distributor.contract.functions.setRoot(epoch, tree.root_bytes, 2))
    assert _reason(excinfo) == "EpochNotIncreasing"
    assert fresh.distributor.current_epoch() == 4


def test_binding_refuses_a_second_root_for_an_epoch(fresh: Deployed) -> None:
    tree = _publish(fresh, 4, {ALICE: 1})
    assert fresh.distributor.set_root(4, tree.root_bytes, 1).skipped
    with pytest.raises(ChainError, match="already holds root"):
        fresh.distributor.set_root(4, b"\x01" * 32, 2)


def test_total_never_decreases(fresh: Deployed) -> None:
    _publish(fresh, 1, {ALICE: 100})
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.distributor.set_root(2, b"\x02" * 32, 99)
    assert _reason(excinfo) == "TotalDecreased"


def test_zero_root_is_refused(fresh: Deployed) -> None:
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.distributor.set_root(1, bytes(32), 0)
    assert _reason(excinfo) == "ZeroRoot"


def test_epoch_cap_is_enforced_and_set_by_the_admin_only(fresh: Deployed) -> None:
    assert fresh.distributor.epoch_cap() == EPOCH_CAP
    _publish(fresh, 1, {ALICE: EPOCH_CAP})  # exactly the cap is allowed
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.distributor.set_root(2, b"\x03" * 32, 2 * EPOCH_CAP + 1)
    assert _reason(excinfo) == "EpochCapExceeded"
    for who in (DISTRIBUTOR, STRANGER):
        with pytest.raises(ChainRevertError) as excinfo:
            fresh.as_account(RewardDistributor, who).set_epoch_cap(10**30)
        assert _reason(excinfo) == "AccessControlUnauthorizedAccount"
    fresh.as_account(RewardDistributor, ADMIN).set_epoch_cap(10)
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.distributor.set_root(2, b"\x03" * 32, EPOCH_CAP + 11)
    assert _reason(excinfo) == "EpochCapExceeded"
    fresh.distributor.set_root(2, b"\x03" * 32, EPOCH_CAP + 10)


@pytest.mark.parametrize("who", [ADMIN, STRANGER])
def test_only_the_distributor_sets_roots(fresh: Deployed, who: int) -> None:
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.as_account(RewardDistributor, who).set_root(1, b"\x01" * 32, 1)
    assert _reason(excinfo) == "AccessControlUnauthorizedAccount"


def test_only_minters_mint(fresh: Deployed) -> None:
    for who in (ADMIN, DISTRIBUTOR, STRANGER):
        token = fresh.as_account(RewardToken, who)
        with pytest.raises(ChainRevertError) as excinfo:
            token.sender.transact(token.contract.functions.mint(token.sender.address, 1))  # type: ignore[union-attr]
        assert _reason(excinfo) == "AccessControlUnauthorizedAccount"


def test_pause_stops_claims_and_only_the_admin_pauses(fresh: Deployed) -> None:
    tree = _publish(fresh, 1, {ALICE: 100, BOB: 50})
    for who in (DISTRIBUTOR, STRANGER):
        with pytest.raises(ChainRevertError) as excinfo:
            fresh.as_account(RewardDistributor, who).pause()
        assert _reason(excinfo) == "AccessControlUnauthorizedAccount"
    admin = fresh.as_account(RewardDistributor, ADMIN)
    admin.pause()
    assert fresh.distributor.paused()
    with pytest.raises(ChainRevertError) as excinfo:
        _claim(fresh, tree, ALICE, 100)
    assert _reason(excinfo) == "EnforcedPause"
    # A root may still be replaced while paused, so a faulty one never pays out.
    tree = _publish(fresh, 2, {ALICE: 90, BOB: 60})
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.as_account(RewardDistributor, STRANGER).unpause()
    assert _reason(excinfo) == "AccessControlUnauthorizedAccount"
    admin.unpause()
    _claim(fresh, tree, ALICE, 90)
    assert fresh.token.balance_of(fresh.chain.address(ALICE)) == 90


def test_token_metadata(fresh: Deployed) -> None:
    assert fresh.token.symbol() == "FPR"
    assert fresh.token.decimals() == 18
    assert fresh.distributor.token_address() == fresh.token.address
