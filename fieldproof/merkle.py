"""OpenZeppelin StandardMerkleTree, compatible byte for byte with ``@openzeppelin/merkle-tree``.

Leaf = keccak256(keccak256(abi.encode(values))), leaves sorted by hash, inner nodes
keccak256 of the sorted pair, so OpenZeppelin's ``MerkleProof.verify`` accepts the
proofs. The tree is stored as OpenZeppelin's flat array (root at index 0, leaves at
the end) and dumps to its ``standard-v1`` JSON format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from eth_hash.auto import keccak

from fieldproof.errors import MerkleError

DUMP_FORMAT = "standard-v1"
HASH_SIZE = 32

Value = tuple[Any, ...]


def _abi_value(abi_type: str, value: Any) -> Any:
    """``value`` as eth-abi takes it for ``abi_type``.

    OpenZeppelin's library (through ethers) also takes integers as decimal or 0x-hex
    strings and byte strings as 0x-hex; eth-abi does not, so those are converted here.
    """
    if abi_type.endswith("]"):
        inner = abi_type[: abi_type.rindex("[")]
        if isinstance(value, list | tuple):
            return [_abi_value(inner, item) for item in value]
        return value
    if isinstance(value, str) and abi_type.startswith(("uint", "int")):
        text = value.strip()
        negative = text.startswith("-")
        digits = text[1:] if negative else text
        try:
            number = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 10)
        except ValueError as exc:
            raise MerkleError(f"leaf: {value!r} is not an integer for {abi_type}") from exc
        return -number if negative else number
    if isinstance(value, str) and abi_type.startswith("bytes"):
        if not value.startswith(("0x", "0X")):
            raise MerkleError(f"leaf: {value!r} is not 0x-hex for {abi_type}")
        try:
            return bytes.fromhex(value[2:])
        except ValueError as exc:
            raise MerkleError(f"leaf: {value!r} is not 0x-hex for {abi_type}") from exc
    return value


def leaf_hash(types: Sequence[str], value: Sequence[Any]) -> bytes:
    """keccak256(keccak256(abi.encode(types, value))): the standard leaf.

    Values may be given as OpenZeppelin's JS library takes them: integers also as
    decimal or 0x-hex strings, byte strings also as 0x-hex.
    """
    if len(types) != len(value):
        raise MerkleError(f"leaf: {len(value)} values for {len(types)} types {list(types)}")
    try:
        encoded = abi_encode(
            list(types), [_abi_value(t, v) for t, v in zip(types, value, strict=True)]
        )
    except (EncodingError, TypeError, ValueError, OverflowError) as exc:
        raise MerkleError(f"leaf: cannot encode {list(value)!r} as {list(types)}: {exc}") from exc
    return bytes(keccak(keccak(encoded)))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """keccak256 of the two nodes in ascending byte order (OpenZeppelin's commutative hash)."""
    return bytes(keccak(a + b if a <= b else b + a))


def process_proof(leaf: bytes, proof: Sequence[bytes | str]) -> bytes:
    """The root implied by ``leaf`` and its ``proof`` (bytes or 0x-hex nodes)."""
    node = leaf
    for step in proof:
        node = hash_pair(node, _as_hash(step, "proof node"))
    return node


def _as_hash(node: bytes | str, what: str) -> bytes:
    if isinstance(node, str):
        body = node[2:] if node.startswith("0x") else node
        try:
            node = bytes.fromhex(body)
        except ValueError as exc:
            raise MerkleError(f"{what}: not hex: {node!r}") from exc
    if len(node) != HASH_SIZE:
        raise MerkleError(f"{what}: expected 32 bytes, got {len(node)}")
    return node


def _hex(node: bytes) -> str:
    return "0x" + node.hex()


def _sibling(index: int) -> int:
    return index + 1 if index % 2 else index - 1


def _parent(index: int) -> int:
    return (index - 1) // 2


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Value
    tree_index: int


class StandardMerkleTree:
    """A Merkle tree over typed value tuples; API mirrors OpenZeppelin's JS class."""

    __slots__ = ("_by_hash", "_entries", "_tree", "leaf_encoding")

    def __init__(self, tree: list[bytes], entries: list[_Entry], leaf_encoding: Sequence[str]):
        self._tree = tree
        self._entries = entries
        self.leaf_encoding = tuple(leaf_encoding)
        self._by_hash = {tree[entry.tree_index]: i for i, entry in enumerate(entries)}

    @classmethod
    def of(cls, values: Sequence[Sequence[Any]], types: Sequence[str]) -> StandardMerkleTree:
        """Build the tree of ``values`` (each a tuple matching ``types``)."""
        if not values:
            raise MerkleError("tree: at least one value is required")
        hashed = sorted(
            ((leaf_hash(types, value), index) for index, value in enumerate(values)),
            key=lambda pair: pair[0],
        )
        leaves = [leaf for leaf, _ in hashed]
        tree = _make_tree(leaves)
        tree_index = [0] * len(values)
        for leaf_index, (_, value_index) in enumerate(hashed):
            tree_index[value_index] = len(tree) - leaf_index - 1
        entries = [_Entry(tuple(value), tree_index[i]) for i, value in enumerate(values)]
        return cls(tree, entries, types)

    @property
    def root(self) -> str:
        """The root as 0x-hex."""
        return _hex(self._tree[0])

    @property
    def root_bytes(self) -> bytes:
        return self._tree[0]

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[tuple[int, Value]]:
        """(value index, value) pairs in the order the values were given."""
        return [(i, entry.value) for i, entry in enumerate(self._entries)]

    def leaf_hash(self, value: Sequence[Any]) -> bytes:
        return leaf_hash(self.leaf_encoding, value)

    def leaf_lookup(self, value: Sequence[Any]) -> int:
        """Index of ``value`` among the tree's values."""
        index = self._by_hash.get(self.leaf_hash(value))
        if index is None:
            raise MerkleError(f"leaf: value {list(value)!r} is not in the tree")
        return index

    def _index_of(self, leaf: int | Sequence[Any]) -> int:
        if isinstance(leaf, int):
            if not 0 <= leaf < len(self._entries):
                raise MerkleError(f"leaf: index {leaf} out of range 0..{len(self._entries) - 1}")
            return leaf
        return self.leaf_lookup(leaf)

    def get_proof(self, leaf: int | Sequence[Any]) -> list[str]:
        """Sibling hashes (0x-hex) from the leaf up to, not including, the root."""
        index = self._entries[self._index_of(leaf)].tree_index
        proof: list[str] = []
        while index > 0:
            proof.append(_hex(self._tree[_sibling(index)]))
            index = _parent(index)
        return proof

    def verify(self, leaf: int | Sequence[Any], proof: Sequence[bytes | str]) -> bool:
        """True when ``proof`` proves ``leaf`` (an index or a value) against this root."""
        value = self._entries[leaf].value if isinstance(leaf, int) else leaf
        if isinstance(leaf, int):
            self._index_of(leaf)
        return process_proof(self.leaf_hash(value), proof) == self._tree[0]

    @staticmethod
    def verify_against(
        root: bytes | str, types: Sequence[str], value: Sequence[Any], proof: Sequence[bytes | str]
    ) -> bool:
        """Check a value and proof against a bare root, with no tree at hand."""
        return process_proof(leaf_hash(types, value), proof) == _as_hash(root, "root")

    def dump(self) -> dict[str, Any]:
        """OpenZeppelin's ``standard-v1`` JSON-ready dump."""
        return {
            "format": DUMP_FORMAT,
            "leafEncoding": list(self.leaf_encoding),
            "tree": [_hex(node) for node in self._tree],
            "values": [
                {"value": [_json_value(v) for v in entry.value], "treeIndex": entry.tree_index}
                for entry in self._entries
            ],
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> StandardMerkleTree:
        """Rebuild a tree from a dump; checks the dump's integrity."""
        if not isinstance(data, dict) or data.get("format") != DUMP_FORMAT:
            raise MerkleError(f"dump: format must be {DUMP_FORMAT!r}")
        types = data.get("leafEncoding")
        nodes = data.get("tree")
        raw_values = data.get("values")
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise MerkleError("dump: leafEncoding must be a list of ABI type names")
        if not isinstance(nodes, list) or not isinstance(raw_values, list):
            raise MerkleError("dump: tree and values must be lists")
        tree = [_as_hash(node, f"dump: tree[{i}]") for i, node in enumerate(nodes)]
        entries: list[_Entry] = []
        for i, item in enumerate(raw_values):
            if not isinstance(item, dict) or not isinstance(item.get("treeIndex"), int):
                raise MerkleError(f"dump: values[{i}] needs value and treeIndex")
            value = tuple(_from_json(t, v) for t, v in zip(types, item["value"], strict=False))
            entries.append(_Entry(value, item["treeIndex"]))
        instance = cls(tree, entries, types)
        instance._validate()
        return instance

    def _validate(self) -> None:
        tree = self._tree
        if len(tree) != 2 * len(self._entries) - 1:
            raise MerkleError("dump: tree size does not match the number of values")
        for i, entry in enumerate(self._entries):
            if not len(tree) - len(self._entries) <= entry.tree_index < len(tree):
                raise MerkleError(f"dump: values[{i}] treeIndex is not a leaf")
            if tree[entry.tree_index] != self.leaf_hash(entry.value):
                raise MerkleError(f"dump: values[{i}] does not hash to its leaf")
        for i in range(len(tree) - len(self._entries) - 1, -1, -1):
            if tree[i] != hash_pair(tree[2 * i + 1], tree[2 * i + 2]):
                raise MerkleError(f"dump: tree[{i}] is not the hash of its children")


def _make_tree(leaves: list[bytes]) -> list[bytes]:
    size = 2 * len(leaves) - 1
    tree: list[bytes] = [b""] * size
    for i, leaf in enumerate(leaves):
        tree[size - 1 - i] = leaf
    for i in range(size - 1 - len(leaves), -1, -1):
        tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
    return tree


def _json_value(value: Any) -> Any:
    """Values as OpenZeppelin's JS dumps carry them: big integers as decimal strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def _from_json(abi_type: str, value: Any) -> Any:
    """Inverse of :func:`_json_value`, driven by the ABI type."""
    if abi_type.endswith("]"):
        inner = abi_type[: abi_type.rindex("[")]
        if not isinstance(value, list):
            raise MerkleError(f"dump: {abi_type} value must be a list, got {value!r}")
        return [_from_json(inner, v) for v in value]
    if abi_type.startswith(("uint", "int")):
        try:
            return int(value, 0) if isinstance(value, str) else int(value)
        except (TypeError, ValueError) as exc:
            raise MerkleError(f"dump: {abi_type} value {value!r} is not an integer") from exc
    if abi_type.startswith("bytes"):
        if not isinstance(value, str):
            raise MerkleError(f"dump: {abi_type} value must be 0x-hex, got {value!r}")
        try:
            return bytes.fromhex(value[2:] if value.startswith("0x") else value)
        except ValueError as exc:
            raise MerkleError(f"dump: {abi_type} value {value!r} is not hex") from exc
    return value
