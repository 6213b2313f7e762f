"""Export bodies are produced page by page, never built whole in memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pyarrow.parquet as pq

from aggregator.api.export import csv_chunks, parquet_chunks
from aggregator.series.points import SeriesPoint

PAGES = 5
PER_PAGE = 100


class Pages:
    """Pages of points that record how many were asked for."""

    def __init__(self) -> None:
        self.taken = 0

    def __iter__(self) -> Iterator[list[SeriesPoint]]:
        for page in range(PAGES):
            self.taken += 1
            yield [
                SeriesPoint(f"0x{page:02x}", float(page * 1000 + i), i / 4) for i in range(PER_PAGE)
            ]


def test_csv_streams_one_chunk_per_page() -> None:
    pages = Pages()
    stream = csv_chunks("temp", pages)
    first = next(stream)
    assert pages.taken == 1
    rest = b"".join(stream)
    assert pages.taken == PAGES
    rows = list(csv.DictReader(io.StringIO((first + rest).decode())))
    assert len(rows) == PAGES * PER_PAGE
    assert rows[1]["value"] == "0.25"
    assert rows[0]["time"] == "1970-01-01T00:00:00Z"


def test_parquet_streams_row_groups_and_reads_back() -> None:
    pages = Pages()
    stream = parquet_chunks("temp", pages)
    first = next(stream)
    assert pages.taken == 1
    body = first + b"".join(stream)
    parquet = pq.ParquetFile(io.BytesIO(body))
    assert parquet.metadata.num_row_groups == PAGES
    table = parquet.read().to_pylist()
    assert len(table) == PAGES * PER_PAGE
    assert table[PER_PAGE]["device"] == "0x01"
    assert table[PER_PAGE + 2]["value"] == 0.5
