"""DeviceRegistry on both backends: proof of possession, ownership, activation."""

from __future__ import annotations

import pytest

from fieldproof.chain.bindings import DeviceRegistry
from fieldproof.chain.errors import ChainRevertError
from fieldproof.chain.pop import ProofOfPossession, pop_digest, sign_pop
from fieldproof.identity import P256_ORDER, DeviceKey
from tests.chain.conftest import Deployed

OWNER = 3
OTHER = 4
STRANGER = 5
ADMIN = 0


def _pop(fresh: Deployed, key: DeviceKey, owner: int = OWNER, nonce: int = 0) -> ProofOfPossession:
    chain = fresh.chain
    return sign_pop(key, fresh.registry.address, chain.w3.eth.chain_id, chain.address(owner), nonce)


def _register_raw(fresh: Deployed, pop: ProofOfPossession, sender_index: int = OWNER) -> None:
    """Submit without the binding's "already registered?" shortcut."""
    registry = fresh.as_account(DeviceRegistry, sender_index)
    registry.sender.transact(  # type: ignore[union-attr]
        registry.contract.functions.register(
            pop.device_id, pop.x, pop.y, pop.owner, "", 0, pop.nonce, pop.r, pop.s
        )
    )


def _reason(excinfo: pytest.ExceptionInfo[ChainRevertError]) -> str:
    return excinfo.value.reason


def test_register_records_owner_key_and_time(fresh: Deployed) -> None:
    key = DeviceKey.generate()
    pop = _pop(fresh, key)
    outcome = fresh.registry.register(pop, "ipfs://device-metadata")
    registry = fresh.registry
    assert registry.owner_of(key.device_id) == fresh.chain.address(OWNER)
    assert registry.is_active(key.device_id)
    assert registry.public_key_of(key.device_id) == key.public_key
    assert registry.metadata_uri_of(key.device_id) == "ipfs://device-metadata"
    assert registry.nonce_of(key.device_id) == 1
    registration = registry.registration_of(key.device_id)
    assert registration is not None
    assert registration.block_number == outcome.block_number
    block = fresh.chain.w3.eth.get_block(registration.block_number)
    assert registration.timestamp == block["timestamp"]


def test_register_is_idempotent_through_the_binding(fresh: Deployed) -> None:
    pop = _pop(fresh, DeviceKey.generate())
    assert not fresh.registry.register(pop).skipped
    assert fresh.registry.register(pop).skipped


def test_digest_and_device_id_match_python(fresh: Deployed) -> None:
    key = DeviceKey.generate()
    chain = fresh.chain
    owner = chain.address(OWNER)
    expected = pop_digest(fresh.registry.address, chain.w3.eth.chain_id, owner, key.device_id, 7)
    assert fresh.registry.pop_digest(owner, key.device_id, 7) == expected
    x, y = key.public_key[1:33], key.public_key[33:]
    assert fresh.registry.device_id_of(x, y) == key.device_id


def test_anyone_may_submit_the_proof(fresh: Deployed) -> None:
    key = DeviceKey.generate()
    _register_raw(fresh, _pop(fresh, key), sender_index=STRANGER)
    assert fresh.registry.owner_of(key.device_id) == fresh.chain.address(OWNER)


def test_unregistered_device_reads_as_absent(fresh: Deployed) -> None:
    key = DeviceKey.generate()
    assert fresh.registry.owner_of(key.device_id) is None
    assert not fresh.registry.is_active(key.device_id)
    assert fresh.registry.registration_of(key.device_id) is None
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.registry.public_key_of(key.device_id)
    assert _reason(excinfo) == "DeviceNotRegistered"


def test_pop_signed_by_another_key_is_refused(fresh: Deployed) -> None:
    key, impostor = DeviceKey.generate(), DeviceKey.generate()
    genuine = _pop(fresh, key)
    forged = _pop(fresh, impostor)
    pop = ProofOfPossession(**{**_fields(genuine), "r": forged.r, "s": forged.s})
    with pytest.raises(ChainRevertError) as excinfo:
        _register_raw(fresh, pop)
    assert _reason(excinfo) == "InvalidProofOfPossession"


