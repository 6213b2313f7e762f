"""Random sequences of stake, unstake, withdraw, slash, reward roots and claims (eth-tester):
every call does what a plain model says, and no token is ever created or lost."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldproof.chain.bindings import RewardDistributor, RewardToken
from fieldproof.chain.errors import ChainRevertError
from fieldproof.chain.staking import DeviceStaking
from fieldproof.identity import DeviceKey
from fieldproof.merkle import StandardMerkleTree
from tests.chain.conftest import (
    GENESIS_SUPPLY,
    UNSTAKE_DELAY,
    ChainEnv,
    Deployed,
    make_chain,
    register_device,
)

GENESIS = 0
DISTRIBUTOR = 2
OWNERS = (3, 4, 5)
SLASHER = 6
TREASURY = 7
# Device i belongs to OWNERS[DEVICE_OWNERS[i]]: the first owner has two devices.
DEVICE_OWNERS = (0, 0, 1, 2)
FUNDING = 1_000
EVIDENCE = "ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy#flag=clone"

amounts = st.integers(0, 400)
device = st.integers(0, len(DEVICE_OWNERS) - 1)
ops = st.one_of(
    st.tuples(st.just("stake"), device, amounts),
    st.tuples(st.just("unstake"), device, amounts),
    st.tuples(st.just("withdraw"), device, st.just(0)),
    st.tuples(st.just("slash"), device, amounts),
    st.tuples(st.just("root"), st.integers(0, len(OWNERS) - 1), amounts),
    st.tuples(st.just("claim"), st.integers(0, len(OWNERS) - 1), st.just(0)),
    st.tuples(st.just("wait"), st.sampled_from([10, 2 * UNSTAKE_DELAY]), st.just(0)),
)


@dataclass
class World:
    deployed: Deployed
    devices: list[bytes]


@dataclass
class Model:
    balances: dict[str, int]
    staked: list[int]
    pending: list[int]
    unlock_at: list[int]
    promised: list[int] = field(default_factory=lambda: [0] * len(OWNERS))
    paid: list[int] = field(default_factory=lambda: [0] * len(OWNERS))
    minted: int = 0
    epoch: int = 0
    tree: StandardMerkleTree | None = None


@pytest.fixture(scope="module")
def chain(request: pytest.FixtureRequest) -> ChainEnv:
    """eth-tester only: the property runs many transactions."""
    return make_chain("eth-tester", request)


@pytest.fixture(scope="module")
def world(deployed: Deployed) -> World:
    devices: list[bytes] = [
        register_device(deployed, OWNERS[o], key=DeviceKey.generate()).device_id
        for o in DEVICE_OWNERS
    ]
    genesis = deployed.as_account(RewardToken, GENESIS)
    for index in OWNERS:
        genesis.transfer(deployed.chain.address(index), FUNDING)
        deployed.as_account(RewardToken, index).approve(deployed.staking.address, 2**255)
    return World(deployed, devices)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(ops, min_size=1, max_size=12))
def test_no_token_is_created_or_lost(world: World, steps: list[tuple[str, int, int]]) -> None:
    chain = world.deployed.chain
    snapshot = chain.snapshot()
    try:
        _run(world, steps)
    finally:
        chain.revert(snapshot)


def _holders(deployed: Deployed) -> list[str]:
    chain = deployed.chain
    accounts = [chain.address(i) for i in (GENESIS, *OWNERS, TREASURY, SLASHER, DISTRIBUTOR)]
    return [*accounts, deployed.distributor.address]


def _run(world: World, steps: list[tuple[str, int, int]]) -> None:
    d = world.deployed
    token = d.token
    holders = _holders(d)
    model = Model(
        balances={h: token.balance_of(h) for h in holders},
        staked=[0] * len(world.devices),
        pending=[0] * len(world.devices),
        unlock_at=[0] * len(world.devices),
    )
    for op, target, amount in steps:
        _step(world, model, op, target, amount)
        _check(world, model)


def _expect_revert(reason: str, write: object) -> None:
    with pytest.raises(ChainRevertError) as excinfo:
        write()  # type: ignore[operator]
    assert excinfo.value.reason == reason


def _step(world: World, model: Model, op: str, target: int, amount: int) -> None:
    d = world.deployed
    chain = d.chain
    if op in ("stake", "unstake", "withdraw"):
        owner = OWNERS[DEVICE_OWNERS[target]]
        address = chain.address(owner)
        staking = d.as_account(DeviceStaking, owner)
        device_id = world.devices[target]
        functions = staking.contract.functions
        send = staking.sender
        assert send is not None
        if op == "stake":
            if amount == 0:
                _expect_revert("ZeroAmount", lambda: send.transact(functions.stake(device_id, 0)))
            elif amount > model.balances[address]:
                _expect_revert(
                    "ERC20InsufficientBalance",
                    lambda: send.transact(functions.stake(device_id, amount)),
                )
            else:
                send.transact(functions.stake(device_id, amount))
                model.balances[address] -= amount
                model.staked[target] += amount
        elif op == "unstake":
            if amount == 0 or amount > model.staked[target]:
                reason = "ZeroAmount" if amount == 0 else "InsufficientStake"
                _expect_revert(
                    reason, lambda: send.transact(functions.requestUnstake(device_id, amount))
                )
            else:
                outcome = send.transact(functions.requestUnstake(device_id, amount))
                assert outcome.block_number is not None
                mined = int(chain.w3.eth.get_block(outcome.block_number)["timestamp"])
                model.staked[target] -= amount
                model.pending[target] += amount
                model.unlock_at[target] = mined + UNSTAKE_DELAY
        else:
            now = int(chain.w3.eth.get_block("latest")["timestamp"])
            if model.pending[target] == 0:
                _expect_revert(
                    "NothingPending", lambda: send.transact(functions.withdraw(device_id))
                )
            elif now + 100 < model.unlock_at[target]:
                _expect_revert("StillLocked", lambda: send.transact(functions.withdraw(device_id)))
            elif now >= model.unlock_at[target]:
                send.transact(functions.withdraw(device_id))
                model.balances[address] += model.pending[target]
                model.pending[target] = 0
    elif op == "slash":
        slasher = d.as_account(DeviceStaking, SLASHER)
        staker = chain.address(OWNERS[DEVICE_OWNERS[target]])
        device_id = world.devices[target]
        send = slasher.sender
        assert send is not None
        call = slasher.contract.functions.slash(device_id, staker, amount, EVIDENCE)
        available = model.staked[target] + model.pending[target]
        if amount == 0:
            _expect_revert("ZeroAmount", lambda: send.transact(call))
        elif available == 0:
            _expect_revert("NothingToSlash", lambda: send.transact(call))
        else:
            send.transact(call)
            taken = min(amount, available)
            from_stake = min(taken, model.staked[target])
            model.staked[target] -= from_stake
            model.pending[target] -= taken - from_stake
            model.balances[chain.address(TREASURY)] += taken
    elif op == "root":
        model.promised[target] += amount
        owners = [chain.address(i) for i in OWNERS]
        model.tree = StandardMerkleTree.of(
            list(zip(owners, model.promised, strict=True)), ("address", "uint256")
        )
        model.epoch += 1
        d.as_account(RewardDistributor, DISTRIBUTOR).set_root(
            model.epoch, model.tree.root_bytes, sum(model.promised)
        )
        model.minted += amount
        model.balances[d.distributor.address] += amount
    elif op == "claim":
        address = chain.address(OWNERS[target])
        if model.tree is None or model.promised[target] == model.paid[target]:
            return
        leaf = (address, model.promised[target])
        d.distributor.claim(address, leaf[1], model.tree.get_proof(leaf))
        owed = model.promised[target] - model.paid[target]
        model.paid[target] = model.promised[target]
        model.balances[address] += owed
        model.balances[d.distributor.address] -= owed
    else:
        chain.advance(target)


def _check(world: World, model: Model) -> None:
    d = world.deployed
    token, staking = d.token, d.staking
    balances = {h: token.balance_of(h) for h in model.balances}
    assert balances == model.balances
    for index, device_id in enumerate(world.devices):
        staker = d.chain.address(OWNERS[DEVICE_OWNERS[index]])
        info = staking.stake_of(device_id, staker)
        assert (info.amount, info.pending) == (model.staked[index], model.pending[index])
    held = token.balance_of(staking.address)
    assert held == sum(model.staked) + sum(model.pending)
    supply = token.total_supply()
    # Nothing created or lost: every token is in an account's balance or behind a device.
    assert sum(balances.values()) + sum(model.staked) + sum(model.pending) == supply
    assert supply == GENESIS_SUPPLY + model.minted
