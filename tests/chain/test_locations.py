"""Device locations on both backends: placement, moves, seniority, cool-down, who may."""

from __future__ import annotations

import h3
import pytest

from fieldproof.chain.bindings import DeviceRegistry
from fieldproof.chain.errors import ChainRevertError, ChainValueError
from fieldproof.chain.location import cell_from_latlng
from fieldproof.chain.pop import sign_pop
from fieldproof.identity import DeviceKey
from tests.chain.conftest import (
    MIN_STAKE,
    MOVE_COOLDOWN,
    SITES,
    Deployed,
    fund_and_stake,
    register_device,
)

ADMIN = 0
OWNER = 3
OTHER = 4
STRANGER = 5
AOTI = cell_from_latlng(*SITES["Aotizhongxin"])
DONGSI = cell_from_latlng(*SITES["Dongsi"])
TIANTAN = cell_from_latlng(*SITES["Tiantan"])


def _timestamp(fresh: Deployed, block_number: int | None) -> int:
    assert block_number is not None
    return int(fresh.chain.w3.eth.get_block(block_number)["timestamp"])


def test_register_places_the_device_and_says_so(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER, "Aotizhongxin")
    registration = fresh.registry.registration_of(key.device_id)
    assert registration is not None
    location = fresh.registry.location_of(key.device_id)
    assert location is not None
    assert location.cell == AOTI
    assert location.placed_at == registration.timestamp
    assert location.eligible_from == registration.timestamp  # a new device waits for nothing
    (move,) = fresh.registry.moves(key.device_id)
    assert (move.old_cell, move.new_cell) == (0, AOTI)
    assert move.placed_at == location.placed_at
    assert move.block_number == registration.block_number


def test_register_without_a_cell_then_place_it(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER, site=None)
    assert fresh.registry.location_of(key.device_id) is None
    assert fresh.registry.moves(key.device_id) == []
    fresh.chain.advance(10 * MOVE_COOLDOWN)
    outcome = fresh.registry.move(key.device_id, DONGSI)
    now = _timestamp(fresh, outcome.block_number)
    location = fresh.registry.location_of(key.device_id)
    assert location is not None
    # The first placement starts seniority but no cool-down: there was no cell to leave.
    assert (location.cell, location.placed_at, location.eligible_from) == (DONGSI, now, now)


def test_move_resets_seniority_and_starts_the_cooldown(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER, "Aotizhongxin")
    before = fresh.registry.location_of(key.device_id)
    assert before is not None
    fresh.chain.advance(5_000)
    outcome = fresh.registry.move(key.device_id, DONGSI)
    moved_at = _timestamp(fresh, outcome.block_number)
    after = fresh.registry.location_of(key.device_id)
    assert after is not None
    assert after.cell == DONGSI
    assert after.placed_at == moved_at > before.placed_at + 5_000 - 1
    assert after.eligible_from == moved_at + MOVE_COOLDOWN
    # The event list is the cell history, oldest first; the old cell is still readable at
    # the block before the move.
    history = fresh.registry.moves(key.device_id)
    assert [(m.old_cell, m.new_cell) for m in history] == [(0, AOTI), (AOTI, DONGSI)]
    assert history[1].eligible_from == after.eligible_from
    assert history[1].tx_hash == outcome.tx_hash
    assert outcome.block_number is not None
    old = fresh.registry.location_of(key.device_id, block=outcome.block_number - 1)
    assert old == before


def test_moves_lists_every_device_or_one(fresh: Deployed) -> None:
    first = register_device(fresh, OWNER, "Aotizhongxin")
    second = register_device(fresh, OTHER, "Tiantan")
    fresh.registry.move(first.device_id, DONGSI)
    everything = fresh.registry.moves()
    assert [(m.device_id, m.new_cell) for m in everything] == [
        (first.device_id, AOTI),
        (second.device_id, TIANTAN),
        (first.device_id, DONGSI),
    ]
    assert [m.new_cell for m in fresh.registry.moves(second.device_id)] == [TIANTAN]