def test_pop_for_another_registry_is_refused(fresh: Deployed) -> None:
    key = DeviceKey.generate()
    chain = fresh.chain
    elsewhere = sign_pop(key, fresh.anchor.address, chain.w3.eth.chain_id, chain.address(OWNER), 0)
    with pytest.raises(ChainRevertError) as excinfo:
        _register_raw(fresh, elsewhere)
    assert _reason(excinfo) == "InvalidProofOfPossession"


def test_pop_for_another_chain_is_refused(fresh: Deployed) -> None:
    key = DeviceKey.generate()
    chain = fresh.chain
    other_chain = sign_pop(
        key, fresh.registry.address, chain.w3.eth.chain_id + 1, chain.address(OWNER), 0
    )
    with pytest.raises(ChainRevertError) as excinfo:
        _register_raw(fresh, other_chain)
    assert _reason(excinfo) == "InvalidProofOfPossession"


def test_pop_for_another_owner_cannot_be_redirected(fresh: Deployed) -> None:
    pop = _pop(fresh, DeviceKey.generate(), owner=OWNER)
    hijacked = ProofOfPossession(**{**_fields(pop), "owner": fresh.chain.address(STRANGER)})
    with pytest.raises(ChainRevertError) as excinfo:
        _register_raw(fresh, hijacked)
    assert _reason(excinfo) == "InvalidProofOfPossession"


def test_high_s_twin_is_refused(fresh: Deployed) -> None:
    pop = _pop(fresh, DeviceKey.generate())
    s = P256_ORDER - int.from_bytes(pop.s, "big")
    twin = ProofOfPossession(**{**_fields(pop), "s": s.to_bytes(32, "big")})
    with pytest.raises(ChainRevertError) as excinfo:
        _register_raw(fresh, twin)
    assert _reason(excinfo) == "InvalidProofOfPossession"


def test_device_id_must_match_the_key(fresh: Deployed) -> None:
    pop = _pop(fresh, DeviceKey.generate())
    other_id = DeviceKey.generate().device_id
    with pytest.raises(ChainRevertError) as excinfo:
        _register_raw(fresh, ProofOfPossession(**{**_fields(pop), "device_id": other_id}))
    assert _reason(excinfo) == "DeviceIdMismatch"


def test_point_off_the_curve_is_refused(fresh: Deployed) -> None:
    pop = _pop(fresh, DeviceKey.generate())
    y = (int.from_bytes(pop.y, "big") ^ 2).to_bytes(32, "big")  # same parity, off the curve
    with pytest.raises(ChainRevertError) as excinfo:
        _register_raw(fresh, ProofOfPossession(**{**_fields(pop), "y": y}))
    assert _reason(excinfo) == "InvalidPublicKey"


def test_zero_owner_is_refused(fresh: Deployed) -> None:
    pop = _pop(fresh, DeviceKey.generate())
    zero = "0x" + "00" * 20
    with pytest.raises(ChainRevertError) as excinfo:
        _register_raw(fresh, ProofOfPossession(**{**_fields(pop), "owner": zero}))
    assert _reason(excinfo) == "InvalidOwner"


def test_nonce_must_be_the_next_one(fresh: Deployed) -> None:
    pop = _pop(fresh, DeviceKey.generate(), nonce=1)
    with pytest.raises(ChainRevertError) as excinfo:
        _register_raw(fresh, pop)
    assert _reason(excinfo) == "InvalidNonce"


def test_replays_are_refused(fresh: Deployed) -> None:
    key = DeviceKey.generate()
    pop = _pop(fresh, key)
    _register_raw(fresh, pop)
    with pytest.raises(ChainRevertError) as excinfo:
        _register_raw(fresh, pop)
    assert _reason(excinfo) == "DeviceAlreadyRegistered"
    # Released (e.g. resold): the old proof is spent; a fresh one at the next nonce works.
    fresh.registry.release(key.device_id)
    assert fresh.registry.owner_of(key.device_id) is None
    with pytest.raises(ChainRevertError) as excinfo:
        _register_raw(fresh, pop)
    assert _reason(excinfo) == "InvalidNonce"
    fresh.registry.register(_pop(fresh, key, owner=OTHER, nonce=1))
    assert fresh.registry.owner_of(key.device_id) == fresh.chain.address(OTHER)


