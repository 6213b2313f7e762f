"""StandardMerkleTree: properties, and byte-for-byte agreement with OpenZeppelin's JS library."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldproof.errors import MerkleError
from fieldproof.merkle import StandardMerkleTree, leaf_hash, process_proof
from tests.fieldproof.oz_merkle import openzeppelin_trees

REWARD_TYPES = ["address", "uint256"]
DATA_TYPES = ["bytes32", "uint64", "bytes32"]

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
reward_values = st.lists(
    st.tuples(addresses, st.integers(min_value=0, max_value=2**256 - 1)),
    min_size=1,
    max_size=40,
    unique_by=lambda value: value[0],
)


@settings(max_examples=60, deadline=None)
@given(reward_values)
def test_every_proof_verifies(values: list[tuple[str, int]]) -> None:
    tree = StandardMerkleTree.of(values, REWARD_TYPES)
    for index, value in enumerate(values):
        proof = tree.get_proof(index)
        assert tree.verify(index, proof)
        assert tree.verify(value, proof)
        assert process_proof(tree.leaf_hash(value), proof) == tree.root_bytes
        assert StandardMerkleTree.verify_against(tree.root, REWARD_TYPES, value, proof)


@settings(max_examples=60, deadline=None)
@given(reward_values, st.data())
def test_altered_leaf_or_proof_fails(values: list[tuple[str, int]], data: st.DataObject) -> None:
    tree = StandardMerkleTree.of(values, REWARD_TYPES)
    index = data.draw(st.integers(min_value=0, max_value=len(values) - 1))
    account, amount = values[index]
    proof = tree.get_proof(index)
    assert not tree.verify((account, amount ^ 1), proof)
    if proof:
        position = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        node = bytearray(bytes.fromhex(proof[position][2:]))
        node[data.draw(st.integers(min_value=0, max_value=31))] ^= 1
        altered = [*proof[:position], "0x" + node.hex(), *proof[position + 1 :]]
        assert not tree.verify(index, altered)


@settings(max_examples=60, deadline=None)
@given(reward_values)
def test_dump_load_round_trip(values: list[tuple[str, int]]) -> None:
    tree = StandardMerkleTree.of(values, REWARD_TYPES)
    dumped = json.loads(json.dumps(tree.dump()))
    loaded = StandardMerkleTree.load(dumped)
    assert loaded.root == tree.root
    assert loaded.dump() == tree.dump()
    assert [loaded.get_proof(i) for i in range(len(values))] == [
        tree.get_proof(i) for i in range(len(values))
    ]


def test_load_refuses_a_tampered_dump() -> None:
    tree = StandardMerkleTree.of([("0x" + "11" * 20, 5), ("0x" + "22" * 20, 7)], REWARD_TYPES)
    dumped = tree.dump()
    dumped["values"][0]["value"][1] = "6"
    with pytest.raises(MerkleError, match="does not hash to its leaf"):
        StandardMerkleTree.load(dumped)


def test_errors_name_the_problem() -> None:
    with pytest.raises(MerkleError, match="at least one value"):
        StandardMerkleTree.of([], REWARD_TYPES)
    with pytest.raises(MerkleError, match="cannot encode"):
        StandardMerkleTree.of([("not-an-address", 1)], REWARD_TYPES)
    with pytest.raises(MerkleError, match="2 values for 3 types"):
        leaf_hash(DATA_TYPES, ["0x00", 1])


def _random_cases() -> list[dict[str, Any]]:
    rng = random.Random(20261125)
    cases: list[dict[str, Any]] = []
    for size in (1, 2, 3, 5, 7, 16, 33, 100):
        cases.append(
            {
                "types": REWARD_TYPES,
                "values": [
                    ["0x" + rng.randbytes(20).hex(), str(rng.randrange(2**256))]
                    for _ in range(size)
                ],
            }
        )
        cases.append(
            {
                "types": DATA_TYPES,
                "values": [
                    ["0x" + rng.randbytes(32).hex(), str(rng.randrange(2**64)),
                     "0x" + rng.randbytes(32).hex()]
                    for _ in range(size)
                ],
            }
        )  # fmt: skip
    cases.append(
        {
            "types": ["string", "bool", "int256"],
            "values": [["sensor-a", True, "-5"], ["sensor-b", False, "12"], ["", True, "0"]],
        }
    )
    return cases


def _python_value(abi_type: str, value: Any) -> Any:
    if abi_type.startswith(("uint", "int")):
        return int(value)
    if abi_type.startswith("bytes"):
        return bytes.fromhex(value[2:])
    return value


def test_matches_openzeppelin_js_library() -> None:
    cases = _random_cases()
    expected = openzeppelin_trees(cases)
    for case, reference in zip(cases, expected, strict=True):
        types = case["types"]
        values = [
            [_python_value(t, v) for t, v in zip(types, value, strict=True)]
            for value in case["values"]
        ]
        tree = StandardMerkleTree.of(values, types)
        assert tree.root == reference["root"], f"root differs for {types} × {len(values)}"
        assert [tree.get_proof(i) for i in range(len(values))] == reference["proofs"]
        assert tree.dump()["tree"] == reference["dump"]["tree"]
        assert [v["treeIndex"] for v in tree.dump()["values"]] == [
            v["treeIndex"] for v in reference["dump"]["values"]
        ]
        # OpenZeppelin's own dump loads here and yields the same proofs.
        loaded = StandardMerkleTree.load(reference["dump"])
        assert loaded.root == reference["root"]


def test_takes_values_as_openzeppelin_does() -> None:
    """Decimal and 0x-hex integer strings and 0x-hex bytes give OpenZeppelin's roots."""
    cases = _random_cases()
    expected = openzeppelin_trees(cases)
    for case, reference in zip(cases, expected, strict=True):
        as_given = StandardMerkleTree.of(case["values"], case["types"])
        assert as_given.root == reference["root"]
        as_hex = [
            [
                hex(int(v)) if t.startswith("uint") else v
                for t, v in zip(case["types"], value, strict=True)
            ]
            for value in case["values"]
        ]
        assert StandardMerkleTree.of(as_hex, case["types"]).root == reference["root"]
    with pytest.raises(MerkleError, match="not an integer for uint256"):
        StandardMerkleTree.of([["0x" + "11" * 20, "12x"]], REWARD_TYPES)
    with pytest.raises(MerkleError, match="not 0x-hex for bytes32"):
        StandardMerkleTree.of([["ab" * 32, "1", "0x" + "22" * 32]], DATA_TYPES)


@given(reward_values)
@settings(max_examples=40, deadline=None)
def test_string_and_integer_values_make_one_tree(values: list[tuple[str, int]]) -> None:
    as_int = StandardMerkleTree.of(values, REWARD_TYPES)
    as_text = StandardMerkleTree.of([(a, str(n)) for a, n in values], REWARD_TYPES)
    assert as_text.root == as_int.root
