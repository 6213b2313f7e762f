"""Turn revert data into the contract's custom error name and arguments."""

from __future__ import annotations

from functools import cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import function_signature_to_4byte_selector

from fieldproof.chain.artifacts import all_abis

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)


def _type_of(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_type_of(component) for component in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@cache
def _error_table() -> dict[bytes, tuple[str, tuple[str, ...]]]:
    table: dict[bytes, tuple[str, tuple[str, ...]]] = {}
    for abi in all_abis():
        for entry in abi:
            if entry.get("type") != "error":
                continue
            types = tuple(_type_of(param) for param in entry["inputs"])
            signature = f"{entry['name']}({','.join(types)})"
            table[function_signature_to_4byte_selector(signature)] = (entry["name"], types)
    return table


def _format(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def decode_revert(data: bytes | str | None) -> tuple[str, str]:
    """``(reason, description)`` for revert ``data``: e.g. ``("ZeroRoot", "ZeroRoot()")``."""
    if data is None:
        return "unknown", "reverted without data"
    raw = (
        bytes.fromhex(data[2:] if data.startswith("0x") else data)
        if isinstance(data, str)
        else data
    )
    if len(raw) < 4:
        return "unknown", "reverted without data"
    selector, body = raw[:4], raw[4:]
    try:
        if selector == _ERROR_STRING:
            (text,) = abi_decode(["string"], body)
            return str(text), str(text)
        if selector == _PANIC:
            (code,) = abi_decode(["uint256"], body)
            return "Panic", f"Panic({code:#x})"
        known = _error_table().get(selector)
        if known is not None:
            name, types = known
            values = abi_decode(list(types), body)
            return name, f"{name}({', '.join(_format(value) for value in values)})"
    except Exception:  # undecodable data is still reported, by its raw bytes
        return "unknown", f"reverted with data 0x{raw.hex()}"
    return "unknown", f"reverted with data 0x{raw.hex()}"