def test_owner_transfers_and_others_cannot(fresh: Deployed) -> None:
    key = DeviceKey.generate()
    fresh.registry.register(_pop(fresh, key))
    stranger = fresh.as_account(DeviceRegistry, STRANGER)
    with pytest.raises(ChainRevertError) as excinfo:
        stranger.transfer(key.device_id, fresh.chain.address(STRANGER))
    assert _reason(excinfo) == "NotDeviceOwner"
    with pytest.raises(ChainRevertError) as excinfo:
        stranger.release(key.device_id)
    assert _reason(excinfo) == "NotDeviceOwner"
    with pytest.raises(ChainRevertError) as excinfo:
        stranger.set_metadata_uri(key.device_id, "ipfs://mine")
    assert _reason(excinfo) == "NotDeviceOwner"
    fresh.registry.transfer(key.device_id, fresh.chain.address(OTHER))
    assert fresh.registry.owner_of(key.device_id) == fresh.chain.address(OTHER)
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.registry.transfer(key.device_id, fresh.chain.address(OWNER))
    assert _reason(excinfo) == "NotDeviceOwner"
    new_owner = fresh.as_account(DeviceRegistry, OTHER)
    new_owner.set_metadata_uri(key.device_id, "ipfs://new")
    assert fresh.registry.metadata_uri_of(key.device_id) == "ipfs://new"


def test_deactivation_by_owner_or_admin_only(fresh: Deployed) -> None:
    key = DeviceKey.generate()
    device = key.device_id
    fresh.registry.register(_pop(fresh, key))
    stranger = fresh.as_account(DeviceRegistry, STRANGER)
    with pytest.raises(ChainRevertError) as excinfo:
        stranger.deactivate(device)
    assert _reason(excinfo) == "NotOwnerOrAdmin"
    fresh.registry.deactivate(device)
    assert not fresh.registry.is_active(device)
    with pytest.raises(ChainRevertError) as excinfo:
        stranger.reactivate(device)
    assert _reason(excinfo) == "NotOwnerOrAdmin"
    admin = fresh.as_account(DeviceRegistry, ADMIN)
    admin.reactivate(device)
    assert fresh.registry.is_active(device)
    admin.deactivate(device)
    assert not fresh.registry.is_active(device)
    fresh.registry.reactivate(device)
    assert fresh.registry.is_active(device)


def test_events_are_emitted(fresh: Deployed) -> None:
    key = DeviceKey.generate()
    device = key.device_id
    fresh.registry.register(_pop(fresh, key), "ipfs://m")
    fresh.registry.deactivate(device)
    fresh.registry.reactivate(device)
    fresh.registry.transfer(device, fresh.chain.address(OTHER))
    events = fresh.registry.contract.events
    owner, other = fresh.chain.address(OWNER), fresh.chain.address(OTHER)
    (registered,) = events.DeviceRegistered.get_logs(from_block=0)
    assert registered["args"]["deviceId"] == device
    assert registered["args"]["owner"] == owner
    assert registered["args"]["metadataURI"] == "ipfs://m"
    (deactivated,) = events.DeviceDeactivated.get_logs(from_block=0)
    assert deactivated["args"]["by"] == owner
    assert len(events.DeviceReactivated.get_logs(from_block=0)) == 1
    (moved,) = events.DeviceTransferred.get_logs(from_block=0)
    assert (moved["args"]["from"], moved["args"]["to"]) == (owner, other)


def test_admin_role_is_held_by_the_deployer_only(fresh: Deployed) -> None:
    from fieldproof.chain.bindings import DEFAULT_ADMIN_ROLE

    assert fresh.registry.has_role(DEFAULT_ADMIN_ROLE, fresh.chain.address(ADMIN))
    assert not fresh.registry.has_role(DEFAULT_ADMIN_ROLE, fresh.chain.address(OWNER))


def _fields(pop: ProofOfPossession) -> dict[str, object]:
    return {name: getattr(pop, name) for name in ProofOfPossession.__slots__}
