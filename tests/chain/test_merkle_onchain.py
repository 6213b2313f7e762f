"""Proofs from fieldproof.merkle are accepted by the contract (OpenZeppelin MerkleProof)."""

from __future__ import annotations

import random

from eth_utils.address import to_checksum_address
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fieldproof.merkle import StandardMerkleTree
from tests.chain.conftest import Deployed

TYPES = ("address", "uint256")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(size=st.integers(1, 1000), seed=st.integers(0, 2**32))
@example(size=1, seed=0)
@example(size=2, seed=1)
@example(size=1000, seed=2)
def test_contract_accepts_python_proofs(deployed: Deployed, size: int, seed: int) -> None:
    rng = random.Random(seed)
    values = [(_address(rng), rng.randrange(10**30)) for _ in range(size)]
    tree = StandardMerkleTree.of(values, TYPES)
    snapshot = deployed.chain.snapshot()
    try:
        deployed.distributor.set_root(1, tree.root_bytes, 0)
        picks = {0, size - 1, rng.randrange(size)}
        for index in picks:
            account, amount = values[index]
            proof = tree.get_proof(index)
            assert deployed.distributor.verify_leaf(account, amount, proof)
            assert not deployed.distributor.verify_leaf(account, amount + 1, proof)
    finally:
        deployed.chain.revert(snapshot)


def _address(rng: random.Random) -> str:
    return to_checksum_address(rng.randbytes(20))
