"""``fieldproof merkle``: OpenZeppelin-standard Merkle roots from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fieldproof.cli import group_parser


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands = group_parser(subparsers, "merkle", "OpenZeppelin-standard Merkle trees.")
    root = commands.add_parser(
        "root", help="Print the root of a JSON list of value tuples.", description=__doc__
    )
    root.add_argument(
        "--types", required=True, help="comma-separated ABI types, e.g. address,uint256"
    )
    root.add_argument(
        "--values",
        required=True,
        type=Path,
        help='JSON file: a list of tuples, e.g. [["0x11…", "5000"], …]',
    )
    root.add_argument("--dump", type=Path, help="also write the tree in OpenZeppelin's dump format")
    root.set_defaults(handler=_root)


def _root(args: argparse.Namespace) -> int:
    from fieldproof.errors import MerkleError
    from fieldproof.merkle import StandardMerkleTree

    types = [t.strip() for t in args.types.split(",") if t.strip()]
    try:
        values = json.loads(args.values.read_text())
    except (OSError, ValueError) as exc:
        raise MerkleError(f"--values {args.values}: {exc}") from exc
    if not isinstance(values, list) or not all(isinstance(v, list) for v in values):
        raise MerkleError(f"--values {args.values}: expected a JSON list of lists")
    converted = [[_convert(t, v) for t, v in zip(types, value, strict=False)] for value in values]
    tree = StandardMerkleTree.of(converted, types)
    if args.dump:
        args.dump.write_text(json.dumps(tree.dump(), indent=2))
    print(tree.root)
    return 0


def _convert(abi_type: str, value: object) -> object:
    """JSON text → the Python value eth-abi expects (decimal/hex strings for integers)."""
    if abi_type.startswith(("uint", "int")) and isinstance(value, str):
        return int(value, 0)
    if abi_type.startswith("bytes") and isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    return value
