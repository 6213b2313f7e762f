"""DeviceStaking on both backends: stake, unstake cool-down, slashing, roles, pause."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fieldproof.chain.bindings import SLASHER_ROLE, DeviceRegistry, RewardToken
from fieldproof.chain.errors import ChainRevertError
from fieldproof.chain.staking import DeviceStaking, evidence_uri
from tests.chain.conftest import (
    MIN_STAKE,
    UNSTAKE_DELAY,
    Deployed,
    fund_and_stake,
    register_device,
)

ADMIN = 0
OWNER = 3
OTHER = 4
STRANGER = 5
SLASHER = 6
TREASURY = 7
EVIDENCE = evidence_uri("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", "clone")


def _reason(excinfo: pytest.ExceptionInfo[ChainRevertError]) -> str:
    return excinfo.value.reason


def _fund(fresh: Deployed, index: int, amount: int) -> None:
    fresh.as_account(RewardToken, ADMIN).transfer(fresh.chain.address(index), amount)
    fresh.as_account(RewardToken, index).approve(fresh.staking.address, amount)


def _as(fresh: Deployed, index: int) -> DeviceStaking:
    return fresh.as_account(DeviceStaking, index)


def _raw_withdraw(fresh: Deployed, index: int, device_id: bytes) -> None:
    """Straight to the contract: the binding skips a withdrawal with nothing pending."""
    staking = _as(fresh, index)
    assert staking.sender is not None
    staking.sender.transact(staking.contract.functions.withdraw(device_id))


def _balance(fresh: Deployed, index: int) -> int:
    return fresh.token.balance_of(fresh.chain.address(index))


def test_stake_makes_a_located_active_device_eligible(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER)
    owner = fresh.chain.address(OWNER)
    assert not fresh.staking.is_eligible(key.device_id)
    _fund(fresh, OWNER, MIN_STAKE)
    staking = _as(fresh, OWNER)
    staking.stake(key.device_id, MIN_STAKE - 1)
    assert not fresh.staking.is_eligible(key.device_id)  # below the minimum
    staking.stake(key.device_id, 1)
    assert fresh.staking.stake_of(key.device_id, owner).amount == MIN_STAKE
    assert fresh.staking.is_eligible(key.device_id)
    assert _balance(fresh, OWNER) == 0
    assert fresh.token.balance_of(fresh.staking.address) == MIN_STAKE
    changes = fresh.staking.stake_changes(key.device_id)
    assert [(c.kind, c.amount, c.balance) for c in changes] == [
        ("staked", MIN_STAKE - 1, MIN_STAKE - 1),
        ("staked", 1, MIN_STAKE),
    ]
    assert changes[0].staker == owner
    # stake_to is a target, so running it again sends nothing.
    assert staking.stake_to(key.device_id, MIN_STAKE).skipped


def test_stake_is_refused_for_others_nothing_and_without_allowance(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER)
    _fund(fresh, STRANGER, MIN_STAKE)
    with pytest.raises(ChainRevertError) as excinfo:
        _as(fresh, STRANGER).stake(key.device_id, MIN_STAKE)
    assert _reason(excinfo) == "NotDeviceOwner"
    with pytest.raises(ChainRevertError) as excinfo:
        _as(fresh, STRANGER).stake(b"\x01" * 32, MIN_STAKE)  # not registered
    assert _reason(excinfo) == "NotDeviceOwner"
    owner = _as(fresh, OWNER)
    with pytest.raises(ChainRevertError) as excinfo:
        owner.sender.transact(owner.contract.functions.stake(key.device_id, 0))  # type: ignore[union-attr]
    assert _reason(excinfo) == "ZeroAmount"
    with pytest.raises(ChainRevertError) as excinfo:
        owner.sender.transact(owner.contract.functions.requestUnstake(key.device_id, 0))  # type: ignore[union-attr]
    assert _reason(excinfo) == "ZeroAmount"
    with pytest.raises(ChainRevertError) as excinfo:
        _as(fresh, OWNER).stake(key.device_id, MIN_STAKE)  # holds nothing, approved nothing
    assert _reason(excinfo) == "ERC20InsufficientAllowance"


def test_unstake_waits_for_the_delay(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER)
    fund_and_stake(fresh, OWNER, key.device_id, 3 * MIN_STAKE)
    staking = _as(fresh, OWNER)
    owner = fresh.chain.address(OWNER)
    with pytest.raises(ChainRevertError) as excinfo:
        staking.request_unstake(key.device_id, 4 * MIN_STAKE)
    assert _reason(excinfo) == "InsufficientStake"
    with pytest.raises(ChainRevertError) as excinfo:
        _raw_withdraw(fresh, OWNER, key.device_id)
    assert _reason(excinfo) == "NothingPending"
    outcome = staking.request_unstake(key.device_id, 2 * MIN_STAKE)
    assert outcome.block_number is not None
    requested_at = int(fresh.chain.w3.eth.get_block(outcome.block_number)["timestamp"])
    info = fresh.staking.stake_of(key.device_id, owner)
    assert (info.amount, info.pending) == (MIN_STAKE, 2 * MIN_STAKE)
    assert info.unlock_at == requested_at + UNSTAKE_DELAY
    assert fresh.staking.is_eligible(key.device_id)  # the rest still meets the minimum
    fresh.chain.advance(UNSTAKE_DELAY // 2)
    with pytest.raises(ChainRevertError) as excinfo:
        staking.withdraw(key.device_id)
    assert _reason(excinfo) == "StillLocked"
    # Pending tokens never count: a device left below the minimum is ineligible at once.
    staking.request_unstake(key.device_id, 1)
    assert not fresh.staking.is_eligible(key.device_id)
    restarted = fresh.staking.stake_of(key.device_id, owner).unlock_at
    assert restarted > info.unlock_at  # a further request restarts the wait
    fresh.chain.advance(UNSTAKE_DELAY // 2 + 10)
    with pytest.raises(ChainRevertError) as excinfo:
        staking.withdraw(key.device_id)
    assert _reason(excinfo) == "StillLocked"
    fresh.chain.advance(UNSTAKE_DELAY // 2)
    staking.withdraw(key.device_id)
    assert _balance(fresh, OWNER) == 2 * MIN_STAKE + 1
    info = fresh.staking.stake_of(key.device_id, owner)
    assert (info.amount, info.pending, info.unlock_at) == (MIN_STAKE - 1, 0, 0)
    kinds = [c.kind for c in fresh.staking.stake_changes(key.device_id)]
    assert kinds == ["staked", "unstake_requested", "unstake_requested", "withdrawn"]
    # The binding treats a finished withdrawal as done.
    assert staking.withdraw(key.device_id).skipped


def test_slash_sends_staked_then_pending_tokens_to_the_treasury(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER)
    fund_and_stake(fresh, OWNER, key.device_id, 3 * MIN_STAKE)
    owner = fresh.chain.address(OWNER)
    _as(fresh, OWNER).request_unstake(key.device_id, 2 * MIN_STAKE)
    before = _balance(fresh, TREASURY)
    # Asking to leave does not escape a slash: pending tokens are taken once stake is gone.
    fresh.staking.slash(key.device_id, 2 * MIN_STAKE, EVIDENCE)
    info = fresh.staking.stake_of(key.device_id, owner)
    assert (info.amount, info.pending) == (0, MIN_STAKE)
    assert _balance(fresh, TREASURY) == before + 2 * MIN_STAKE
    assert not fresh.staking.is_eligible(key.device_id)
    # More than is left takes what is left.
    fresh.staking.slash(key.device_id, 10 * MIN_STAKE, EVIDENCE + "-again")
    assert _balance(fresh, TREASURY) == before + 3 * MIN_STAKE
    assert fresh.token.balance_of(fresh.staking.address) == 0
    slashes = fresh.staking.slashes(key.device_id)
    assert [(s.amount, s.staker, s.evidence_uri) for s in slashes] == [
        (2 * MIN_STAKE, owner, EVIDENCE),
        (MIN_STAKE, owner, EVIDENCE + "-again"),
    ]
    assert {s.treasury for s in slashes} == {fresh.chain.address(TREASURY)}
    assert EVIDENCE.startswith("ipfs://bafk")
    assert EVIDENCE.endswith("#flag=clone")
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.staking.slash(key.device_id, 1, EVIDENCE)
    assert _reason(excinfo) == "NothingToSlash"
    with pytest.raises(ChainRevertError) as excinfo:
        _raw_withdraw(fresh, OWNER, key.device_id)
    assert _reason(excinfo) == "NothingPending"


def test_only_the_slasher_slashes_and_only_with_evidence(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER)
    fund_and_stake(fresh, OWNER, key.device_id, MIN_STAKE)
    for index in (ADMIN, OWNER, STRANGER, TREASURY):
        with pytest.raises(ChainRevertError) as excinfo:
            _as(fresh, index).slash(key.device_id, 1, EVIDENCE)
        assert _reason(excinfo) == "AccessControlUnauthorizedAccount"
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.staking.slash(key.device_id, 1, "")
    assert _reason(excinfo) == "EmptyEvidence"
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.staking.slash(key.device_id, 0, EVIDENCE)
    assert _reason(excinfo) == "ZeroAmount"
    # The admin grants the role; the slash then goes through.
    _as(fresh, ADMIN).grant_role(SLASHER_ROLE, fresh.chain.address(STRANGER))
    _as(fresh, STRANGER).slash(key.device_id, 1, EVIDENCE)
    assert fresh.staking.stake_of(key.device_id, fresh.chain.address(OWNER)).amount == MIN_STAKE - 1


def test_pause_freezes_exits_but_not_slashing(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER)
    fund_and_stake(fresh, OWNER, key.device_id, 2 * MIN_STAKE)
    staking = _as(fresh, OWNER)
    staking.request_unstake(key.device_id, MIN_STAKE)
    fresh.chain.advance(UNSTAKE_DELAY + 1)
    for index in (OWNER, SLASHER, STRANGER):
        with pytest.raises(ChainRevertError) as excinfo:
            _as(fresh, index).pause()
        assert _reason(excinfo) == "AccessControlUnauthorizedAccount"
    admin = _as(fresh, ADMIN)
    admin.pause()
    assert fresh.staking.paused()
    writes: list[Callable[[], object]] = [
        lambda: staking.withdraw(key.device_id),
        lambda: staking.request_unstake(key.device_id, 1),
        lambda: staking.stake(key.device_id, 1),
    ]
    for write in writes:
        with pytest.raises(ChainRevertError) as excinfo:
            write()
        assert _reason(excinfo) == "EnforcedPause"
    fresh.staking.slash(key.device_id, MIN_STAKE // 2, EVIDENCE)
    with pytest.raises(ChainRevertError) as excinfo:
        _as(fresh, OWNER).unpause()
    assert _reason(excinfo) == "AccessControlUnauthorizedAccount"
    admin.unpause()
    staking.withdraw(key.device_id)
    assert _balance(fresh, OWNER) == MIN_STAKE


def test_parameters_are_admin_only_and_bounded(fresh: Deployed) -> None:
    assert fresh.staking.min_stake() == MIN_STAKE
    assert fresh.staking.unstake_delay() == UNSTAKE_DELAY
    assert fresh.staking.treasury() == fresh.chain.address(TREASURY)
    assert fresh.staking.token_address() == fresh.token.address
    assert fresh.staking.registry_address() == fresh.registry.address
    for index in (OWNER, SLASHER):
        stranger = _as(fresh, index)
        for name, value in (
            ("set_min_stake", 1),
            ("set_unstake_delay", 1),
            ("set_treasury", fresh.chain.address(index)),
        ):
            with pytest.raises(ChainRevertError) as excinfo:
                getattr(stranger, name)(value)
            assert _reason(excinfo) == "AccessControlUnauthorizedAccount"
    admin = _as(fresh, ADMIN)
    with pytest.raises(ChainRevertError) as excinfo:
        admin.set_treasury("0x" + "00" * 20)
    assert _reason(excinfo) == "InvalidTreasury"
    with pytest.raises(ChainRevertError) as excinfo:
        admin.set_unstake_delay(366 * 86_400)
    assert _reason(excinfo) == "DelayTooLong"
    start = int(fresh.chain.w3.eth.block_number)
    admin.set_min_stake(5)
    admin.set_unstake_delay(60)
    admin.set_treasury(fresh.chain.address(STRANGER))
    changes = fresh.staking.parameter_changes(from_block=start + 1)
    assert [(c.name, c.value) for c in changes] == [
        ("min_stake", 5),
        ("unstake_delay", 60),
        ("treasury", fresh.chain.address(STRANGER)),
    ]
    key = register_device(fresh, OWNER)
    fund_and_stake(fresh, OWNER, key.device_id, 5)
    assert fresh.staking.is_eligible(key.device_id)
    fresh.staking.slash(key.device_id, 5, EVIDENCE)
    assert _balance(fresh, STRANGER) == 5  # the new treasury


def test_a_zero_minimum_still_needs_a_stake(fresh: Deployed) -> None:
    _as(fresh, ADMIN).set_min_stake(0)
    key = register_device(fresh, OWNER)
    assert not fresh.staking.is_eligible(key.device_id)
    fund_and_stake(fresh, OWNER, key.device_id, 1)
    assert fresh.staking.is_eligible(key.device_id)


def test_eligibility_needs_registration_activity_location_and_the_owners_stake(
    fresh: Deployed,
) -> None:
    staked = register_device(fresh, OWNER)
    fund_and_stake(fresh, OWNER, staked.device_id, MIN_STAKE)
    unlocated = register_device(fresh, OWNER, site=None)
    fund_and_stake(fresh, OWNER, unlocated.device_id, MIN_STAKE)
    inactive = register_device(fresh, OWNER)
    fund_and_stake(fresh, OWNER, inactive.device_id, MIN_STAKE)
    fresh.registry.deactivate(inactive.device_id)
    unstaked = register_device(fresh, OTHER)
    unknown = b"\x07" * 32
    rows = fresh.staking.eligibility(
        [staked.device_id, unlocated.device_id, inactive.device_id, unstaked.device_id, unknown]
    )
    assert [row.eligible for row in rows] == [True, False, False, False, False]
    assert [row.staked for row in rows] == [MIN_STAKE, MIN_STAKE, MIN_STAKE, 0, 0]
    assert rows[1].cell == 0
    assert not rows[2].active
    assert rows[4].owner is None
    assert rows[3].owner == fresh.chain.address(OTHER)


def test_a_transferred_device_needs_the_new_owners_stake(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER)
    fund_and_stake(fresh, OWNER, key.device_id, MIN_STAKE)
    fresh.registry.transfer(key.device_id, fresh.chain.address(OTHER))
    assert not fresh.staking.is_eligible(key.device_id)
    # The former owner's tokens are still its own to take out (and still slashable).
    old = _as(fresh, OWNER)
    old.request_unstake(key.device_id, MIN_STAKE)
    fresh.staking.slash(key.device_id, 1, EVIDENCE, staker=fresh.chain.address(OWNER))
    fresh.chain.advance(UNSTAKE_DELAY)
    old.withdraw(key.device_id)
    assert _balance(fresh, OWNER) == MIN_STAKE - 1
    with pytest.raises(ChainRevertError) as excinfo:
        fund_and_stake(fresh, OWNER, key.device_id, MIN_STAKE)
    assert _reason(excinfo) == "NotDeviceOwner"
    fund_and_stake(fresh, OTHER, key.device_id, MIN_STAKE)
    assert fresh.staking.is_eligible(key.device_id)
    # Releasing the device ends its eligibility whatever is staked.
    fresh.as_account(DeviceRegistry, OTHER).release(key.device_id)
    assert not fresh.staking.is_eligible(key.device_id)
