"""Every row of an export checked against the chain alone, the aggregator out of the loop.

Each row (see :mod:`fieldproof.export_rows`) goes through the steps of
:func:`fieldproof.verify.verify`, plus two that tie the file's own cells to them:

* ``reading``: the row's device, seq, metric, time and value are a record of the signed
  report the row carries (else a changed value would go unnoticed);
* ``signature``, ``merkle proof`` (the ``leaf`` cell is the report's leaf, and the
  ``proof`` leads from it to ``root``), ``on-chain root``, ``device registered``;
* ``anchor transaction``: ``anchor_tx`` is a DataAnchor transaction that anchored that
  root for that epoch.

Chain reads are memoised per device, epoch and transaction, so a file of a million
readings costs a few calls per device and epoch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from fieldproof.export_rows import ExportRow, RowResult
from fieldproof.verify import (
    STEP_LEAF,
    ChainView,
    ContractView,
    ReportProof,
    Step,
    check_leaf,
    check_registered,
    check_root,
    check_signature,
    data_leaf_hash,
    report_hash,
)
from fieldproof.wire import WireError, decode_report

if TYPE_CHECKING:
    from fieldproof.wire import Report

STEP_ROW = "row"
STEP_READING = "reading"
STEP_TX = "anchor transaction"
_TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


class ExportChainView(ChainView, Protocol):
    def anchors_in(self, tx_hash: str) -> list[tuple[int, bytes]]:
        """``(epoch, root)`` of each DataAnchor ``Anchored`` event in ``tx_hash``."""
        ...


class ContractExportView(ContractView):
    """:class:`ExportChainView` over the deployed DeviceRegistry and DataAnchor."""

    def anchors_in(self, tx_hash: str) -> list[tuple[int, bytes]]:
        return [(r.epoch, r.root) for r in self.anchor.anchors_in(tx_hash)]


class CachedChain:
    """An :class:`ExportChainView` read once per device, epoch and transaction."""

    def __init__(self, chain: ExportChainView) -> None:
        self.chain = chain
        self._keys: dict[bytes, bytes | None] = {}
        self._registered: dict[bytes, int | None] = {}
        self._roots: dict[int, bytes | None] = {}
        self._anchors: dict[str, list[tuple[int, bytes]]] = {}

    def public_key_of(self, device_id: bytes) -> bytes | None:
        if device_id not in self._keys:
            self._keys[device_id] = self.chain.public_key_of(device_id)
        return self._keys[device_id]

    def registered_at(self, device_id: bytes) -> int | None:
        if device_id not in self._registered:
            self._registered[device_id] = self.chain.registered_at(device_id)
        return self._registered[device_id]

    def anchored_root(self, epoch: int) -> bytes | None:
        if epoch not in self._roots:
            self._roots[epoch] = self.chain.anchored_root(epoch)
        return self._roots[epoch]

    def anchors_in(self, tx_hash: str) -> list[tuple[int, bytes]]:
        key = tx_hash.lower()
        if key not in self._anchors:
            self._anchors[key] = self.chain.anchors_in(key)
        return self._anchors[key]


def _reading_value(report: Report, metric: str, time_ms: int) -> list[float]:
    """The values ``report`` holds for ``metric`` at ``time_ms``: a record's value, else
    its sum, at its time, else the interval start (the series projection's own rule)."""
    found = []
    for record in report.records:
        value = record.value if record.value is not None else record.sum
        if record.name != metric or value is None:
            continue
        when = record.time if record.time is not None else float(report.start)
        if round(when * 1000) == time_ms:
            found.append(float(value))
    return found


def check_reading(row: ExportRow) -> Step:
    """The row's device, seq, metric, time and value are in the signed report it carries."""
    try:
        report = decode_report(row.report).report
    except WireError as exc:
        return Step(STEP_READING, False, f"report does not decode: {exc}")
    device = "0x" + report.device_id.hex()
    if row.device.lower() != device:
        return Step(STEP_READING, False, f"device {row.device} is not the report's {device}")
    if row.seq != report.seq:
        return Step(STEP_READING, False, f"seq {row.seq} is not the report's {report.seq}")
    values = _reading_value(report, row.metric, row.time_ms)
    if row.value not in values:
        held = f"holds {values}" if values else "holds no such reading"
        return Step(
            STEP_READING,
            False,
            f"{row.metric} = {row.value!r} at {row.time_ms / 1000!r}: the signed report {held}",
        )
    return Step(STEP_READING, True, f"{row.metric} at {row.time_ms / 1000!r} is in the report")


def _leaf_steps(row: ExportRow, device_id: bytes, chain: CachedChain) -> list[Step]:
    if row.epoch is None or row.root is None:
        return [Step(STEP_LEAF, False, "no proof: its epoch was still open when exported")]
    digest = report_hash(row.report)
    leaf = data_leaf_hash(device_id, row.seq, digest)
    if leaf != row.leaf:
        return [
            Step(STEP_LEAF, False, f"leaf 0x{row.leaf.hex()} is not the report's 0x{leaf.hex()}")
        ]
    proof = ReportProof(row.epoch, row.root, device_id, row.seq, digest, row.proof)
    return [
        check_leaf(row.report, proof),
        check_root(proof, chain.anchored_root(row.epoch)),
        check_tx(row, chain),
    ]


def check_tx(row: ExportRow, chain: CachedChain) -> Step:
    """``anchor_tx`` anchored the row's root for the row's epoch."""
    tx = row.anchor_tx or ""
    if not _TX_HASH.fullmatch(tx):
        return Step(STEP_TX, False, f"not a transaction hash: {tx!r}")
    anchored = chain.anchors_in(tx)
    if (row.epoch, row.root) in anchored:
        return Step(STEP_TX, True, f"{tx} anchored epoch {row.epoch}")
    if not anchored:
        return Step(STEP_TX, False, f"{tx} is not a DataAnchor anchoring on this chain")
    epochs = ", ".join(str(epoch) for epoch, _ in anchored)
    return Step(STEP_TX, False, f"{tx} anchored epoch {epochs}, not this row's root and epoch")


def verify_row(row: ExportRow, chain: CachedChain) -> list[Step]:
    """Every step for one row; all must hold."""
    reading = check_reading(row)
    try:
        device_id = decode_report(row.report).report.device_id
    except WireError:
        return [reading]
    return [
        reading,
        check_signature(row.report, chain.public_key_of(device_id)),
        *_leaf_steps(row, device_id, chain),
        check_registered(row.report, chain.registered_at(device_id)),
    ]


@dataclass(frozen=True, slots=True)
class RowFailure:
    """A row that did not verify, and the steps that failed."""

    number: int
    device: str | None
    seq: int | None
    steps: tuple[Step, ...]

    def describe(self) -> str:
        where = "" if self.device is None else f" (device {self.device}, seq {self.seq})"
        reasons = "; ".join(f"{s.name}: {s.detail}" for s in self.steps)
        return f"row {self.number}{where}: {reasons}"


@dataclass
class ExportVerdict:
    rows: int = 0
    failures: list[RowFailure] = field(default_factory=list)
    devices: set[str] = field(default_factory=set)
    epochs: set[int] = field(default_factory=set)

    @property
    def verified(self) -> int:
        return self.rows - len(self.failures)

    @property
    def ok(self) -> bool:
        return self.rows > 0 and not self.failures


def verify_rows(rows: Iterable[RowResult], chain: CachedChain) -> ExportVerdict:
    """Check each row; the verdict counts them and keeps the ones that failed."""
    verdict = ExportVerdict()
    for item in rows:
        verdict.rows += 1
        if isinstance(item, tuple):
            number, error = item
            verdict.failures.append(
                RowFailure(number, None, None, (Step(STEP_ROW, False, str(error)),))
            )
            continue
        failed = tuple(step for step in verify_row(item, chain) if not step.ok)
        if failed:
            verdict.failures.append(RowFailure(item.number, item.device, item.seq, failed))
        else:
            verdict.devices.add(item.device.lower())
            if item.epoch is not None:
                verdict.epochs.add(item.epoch)
    return verdict
