"""The columns of a series export that carries its own proofs, and reading them back.

A raw export (``/v1/export`` without ``every``) has one row per reading. Besides
``metric, device, time, value`` (CSV adds ``unix_time``), each row carries what checks it
without the aggregator:

============  ==============================  ========================================
column        CSV cell                        Parquet type
============  ==============================  ========================================
seq           integer                         int64
epoch         integer, empty while open       int64, null while open
leaf          0x-hex (standard leaf hash)     string
proof         0x-hex nodes joined by ``;``    list<string>
root          0x-hex                          string
anchor_tx     0x-hex                          string
report        base64 of the COSE_Sign1 bytes  binary
============  ==============================  ========================================

Why columns and not a side file keyed by (device, seq): an export is one streamed
answer, saved with ``curl -o`` or ``fieldproof query series``; a side file would need a
second request (whose answer can change as epochs close) or an archive. Rows stay
self-contained: a file filtered, sorted or split in pandas, DuckDB or a spreadsheet keeps
each reading with its proof, where a side file must be joined back and can drift apart.
What the columns repeat costs little: a report usually yields one reading per metric, so
a side file would hold nearly one entry per row anyway, and Parquet's dictionary
encoding stores each epoch's root and transaction once per row group.
"""

from __future__ import annotations

import base64
import binascii
import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fieldproof.errors import FieldproofValueError

PROOF_COLUMNS = ("seq", "epoch", "leaf", "proof", "root", "anchor_tx", "report")
CSV_COLUMNS = ("metric", "device", "time", "unix_time", "value", *PROOF_COLUMNS)
PARQUET_COLUMNS = ("metric", "device", "time", "value", *PROOF_COLUMNS)
PROOF_SEPARATOR = ";"
PARQUET_MAGIC = b"PAR1"
_BATCH_ROWS = 4096


class ExportFileError(FieldproofValueError):
    """An export file cannot be read as a whole (not CSV or Parquet, columns missing)."""


class RowError(ValueError):
    """One row's cell is malformed; the message names the column."""


def hex_cell(value: bytes | None) -> str:
    return "" if value is None else "0x" + value.hex()


def proof_cell(nodes: tuple[bytes, ...]) -> str:
    return PROOF_SEPARATOR.join("0x" + node.hex() for node in nodes)


