"""End-to-end verification of one report: the pure steps, and the proof file they read.

A researcher holds a report's signed bytes and a proof (the Merkle path from the report's
leaf to its epoch's root). Each step returns a :class:`Step` (name, ok, detail) and needs
only values: the chain lookups are behind :class:`ChainView`, so the command line, a
dashboard or a test can supply them from any source.

Steps, in order:

1. ``signature``: the report is signed by the key the registry holds for its device;
2. ``merkle proof``: the report is the proof's leaf and the path leads to the proof's root;
3. ``on-chain root``: that root is the one DataAnchor holds for the proof's epoch;
4. ``device registered``: the device was registered when the report's interval ended.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from eth_hash.auto import keccak

from fieldproof.errors import FieldproofError, FieldproofValueError
from fieldproof.merkle import process_proof
from fieldproof.wire import WireError, decode_report, verify_report

if TYPE_CHECKING:  # the bindings pull in web3; only the command line needs them
    from fieldproof.chain.bindings import DataAnchor, DeviceRegistry

DATA_LEAF_TYPES: tuple[str, ...] = ("bytes32", "uint64", "bytes32")
PROOF_FORMAT = "fieldproof-report-proof-v1"

STEP_SIGNATURE = "signature"
STEP_LEAF = "merkle proof"
STEP_ROOT = "on-chain root"
STEP_REGISTERED = "device registered"


class ProofFileError(FieldproofValueError):
    """A proof file is not a valid report proof; the message names the field."""


def report_hash(raw: bytes) -> bytes:
    """keccak256 of the report's signed bytes, the third value of its leaf."""
    return bytes(keccak(raw))


def data_leaf(device_id: bytes, seq: int, raw: bytes) -> tuple[bytes, int, bytes]:
    """The data-tree leaf ``(bytes32 device, uint64 seq, bytes32 keccak256(report))``."""
    return (bytes(device_id), int(seq), report_hash(raw))


def data_leaf_hash(device_id: bytes, seq: int, digest: bytes) -> bytes:
    """The standard leaf hash of a data leaf, without a general ABI encoder.

    ``abi.encode(bytes32, uint64, bytes32)`` is three 32-byte words: the device id, the
    big-endian sequence number and the report hash.
    """
    if len(device_id) != 32 or len(digest) != 32 or not 0 <= seq < 2**64:
        raise ProofFileError("data leaf: expected (32 bytes, uint64, 32 bytes)")
    return bytes(keccak(keccak(device_id + seq.to_bytes(32, "big") + digest)))


@dataclass(frozen=True, slots=True)
class ReportProof:
    """Where a report sits: its epoch, the epoch's root, its leaf and the path to the root."""

    epoch: int
    root: bytes
    device_id: bytes
    seq: int
    report_hash: bytes
    proof: tuple[bytes, ...]
    uri: str = ""

    @property
    def leaf(self) -> tuple[bytes, int, bytes]:
        return (self.device_id, self.seq, self.report_hash)

    @property
    def size(self) -> int:
        """Bytes of the Merkle path (32 per level)."""
        return 32 * len(self.proof)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PROOF_FORMAT,
            "epoch": self.epoch,
            "root": "0x" + self.root.hex(),
            "leaf": {
                "device": "0x" + self.device_id.hex(),
                "seq": self.seq,
                "reportHash": "0x" + self.report_hash.hex(),
            },
            "proof": ["0x" + node.hex() for node in self.proof],
            "uri": self.uri,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportProof:
        if not isinstance(data, Mapping) or data.get("format") != PROOF_FORMAT:
            raise ProofFileError(f"proof: format must be {PROOF_FORMAT!r}")
        leaf = data.get("leaf")
        if not isinstance(leaf, Mapping):
            raise ProofFileError("proof: leaf: expected an object")
        nodes = data.get("proof")
        if not isinstance(nodes, list):
            raise ProofFileError("proof: proof: expected a list of 0x-hex nodes")
        uri = data.get("uri", "")
        if not isinstance(uri, str):
            raise ProofFileError("proof: uri: expected a string")
        return cls(
            epoch=_uint(data.get("epoch"), "epoch"),
            root=_hash32(data.get("root"), "root"),
            device_id=_hash32(leaf.get("device"), "leaf -> device"),
            seq=_uint(leaf.get("seq"), "leaf -> seq"),
            report_hash=_hash32(leaf.get("reportHash"), "leaf -> reportHash"),
            proof=tuple(_hash32(node, f"proof[{i}]") for i, node in enumerate(nodes)),
            uri=uri,
        )

    @classmethod
    def loads(cls, text: str) -> ReportProof:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProofFileError(f"proof: not JSON ({exc})") from exc
        return cls.from_json(data)


