"""Export bodies produced page by page: a CSV or Parquet stream never holds the whole result."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Literal

from aggregator.series.points import SeriesPoint

ExportFormat = Literal["csv", "parquet"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "parquet")
COLUMNS = ("metric", "device", "time", "unix_time", "value")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


def csv_chunks(metric: str, pages: Iterable[list[SeriesPoint]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for page in pages:
        for p in page:
            writer.writerow((metric, p.device, _iso(p.time), repr(p.time), repr(p.value)))
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


def parquet_chunks(metric: str, pages: Iterable[list[SeriesPoint]]) -> Iterator[bytes]:
    """One row group per page; the footer comes last, as Parquet requires."""
    import pyarrow as pa  # type: ignore[import-untyped]  # ships no type information
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    schema = pa.schema(
        [
            ("metric", pa.string()),
            ("device", pa.string()),
            ("time", pa.timestamp("ms", tz="UTC")),
            ("value", pa.float64()),
        ]
    )
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema)
    try:
        for page in pages:
            if not page:
                continue
            table = pa.table(
                {
                    "metric": [metric] * len(page),
                    "device": [p.device for p in page],
                    "time": pa.array(
                        [round(p.time * 1000) for p in page], pa.timestamp("ms", tz="UTC")
                    ),
                    "value": [p.value for p in page],
                },
                schema=schema,
            )
            writer.write_table(table)
            chunk = sink.take()
            if chunk:
                yield chunk
    finally:
        writer.close()
    yield sink.take()