def report_cell(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One reading as the file states it; ``number`` counts data rows from 1."""

    number: int
    metric: str
    device: str
    time_ms: int
    value: float
    seq: int
    epoch: int | None
    leaf: bytes
    proof: tuple[bytes, ...]
    root: bytes | None
    anchor_tx: str | None
    report: bytes


def _hash(text: str, column: str) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError as exc:
        raise RowError(f"{column}: not 0x-hex: {text!r}") from exc
    if len(raw) != 32:
        raise RowError(f"{column}: expected 32 bytes, got {len(raw)}")
    return raw


def _int(text: Any, column: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError) as exc:
        raise RowError(f"{column}: not an integer: {text!r}") from exc


def _optional(text: str | None) -> str | None:
    return text if text else None


NO_REPORT = "no signed report: the aggregator found none for this reading"


def _csv_row(number: int, cells: Mapping[str | None, str | list[str] | None]) -> ExportRow:
    # csv.DictReader fills a short line with None and keys a long one's extra cells None.
    if None in cells:
        raise RowError("more cells than columns")
    if any(cell is None for cell in cells.values()):
        raise RowError("fewer cells than columns")
    return _csv_cells(number, {str(k): str(v) for k, v in cells.items()})


def _csv_cells(number: int, cells: Mapping[str, str]) -> ExportRow:
    if not cells["report"]:
        raise RowError(NO_REPORT)
    unix_ms = round(_float(cells["unix_time"], "unix_time") * 1000)
    try:
        iso = datetime.fromisoformat(cells["time"].replace("Z", "+00:00"))
    except ValueError as exc:
        raise RowError(f"time: not ISO 8601: {cells['time']!r}") from exc
    if iso.tzinfo is None or round(iso.timestamp() * 1000) != unix_ms:
        raise RowError(f"time: {cells['time']!r} is not unix_time {cells['unix_time']}")
    epoch = _optional(cells["epoch"])
    root = _optional(cells["root"])
    try:
        report = base64.b64decode(cells["report"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RowError("report: not base64") from exc
    nodes = cells["proof"].split(PROOF_SEPARATOR) if cells["proof"] else []
    return ExportRow(
        number=number,
        metric=cells["metric"],
        device=cells["device"],
        time_ms=unix_ms,
        value=_float(cells["value"], "value"),
        seq=_int(cells["seq"], "seq"),
        epoch=None if epoch is None else _int(epoch, "epoch"),
        leaf=_hash(cells["leaf"], "leaf"),
        proof=tuple(_hash(node, f"proof[{i}]") for i, node in enumerate(nodes)),
        root=None if root is None else _hash(root, "root"),
        anchor_tx=_optional(cells["anchor_tx"]),
        report=report,
    )


def _float(text: Any, column: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError) as exc:
        raise RowError(f"{column}: not a number: {text!r}") from exc


def _parquet_row(number: int, cells: Mapping[str, Any]) -> ExportRow:
    nodes = cells["proof"] or []
    report = cells["report"]
    if not isinstance(report, bytes):
        raise RowError(NO_REPORT)
    root = cells["root"]
    return ExportRow(
        number=number,
        metric=str(cells["metric"]),
        device=str(cells["device"]),
        time_ms=_int(cells["time"], "time"),
        value=_float(cells["value"], "value"),
        seq=_int(cells["seq"], "seq"),
        epoch=None if cells["epoch"] is None else _int(cells["epoch"], "epoch"),
        leaf=_hash(str(cells["leaf"]), "leaf"),
        proof=tuple(_hash(str(node), f"proof[{i}]") for i, node in enumerate(nodes)),
        root=None if not root else _hash(str(root), "root"),
        anchor_tx=_optional(cells["anchor_tx"]),
        report=report,
    )


RowResult = ExportRow | tuple[int, RowError]


def _missing(found: list[str], wanted: tuple[str, ...], path: Path) -> None:
    absent = [name for name in wanted if name not in found]
    if absent:
        raise ExportFileError(
            f"{path}: no column {', '.join(absent)}; export raw readings (without every/agg) "
            "with their proofs"
        )


def _read_csv(path: Path) -> Iterator[RowResult]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            _missing(list(reader.fieldnames or ()), CSV_COLUMNS, path)
            for number, cells in enumerate(reader, start=1):
                try:
                    yield _csv_row(number, cells)
                except RowError as exc:
                    yield number, exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ExportFileError(f"{path}: neither Parquet nor CSV ({exc})") from exc


def _read_parquet(path: Path) -> Iterator[RowResult]:
    try:
        import pyarrow as pa  # type: ignore[import-untyped]  # ships no type information
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ExportFileError(
            "reading Parquet needs pyarrow: pip install pyarrow (or 'fieldproof[aggregator]')"
        ) from exc
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise ExportFileError(f"{path}: not a Parquet file ({exc})") from exc
    _missing(list(parquet.schema_arrow.names), PARQUET_COLUMNS, path)
    number = 0
    for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=list(PARQUET_COLUMNS)):
        # Milliseconds as integers: a datetime would round-trip through float seconds.
        times = batch.column("time").cast(pa.int64()).to_pylist()
        for cells, time_ms in zip(batch.to_pylist(), times, strict=True):
            number += 1
            try:
                yield _parquet_row(number, {**cells, "time": time_ms})
            except RowError as exc:
                yield number, exc


def read_export(path: Path) -> Iterator[RowResult]:
    """The rows of a CSV or Parquet export (told apart by Parquet's magic bytes), one at
    a time: a row that cannot be parsed comes as ``(number, error)``."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(PARQUET_MAGIC))
    except OSError as exc:
        raise ExportFileError(f"{path}: {exc.strerror}") from exc
    if magic == PARQUET_MAGIC:
        return _read_parquet(path)
    return _read_csv(path)