def _uint(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofFileError(f"proof: {field}: expected an unsigned integer, got {value!r}")
    return value


def _hash32(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise ProofFileError(f"proof: {field}: expected 0x-hex, got {value!r}")
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError as exc:
        raise ProofFileError(f"proof: {field}: not hex: {value!r}") from exc
    if len(raw) != 32:
        raise ProofFileError(f"proof: {field}: expected 32 bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one verification step."""

    name: str
    ok: bool
    detail: str


class ChainView(Protocol):
    """What verification reads from the chain (DeviceRegistry and DataAnchor)."""

    def public_key_of(self, device_id: bytes) -> bytes | None:
        """The device's registered P-256 key (65 bytes), ``None`` when not registered."""
        ...

    def registered_at(self, device_id: bytes) -> int | None:
        """Unix time of the device's registration, ``None`` when not registered."""
        ...

    def anchored_root(self, epoch: int) -> bytes | None:
        """The data root anchored for ``epoch``, ``None`` when none."""
        ...


class ContractView:
    """:class:`ChainView` over the deployed DeviceRegistry and DataAnchor."""

    def __init__(self, registry: DeviceRegistry, anchor: DataAnchor) -> None:
        self.registry = registry
        self.anchor = anchor

    def public_key_of(self, device_id: bytes) -> bytes | None:
        if self.registry.registration_of(device_id) is None:
            return None
        return self.registry.public_key_of(device_id)

    def registered_at(self, device_id: bytes) -> int | None:
        registration = self.registry.registration_of(device_id)
        return None if registration is None else registration.timestamp

    def anchored_root(self, epoch: int) -> bytes | None:
        return self.anchor.root_of(epoch)


def check_signature(raw: bytes, public_key: bytes | None) -> Step:
    """The report decodes and is signed by ``public_key`` (the registry's key for it)."""
    try:
        signed = decode_report(raw)
    except WireError as exc:
        return Step(STEP_SIGNATURE, False, f"report does not decode: {exc}")
    device = "0x" + signed.report.device_id.hex()
    if public_key is None:
        return Step(STEP_SIGNATURE, False, f"device {device} has no registered key")
    try:
        verify_report(signed, public_key)
    except (WireError, FieldproofError) as exc:
        return Step(STEP_SIGNATURE, False, f"not signed by the key registered for {device}: {exc}")
    return Step(STEP_SIGNATURE, True, f"ES256 signature by the key registered for {device}")


def check_leaf(raw: bytes, proof: ReportProof) -> Step:
    """The report is the proof's leaf, and the path leads from that leaf to the proof's root."""
    try:
        report = decode_report(raw).report
    except WireError as exc:
        return Step(STEP_LEAF, False, f"report does not decode: {exc}")
    leaf = data_leaf(report.device_id, report.seq, raw)
    if leaf != proof.leaf:
        mismatched = [
            name
            for name, mine, theirs in zip(
                ("device", "seq", "report hash"), leaf, proof.leaf, strict=True
            )
            if mine != theirs
        ]
        return Step(
            STEP_LEAF, False, f"the proof is for another leaf ({', '.join(mismatched)} differ)"
        )
    computed = process_proof(data_leaf_hash(*leaf), proof.proof)
    if computed != proof.root:
        return Step(
            STEP_LEAF,
            False,
            f"the path leads to 0x{computed.hex()}, not to the proof's root 0x{proof.root.hex()}",
        )
    return Step(
        STEP_LEAF, True, f"leaf (seq {report.seq}) is in the tree of root 0x{proof.root.hex()}"
    )


def check_root(proof: ReportProof, anchored: bytes | None) -> Step:
    """The proof's root is the root anchored on-chain for its epoch."""
    if anchored is None:
        return Step(STEP_ROOT, False, f"nothing is anchored for epoch {proof.epoch}")
    if anchored != proof.root:
        return Step(
            STEP_ROOT,
            False,
            f"epoch {proof.epoch} is anchored with 0x{anchored.hex()}, "
            f"not the proof's 0x{proof.root.hex()}",
        )
    return Step(STEP_ROOT, True, f"DataAnchor holds this root for epoch {proof.epoch}")


def check_registered(raw: bytes, registered_at: int | None) -> Step:
    """The device was registered no later than the end of the report's interval."""
    try:
        report = decode_report(raw).report
    except WireError as exc:
        return Step(STEP_REGISTERED, False, f"report does not decode: {exc}")
    device = "0x" + report.device_id.hex()
    if registered_at is None:
        return Step(STEP_REGISTERED, False, f"device {device} is not registered")
    if registered_at > report.end:
        return Step(
            STEP_REGISTERED,
            False,
            f"device {device} was registered at {registered_at}, after the report's "
            f"interval ended at {report.end}",
        )
    return Step(STEP_REGISTERED, True, f"device {device} registered at {registered_at}")


def verify(raw: bytes, proof: ReportProof, chain: ChainView) -> list[Step]:
    """Every step for ``raw`` and ``proof`` against ``chain``; all must hold."""
    try:
        device_id = decode_report(raw).report.device_id
    except WireError:
        device_id = proof.device_id
    return [
        check_signature(raw, chain.public_key_of(device_id)),
        check_leaf(raw, proof),
        check_root(proof, chain.anchored_root(proof.epoch)),
        check_registered(raw, chain.registered_at(device_id)),
    ]


def all_ok(steps: Sequence[Step]) -> bool:
    return bool(steps) and all(step.ok for step in steps)
