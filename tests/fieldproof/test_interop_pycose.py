"""An independent COSE implementation (pycose) verifies what our CLI signs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pycose.headers import KID
from pycose.keys.curves import P256
from pycose.keys.ec2 import EC2Key
from pycose.messages import Sign1Message

from fieldproof.identity import DeviceKey, save_key

PACK = [{"bn": "urn:dev:ow:10e2073a01080063:", "n": "voltage", "u": "V", "v": 120.1}]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fieldproof", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def _pycose_key(key: DeviceKey) -> EC2Key:
    point = key.public_key
    return EC2Key(crv=P256, x=point[1:33], y=point[33:])


@pytest.fixture
def signed_report(tmp_path: Path) -> tuple[DeviceKey, bytes]:
    key = DeviceKey.generate()
    save_key(key, tmp_path / "dev.key", None)
    (tmp_path / "pack.json").write_text(json.dumps(PACK))
    out = tmp_path / "r.cose"
    result = _cli(
        "report", "sign", "--key", str(tmp_path / "dev.key"), "--senml",
        str(tmp_path / "pack.json"), "--seq", "42", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return key, out.read_bytes()


def test_pycose_verifies_cli_signed_report(signed_report: tuple[DeviceKey, bytes]) -> None:
    key, data = signed_report
    message = Sign1Message.decode(data)
    message.key = _pycose_key(key)
    assert message.verify_signature()
    assert message.get_attr(KID) == key.device_id


def test_pycose_rejects_a_tampered_report(signed_report: tuple[DeviceKey, bytes]) -> None:
    key, data = signed_report
    message = Sign1Message.decode(data)
    message.payload = message.payload[:-1] + bytes([message.payload[-1] ^ 1])
    message.key = _pycose_key(key)
    assert not message.verify_signature()


def test_pycose_rejects_another_devices_key(signed_report: tuple[DeviceKey, bytes]) -> None:
    _, data = signed_report
    message = Sign1Message.decode(data)
    message.key = _pycose_key(DeviceKey.generate())
    assert not message.verify_signature()
