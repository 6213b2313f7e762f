"""Reading export files back: what cannot be read is named, file-wide or per row."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldproof.export_rows import CSV_COLUMNS, NO_REPORT, ExportFileError, read_export


def test_an_export_without_proof_columns_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "aggregated.csv"
    path.write_text("metric,device,time,unix_time,value\ntemp,0x01,1970-01-01T00:00:00Z,0.0,1.0\n")
    with pytest.raises(ExportFileError, match="no column seq, epoch, leaf, proof, root"):
        list(read_export(path))


def test_bad_rows_are_named_and_the_others_still_read(tmp_path: Path) -> None:
    header = ",".join(CSV_COLUMNS)
    no_report = "temp,0x01,1970-01-01T00:00:00Z,0.0,1.0,,,,,,,"
    bad_hex = "temp,0x01,1970-01-01T00:00:00Z,0.0,1.0,1,0,0xzz,,,,AAAA"
    short = "temp,0x01"
    long = no_report + ",extra"
    path = tmp_path / "rows.csv"
    path.write_text("\n".join([header, no_report, bad_hex, short, long]) + "\n")
    errors = [item for item in read_export(path) if isinstance(item, tuple)]
    assert [(number, str(error)) for number, error in errors] == [
        (1, NO_REPORT),
        (2, "leaf: not 0x-hex: '0xzz'"),
        (3, "fewer cells than columns"),
        (4, "more cells than columns"),
    ]


def test_a_file_that_is_neither_csv_nor_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.bin"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ExportFileError, match="neither Parquet nor CSV"):
        list(read_export(path))
