"""Export bodies produced page by page: a CSV or Parquet stream never holds the whole result.

Raw exports carry, per reading, its signed report and proof (``prover``); the columns
and why they are columns are in :mod:`fieldproof.export_rows`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from aggregator.api.reading_proofs import Prover, ReadingProof
from aggregator.series.points import SeriesPoint
from fieldproof.export_rows import CSV_COLUMNS, hex_cell, proof_cell, report_cell

ExportFormat = Literal["csv", "parquet"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "parquet")
COLUMNS = ("metric", "device", "time", "unix_time", "value")
_EMPTY_PROOF = ("",) * (len(CSV_COLUMNS) - len(COLUMNS))


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


def _proofs(
    metric: str, page: Sequence[SeriesPoint], prover: Prover | None
) -> Sequence[ReadingProof | None]:
    return [None] * len(page) if prover is None else prover(metric, page)


def _proof_cells(proof: ReadingProof | None) -> tuple[str, ...]:
    if proof is None:
        return _EMPTY_PROOF
    return (
        str(proof.seq),
        "" if proof.epoch is None else str(proof.epoch),
        hex_cell(proof.leaf),
        proof_cell(proof.proof),
        hex_cell(proof.root),
        proof.anchor_tx or "",
        report_cell(proof.report),
    )


def csv_chunks(
    metric: str, pages: Iterable[list[SeriesPoint]], prover: Prover | None = None
) -> Iterator[bytes]:
    """CSV, one chunk per page; with ``prover``, the proof columns after the reading's."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS if prover is None else CSV_COLUMNS)
    for page in pages:
        proofs = _proofs(metric, page, prover)
        for p, proof in zip(page, proofs, strict=True):
            row = (metric, p.device, _iso(p.time), repr(p.time), repr(p.value))
            writer.writerow(row if prover is None else row + _proof_cells(proof))
        if buffer.tell():
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


class _Sink(io.RawIOBase):
    """A write-only file whose bytes are taken out after each row group."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def _proof_columns(proofs: Sequence[ReadingProof | None]) -> dict[str, list[Any]]:
    def pick(attr: str) -> list[Any]:
        return [None if p is None else getattr(p, attr) for p in proofs]

    return {
        "seq": pick("seq"),
        "epoch": pick("epoch"),
        "leaf": [None if p is None else hex_cell(p.leaf) for p in proofs],
        "proof": [None if p is None else [hex_cell(n) for n in p.proof] for p in proofs],
        "root": [None if p is None or p.root is None else hex_cell(p.root) for p in proofs],
        "anchor_tx": pick("anchor_tx"),
        "report": pick("report"),
    }


def parquet_chunks(
    metric: str, pages: Iterable[list[SeriesPoint]], prover: Prover | None = None
) -> Iterator[bytes]:
    """One row group per page; the footer comes last, as Parquet requires. With
    ``prover``, the proof columns follow the reading's."""
    import pyarrow as pa  # type: ignore[import-untyped]  # ships no type information
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    fields = [
        ("metric", pa.string()),
        ("device", pa.string()),
        ("time", pa.timestamp("ms", tz="UTC")),
        ("value", pa.float64()),
    ]
    if prover is not None:
        fields += [
            ("seq", pa.int64()),
            ("epoch", pa.int64()),
            ("leaf", pa.string()),
            ("proof", pa.list_(pa.string())),
            ("root", pa.string()),
            ("anchor_tx", pa.string()),
            ("report", pa.binary()),
        ]
    schema = pa.schema(fields)
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema)
    try:
        for page in pages:
            if not page:
                continue
            columns: dict[str, Any] = {
                "metric": [metric] * len(page),
                "device": [p.device for p in page],
                "time": pa.array(
                    [round(p.time * 1000) for p in page], pa.timestamp("ms", tz="UTC")
                ),
                "value": [p.value for p in page],
            }
            if prover is not None:
                columns.update(_proof_columns(prover(metric, page)))
            writer.write_table(pa.table(columns, schema=schema))
            chunk = sink.take()
            if chunk:
                yield chunk
    finally:
        writer.close()
    yield sink.take()
