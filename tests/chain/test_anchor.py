"""DataAnchor on both backends: anchorer role, strictly increasing epochs, events."""

from __future__ import annotations

import pytest

from fieldproof.chain.bindings import ANCHORER_ROLE, DataAnchor
from fieldproof.chain.errors import ChainError, ChainRevertError
from tests.chain.conftest import Deployed

ADMIN = 0
ANCHORER = 1
STRANGER = 5
URI = "ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


def _root(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_anchor_stores_root_and_emits_count_and_uri(fresh: Deployed) -> None:
    anchor = fresh.anchor
    assert anchor.latest_epoch() is None
    assert anchor.root_of(0) is None
    outcome = anchor.anchor(0, _root(10), 123, URI)
    anchor.anchor(5, _root(11), 7, "")
    assert anchor.root_of(0) == _root(10)
    assert anchor.root_of(5) == _root(11)
    assert anchor.root_of(3) is None
    assert anchor.latest_epoch() == 5
    record = anchor.anchor_record(0)
    assert record is not None
    assert (record.root, record.count, record.uri) == (_root(10), 123, URI)
    assert record.block_number == outcome.block_number
    assert anchor.anchor_record(4) is None


def test_anchor_again_is_a_no_op_but_a_different_root_is_an_error(fresh: Deployed) -> None:
    fresh.anchor.anchor(1, _root(1), 1, URI)
    assert fresh.anchor.anchor(1, _root(1), 1, URI).skipped
    with pytest.raises(ChainError, match="already holds root"):
        fresh.anchor.anchor(1, _root(2), 1, URI)


@pytest.mark.parametrize("epoch", [1, 2])
def test_epochs_must_strictly_increase(fresh: Deployed, epoch: int) -> None:
    fresh.anchor.anchor(2, _root(1), 1, URI)
    # Straight to the contract: the binding itself refuses a second root for epoch 2.
    sender = fresh.anchor.sender
    assert sender is not None
    with pytest.raises(ChainRevertError) as excinfo:
        sender.transact(fresh.anchor.contract.functions.anchor(epoch, _root(9), 1, URI))
    assert excinfo.value.reason == "EpochNotIncreasing"
    assert fresh.anchor.latest_epoch() == 2


def test_zero_root_is_refused(fresh: Deployed) -> None:
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.anchor.anchor(1, bytes(32), 1, URI)
    assert excinfo.value.reason == "ZeroRoot"


def test_epoch_beyond_uint64_is_refused(fresh: Deployed) -> None:
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.anchor.anchor(2**64, _root(1), 1, URI)
    assert excinfo.value.reason == "EpochTooLarge"


@pytest.mark.parametrize("who", [ADMIN, STRANGER])
def test_only_the_anchorer_anchors(fresh: Deployed, who: int) -> None:
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.as_account(DataAnchor, who).anchor(1, _root(1), 1, URI)
    assert excinfo.value.reason == "AccessControlUnauthorizedAccount"


def test_only_the_admin_grants_the_anchorer_role(fresh: Deployed) -> None:
    stranger = fresh.as_account(DataAnchor, STRANGER)
    newcomer = fresh.chain.address(STRANGER)
    with pytest.raises(ChainRevertError) as excinfo:
        stranger.grant_role(ANCHORER_ROLE, newcomer)
    assert excinfo.value.reason == "AccessControlUnauthorizedAccount"
    fresh.as_account(DataAnchor, ADMIN).grant_role(ANCHORER_ROLE, newcomer)
    stranger.anchor(1, _root(1), 1, URI)
    fresh.as_account(DataAnchor, ADMIN).revoke_role(ANCHORER_ROLE, fresh.chain.address(ANCHORER))
    with pytest.raises(ChainRevertError) as excinfo:
        fresh.anchor.anchor(2, _root(2), 1, URI)
    assert excinfo.value.reason == "AccessControlUnauthorizedAccount"