def test_a_moved_device_is_ineligible_until_the_cooldown_ends(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER, "Aotizhongxin")
    fund_and_stake(fresh, OWNER, key.device_id, MIN_STAKE)
    assert fresh.staking.is_eligible(key.device_id)
    fresh.registry.move(key.device_id, TIANTAN)
    assert not fresh.staking.is_eligible(key.device_id)
    (row,) = fresh.staking.eligibility([key.device_id])
    assert (row.cell, row.staked, row.eligible) == (TIANTAN, MIN_STAKE, False)
    fresh.chain.advance(MOVE_COOLDOWN // 2)
    assert not fresh.staking.is_eligible(key.device_id)
    fresh.chain.advance(MOVE_COOLDOWN // 2 + 1)
    assert fresh.staking.is_eligible(key.device_id)


def test_only_the_owner_moves(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER, "Aotizhongxin")
    for index in (STRANGER, ADMIN):
        with pytest.raises(ChainRevertError) as excinfo:
            fresh.as_account(DeviceRegistry, index).move(key.device_id, DONGSI)
        assert excinfo.value.reason == "NotDeviceOwner"
    fresh.registry.transfer(key.device_id, fresh.chain.address(OTHER))
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.registry.move(key.device_id, DONGSI)
    assert excinfo.value.reason == "NotDeviceOwner"
    fresh.as_account(DeviceRegistry, OTHER).move(key.device_id, DONGSI)
    location = fresh.registry.location_of(key.device_id)
    assert location is not None
    assert location.cell == DONGSI


def test_only_the_owner_gives_the_cell_at_registration(fresh: Deployed) -> None:
    key = DeviceKey.generate()
    chain = fresh.chain
    pop = sign_pop(key, fresh.registry.address, chain.w3.eth.chain_id, chain.address(OWNER), 0)
    stranger = fresh.as_account(DeviceRegistry, STRANGER)
    with pytest.raises(ChainValueError, match="only the owner"):
        stranger.register(pop, cell=AOTI)
    with pytest.raises(ChainRevertError) as excinfo:
        stranger.sender.transact(  # type: ignore[union-attr]
            stranger.contract.functions.register(
                pop.device_id, pop.x, pop.y, pop.owner, "", AOTI, pop.nonce, pop.r, pop.s
            )
        )
    assert excinfo.value.reason == "LocationByOwnerOnly"
    # Without a cell anyone may still submit the device's proof.
    stranger.register(pop)
    assert fresh.registry.owner_of(key.device_id) == chain.address(OWNER)
    assert fresh.registry.location_of(key.device_id) is None


def test_invalid_and_unchanged_cells_are_refused(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER, "Aotizhongxin")
    lat, lon = SITES["Dongsi"]
    finer = h3.str_to_int(h3.latlng_to_cell(lat, lon, 8))
    coarser = h3.str_to_int(h3.latlng_to_cell(lat, lon, 6))
    send = fresh.registry.sender
    assert send is not None
    for cell in (0, finer, coarser, DONGSI ^ (1 << 63), DONGSI & ~0xFF):
        assert not fresh.registry.is_valid_cell(cell)
        with pytest.raises(ChainRevertError) as excinfo:
            send.transact(fresh.registry.contract.functions.move(key.device_id, cell))
        assert excinfo.value.reason == "InvalidCell"
    with pytest.raises(ChainValueError, match="resolution 8"):
        fresh.registry.move(key.device_id, finer)
    with pytest.raises(ChainRevertError) as excinfo:
        send.transact(fresh.registry.contract.functions.move(key.device_id, AOTI))
    assert excinfo.value.reason == "SameCell"
    # Through the binding a move to where the device already is sends nothing.
    assert fresh.registry.move(key.device_id, AOTI).skipped


def test_cooldown_is_an_admin_parameter(fresh: Deployed) -> None:
    assert fresh.registry.move_cooldown() == MOVE_COOLDOWN
    for index in (OWNER, STRANGER):
        with pytest.raises(ChainRevertError) as excinfo:
            fresh.as_account(DeviceRegistry, index).set_move_cooldown(1)
        assert excinfo.value.reason == "AccessControlUnauthorizedAccount"
    admin = fresh.as_account(DeviceRegistry, ADMIN)
    with pytest.raises(ChainRevertError) as excinfo:
        admin.set_move_cooldown(366 * 86_400)
    assert excinfo.value.reason == "CooldownTooLong"
    key = register_device(fresh, OWNER, "Aotizhongxin")
    admin.set_move_cooldown(42)
    assert fresh.registry.move_cooldown() == 42
    outcome = fresh.registry.move(key.device_id, DONGSI)
    location = fresh.registry.location_of(key.device_id)
    assert location is not None
    assert location.eligible_from == _timestamp(fresh, outcome.block_number) + 42
    assert outcome.block_number is not None
    (event,) = fresh.registry.contract.events.MoveCooldownSet.get_logs(
        from_block=outcome.block_number - 1
    )
    assert event["args"]["cooldown"] == 42


def test_release_and_register_again_does_not_skip_the_cooldown(fresh: Deployed) -> None:
    key = register_device(fresh, OWNER, "Aotizhongxin")
    fresh.registry.release(key.device_id)
    assert fresh.registry.location_of(key.device_id) is None
    register_device(fresh, OWNER, "Dongsi", key=key)
    location = fresh.registry.location_of(key.device_id)
    assert location is not None
    assert location.cell == DONGSI
    assert location.eligible_from == location.placed_at + MOVE_COOLDOWN
