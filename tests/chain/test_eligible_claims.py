"""Only staked, eligible devices' owners are paid: the scoring reads eligibility at the
block closing the epoch, leaves only those owners in the reward tree, and the distributor
pays nothing outside it. Reading the same block later gives the same answer."""

from __future__ import annotations

import pytest

from fieldproof.chain.bindings import DeviceRegistry, RewardDistributor
from fieldproof.chain.errors import ChainRevertError
from fieldproof.chain.location import cell_from_latlng
from fieldproof.chain.staking import block_at
from fieldproof.merkle import StandardMerkleTree
from tests.chain.conftest import (
    MIN_STAKE,
    MOVE_COOLDOWN,
    SITES,
    Deployed,
    fund_and_stake,
    register_device,
)

STAKED, UNSTAKED, MOVED = 3, 4, 5
REWARD = 1_000


def test_claim_pays_only_owners_of_staked_eligible_devices(fresh: Deployed) -> None:
    chain = fresh.chain
    staked = register_device(fresh, STAKED, "Aotizhongxin").device_id
    fund_and_stake(fresh, STAKED, staked, MIN_STAKE)
    unstaked = register_device(fresh, UNSTAKED, "Dongsi").device_id
    moved = register_device(fresh, MOVED, "Tiantan").device_id
    fund_and_stake(fresh, MOVED, moved, MIN_STAKE)
    fresh.as_account(DeviceRegistry, MOVED).move(moved, cell_from_latlng(*SITES["Dongsi"]))
    devices = [staked, unstaked, moved]

    epoch_end = int(chain.w3.eth.get_block("latest")["timestamp"])
    block, rows = fresh.staking.eligibility_at(devices, epoch_end)
    assert block == block_at(chain.w3, epoch_end) == chain.w3.eth.block_number
    assert [row.eligible for row in rows] == [True, False, False]

    # The world moves on: the other two become eligible, the first is slashed away.
    fund_and_stake(fresh, UNSTAKED, unstaked, MIN_STAKE)
    chain.advance(MOVE_COOLDOWN + 1)
    fresh.staking.slash(staked, MIN_STAKE, "ipfs://bafy#flag=replay")
    assert [row.eligible for row in fresh.staking.eligibility(devices)] == [False, True, True]
    # ...but the epoch's answer, read again at its block, is unchanged.
    assert fresh.staking.eligibility(devices, block) == rows

    paid = {row.owner: REWARD for row in rows if row.eligible}
    tree = StandardMerkleTree.of(list(paid.items()), ("address", "uint256"))
    fresh.distributor.set_root(1, tree.root_bytes, sum(paid.values()))
    winner = chain.address(STAKED)
    fresh.distributor.claim(winner, REWARD, tree.get_proof((winner, REWARD)))
    assert fresh.token.balance_of(winner) == REWARD
    for index in (UNSTAKED, MOVED):
        loser = chain.address(index)
        assert not fresh.distributor.verify_leaf(loser, REWARD, [])
        distributor = fresh.as_account(RewardDistributor, index)
        with pytest.raises(ChainRevertError) as excinfo:
            distributor.claim(loser, REWARD, [])
        assert excinfo.value.reason == "InvalidProof"
        assert fresh.token.balance_of(loser) == 0
