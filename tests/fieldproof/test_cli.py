"""The shared-core commands, run as a user would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fieldproof.merkle import StandardMerkleTree

ENV = {**os.environ, "FIELDPROOF_PASSPHRASE": "test passphrase"}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fieldproof", *args],
        capture_output=True,
        text=True,
        check=False,
        env=ENV,
    )


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "device.key"
    result = run("keys", "new", "--out", str(path))
    assert result.returncode == 0, result.stderr
    return path


def test_keys_show_json(keyfile: Path) -> None:
    result = run("keys", "show", str(keyfile), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["device_id"].startswith("0x")
    assert len(info["device_id"]) == 66
    assert info["did"].startswith("did:key:zDn")
    assert info["public_key"].startswith("04")
    assert len(info["public_key"]) == 130
    assert b"ENCRYPTED" in keyfile.read_bytes()


def test_sign_then_show_verifies_and_detects_tampering(keyfile: Path, tmp_path: Path) -> None:
    pack = tmp_path / "pack.json"
    pack.write_text('[{"n": "temp", "u": "Cel", "v": 21.5}, {"n": "rh", "v": 40}]')
    out = tmp_path / "r.cose"
    signed = run(
        "report", "sign", "--key", str(keyfile), "--senml", str(pack), "--seq", "9",
        "--out", str(out), "--start", "1764000000", "--end", "2025-11-24T16:01:00+00:00",
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    shown = run("report", "show", str(out), "--key", str(keyfile), "--json")
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert (info["seq"], info["verified"], info["end"]) == (9, True, 1764000060)
    assert [r["n"] for r in info["records"]] == ["temp", "rh"]

    unchecked = run("report", "show", str(out))
    assert unchecked.returncode == 0
    assert "NOT checked" in unchecked.stdout

    other = tmp_path / "other.key"
    assert run("keys", "new", "--out", str(other)).returncode == 0
    wrong_key = run("report", "show", str(out), "--key", str(other), "--json")
    assert wrong_key.returncode == 1
    assert json.loads(wrong_key.stdout)["verified"] is False
    assert "device_id" in wrong_key.stderr

    data = bytearray(out.read_bytes())
    data[-1] ^= 0x01
    out.write_bytes(bytes(data))
    tampered = run("report", "show", str(out), "--key", str(keyfile))
    assert tampered.returncode == 1
    assert "signature" in tampered.stderr


def test_show_reports_malformed_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cose"
    bad.write_bytes(b"\xd2\x84garbage")
    result = run("report", "show", str(bad))
    assert result.returncode == 1
    assert "cose" in result.stderr


def test_merkle_root_matches_library(tmp_path: Path) -> None:
    values = [["0x" + "11" * 20, "5000"], ["0x" + "22" * 20, "2500"], ["0x" + "33" * 20, "1"]]
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values))
    result = run("merkle", "root", "--types", "address,uint256", "--values", str(path))
    assert result.returncode == 0, result.stderr
    expected = StandardMerkleTree.of([(a, int(b)) for a, b in values], ["address", "uint256"])
    assert result.stdout.strip() == expected.root


def test_every_level_has_help() -> None:
    for args in (
        ["--help"],
        ["keys", "--help"],
        ["report", "sign", "--help"],
        ["merkle", "root", "--help"],
    ):
        result = run(*args)
        assert result.returncode == 0
        assert "usage:" in result.stdout
