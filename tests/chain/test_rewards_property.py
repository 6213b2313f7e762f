"""Random sequences of setRoot and claim (eth-tester): payouts always match the roots."""

from __future__ import annotations

import random

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldproof.chain.errors import ChainRevertError
from fieldproof.merkle import StandardMerkleTree
from tests.chain.conftest import ChainEnv, Deployed, make_chain

ACCOUNTS = 4
TYPES = ("address", "uint256")

SetRoot = tuple[str, tuple[int, ...], int]
Claim = tuple[str, int, bool]

set_root = st.tuples(
    st.just("set"),
    st.tuples(*[st.integers(0, 10**6) for _ in range(ACCOUNTS)]),
    st.integers(1, 3),
)
claim = st.tuples(st.just("claim"), st.integers(0, ACCOUNTS - 1), st.booleans())


@pytest.fixture(scope="module")
def chain(request: pytest.FixtureRequest) -> ChainEnv:
    """eth-tester only: the property runs many transactions."""
    return make_chain("eth-tester", request)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(st.one_of(set_root, claim), min_size=1, max_size=7), seed=st.integers(0, 2**32))
def test_paid_never_exceeds_promised(
    deployed: Deployed, ops: list[SetRoot | Claim], seed: int
) -> None:
    snapshot = deployed.chain.snapshot()
    try:
        _run(deployed, ops, random.Random(seed))
    finally:
        deployed.chain.revert(snapshot)


def _run(deployed: Deployed, ops: list[SetRoot | Claim], rng: random.Random) -> None:
    distributor, token = deployed.distributor, deployed.token
    sender = distributor.sender
    assert sender is not None
    accounts = [Account.from_key(rng.randbytes(32)).address for _ in range(ACCOUNTS)]
    promised = [0] * ACCOUNTS
    paid = [0] * ACCOUNTS
    trees: list[tuple[StandardMerkleTree, list[int]]] = []
    epoch = 0

    def submit(tree: StandardMerkleTree, amounts: list[int], index: int) -> None:
        leaf = (accounts[index], amounts[index])
        proof = [bytes.fromhex(node[2:]) for node in tree.get_proof(leaf)]
        sender.transact(distributor.contract.functions.claim(*leaf, proof))

    for op in ops:
        if op[0] == "set":
            _, increments, gap = op
            promised = [p + inc for p, inc in zip(promised, increments, strict=True)]
            tree = StandardMerkleTree.of(list(zip(accounts, promised, strict=True)), TYPES)
            epoch += gap
            distributor.set_root(epoch, tree.root_bytes, sum(promised))
            trees.append((tree, list(promised)))
        else:
            _, index, stale = op
            if not trees:
                continue
            tree, amounts = trees[0] if stale else trees[-1]
            current = tree.root_bytes == trees[-1][0].root_bytes
            if not current:
                with pytest.raises(ChainRevertError) as excinfo:
                    submit(tree, amounts, index)
                assert excinfo.value.reason == "InvalidProof"
            elif amounts[index] > paid[index]:
                submit(tree, amounts, index)
                paid[index] = amounts[index]
            else:
                with pytest.raises(ChainRevertError) as excinfo:
                    submit(tree, amounts, index)
                assert excinfo.value.reason == "NothingToClaim"
        _check(deployed, accounts, promised, paid)

    if trees:
        tree, amounts = trees[-1]
        for index in range(ACCOUNTS):
            if amounts[index] > paid[index]:
                submit(tree, amounts, index)
                paid[index] = amounts[index]
        _check(deployed, accounts, promised, paid)
        assert [token.balance_of(account) for account in accounts] == promised
        assert token.balance_of(distributor.address) == 0


def _check(deployed: Deployed, accounts: list[str], promised: list[int], paid: list[int]) -> None:
    distributor, token = deployed.distributor, deployed.token
    balances = [token.balance_of(account) for account in accounts]
    assert balances == paid
    assert [distributor.claimed(account) for account in accounts] == paid
    total = distributor.total_cumulative()
    assert total == sum(promised)
    assert sum(paid) <= total
    assert token.balance_of(distributor.address) == total - sum(paid) >= 0
