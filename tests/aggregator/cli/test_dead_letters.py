"""``fieldproof aggregator dead-letters`` lists and exports refused messages with reasons."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

import pytest

from aggregator.ledger import open_ledger
from aggregator.ledger.models import Batch, DeadLetter, DeadPoint
from fieldproof.cli import main
from tests.aggregator.reports import new_device
from tests.aggregator.runtime import config_dict, write_config

DEVICE = bytes(range(32))


def _config_with_letters(tmp_path: Path) -> Path:
    data = config_dict(tmp_path, 1883, [new_device()])
    path = write_config(tmp_path / "a.yaml", data)
    ledger = open_ledger(data["ledger"]["url"])
    ledger.write_batch(
        Batch(
            dead_letters=[
                DeadLetter(5.0, "fp/v1/x/report", "malformed", "payload: not a map", b"\x00", 1),
                DeadLetter(6.0, "fp/v1/y/report", "bad_signature", "signature", b"\xff" * 3, 3,
                           DEVICE, 4),
                DeadLetter(7.0, "fp/v1/y/health", "malformed", "health: device: Field required",
                           b"{}", 2),
            ]
        )
    )  # fmt: skip
    ledger.close()
    return path


def test_table_counts_reasons_and_lists_letters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config_with_letters(tmp_path)
    assert main(["aggregator", "dead-letters", "--config", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "3 dead letters: bad_signature 1, malformed 2"
    assert len(out) == 4
    assert "health: device: Field required" in out[3]


def test_json_and_csv_exports_carry_every_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config_with_letters(tmp_path)
    args = ["aggregator", "dead-letters", "--config", str(path), "--reason", "bad_signature"]
    assert main([*args, "--format", "json"]) == 0
    (letter,) = json.loads(capsys.readouterr().out)
    assert letter["device"] == "0x" + DEVICE.hex()
    assert letter["seq"] == 4
    assert base64.b64decode(letter["raw"]) == b"\xff" * 3
    export = tmp_path / "letters.csv"
    assert main([*args[:4], "--format", "csv", "--limit", "0", "-o", str(export)]) == 0
    rows = list(csv.DictReader(export.open()))
    assert [row["reason"] for row in rows] == ["malformed", "bad_signature", "malformed"]
    assert rows[2]["detail"] == "health: device: Field required"


def test_points_lists_what_the_series_store_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config_with_letters(tmp_path)
    ledger = open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    points = [
        DeadPoint(7, DEVICE, 12, "temp", "temp,device=0x00 v=1 1", "HTTP 400: type conflict", 9.0),
        DeadPoint(8, DEVICE, 13, "rh", "rh,device=0x00 v=2 1", "HTTP 422: bad timestamp", 9.5),
    ]
    assert ledger.set_cursor_with_dead_points("series", 0, 8, points)
    ledger.close()
    assert main(["aggregator", "dead-letters", "--config", str(path), "--points"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2 refused series points"
    assert "seq 12" in out[1]
    assert "temp: HTTP 400: type conflict" in out[1]
    args = ["aggregator", "dead-letters", "--config", str(path), "--points", "--format", "json"]
    assert main([*args, "--reason", "timestamp"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["seq"], r["measurement"], r["report_id"]) for r in rows] == [(13, "rh", 8)]
    assert rows[0]["device"] == "0x" + DEVICE.hex()
