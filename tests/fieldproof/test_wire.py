"""Signed reports: round trips, tamper detection and strict decoding."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldproof.identity import DeviceKey
from fieldproof.wire import (
    SCHEMA_VERSION,
    Beacon,
    DeviceMismatchError,
    MalformedError,
    Record,
    Report,
    ReportTooLargeError,
    SignatureError,
    WireError,
    decode_report,
    encode_payload,
    open_report,
    sign_report,
    verify_report,
)
from fieldproof.wire import cbor as det_cbor
from fieldproof.wire.cose import sign1
from tests.fieldproof.strategies import DEVICE_KEY, reports

ENV_RECORDS = (
    Record(name="temp", value=21.3),
    Record(name="rh", value=54.0),
    Record(name="pres", value=101325.0),
)


BEACON = Beacon(21_000_000, bytes(range(32)))


def _report(seq: int = 1, beacon: Beacon | None = BEACON) -> Report:
    return Report(DEVICE_KEY.device_id, seq, 1_764_000_000, 1_764_000_060, ENV_RECORDS,
                  beacon=beacon)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(reports())
def test_sign_decode_round_trip(report: Report) -> None:
    data = sign_report(report, DEVICE_KEY)
    signed = decode_report(data)
    verify_report(signed, DEVICE_KEY.public_key)
    assert signed.report == report
    assert signed.raw == data
    # Deterministic: the same report always encodes to the same payload.
    assert encode_payload(signed.report) == encode_payload(report)


@settings(max_examples=400)
@given(st.data())
def test_any_flipped_byte_fails_with_a_wire_error(data: st.DataObject) -> None:
    signed = sign_report(_report(), DEVICE_KEY)
    index = data.draw(st.integers(min_value=0, max_value=len(signed) - 1))
    mask = data.draw(st.integers(min_value=1, max_value=255))
    tampered = bytearray(signed)
    tampered[index] ^= mask
    with pytest.raises(WireError):
        open_report(bytes(tampered), DEVICE_KEY.public_key)


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_wire_errors(blob: bytes) -> None:
    with pytest.raises(WireError):
        decode_report(blob)


def test_signature_under_another_key_is_refused() -> None:
    other = DeviceKey.generate()
    signed = decode_report(sign_report(_report(), DEVICE_KEY))
    with pytest.raises(DeviceMismatchError):
        verify_report(signed, other.public_key)
    # A report whose kid and device id name the victim but signed by another key.
    forged = sign1(encode_payload(_report()), DEVICE_KEY.device_id, other)
    with pytest.raises(SignatureError):
        open_report(forged, DEVICE_KEY.public_key)


def test_kid_must_match_payload_device() -> None:
    other = DeviceKey.generate()
    data = sign1(encode_payload(_report()), other.device_id, other)
    with pytest.raises(DeviceMismatchError, match="kid"):
        decode_report(data)


def test_signer_must_be_the_reports_device() -> None:
    with pytest.raises(DeviceMismatchError):
        sign_report(_report(), DeviceKey.generate())


def test_size_cap() -> None:
    data = sign_report(_report(), DEVICE_KEY)
    with pytest.raises(ReportTooLargeError):
        decode_report(data, max_size=len(data) - 1)


def test_trailing_bytes_are_refused() -> None:
    data = sign_report(_report(), DEVICE_KEY)
    with pytest.raises(MalformedError, match="deterministic"):
        decode_report(data + b"\x00")


def _payload_with(report: Report | None = None, **changes: object) -> bytes:
    payload = cbor2.loads(encode_payload(report or _report()))
    for key, value in changes.items():
        number = int(key.removeprefix("k"))
        if value is None:
            payload.pop(number, None)
        else:
            payload[number] = value
    return det_cbor.encode(payload)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"k1": 3}, "version"),
        ({"k1": 0}, "version"),
        ({"k9": None}, "beacon"),
        ({"k9": [1]}, "beacon"),
        ({"k9": [1, b"\x00" * 31]}, "beacon"),
        ({"k9": [-1, b"\x00" * 32]}, "beacon"),
        ({"k9": [True, b"\x00" * 32]}, "beacon"),
        ({"k9": ["1", b"\x00" * 32]}, "beacon"),
        ({"k9": [1, "0x00"]}, "beacon"),
        ({"k9": {1: b"\x00" * 32}}, "beacon"),
        ({"k2": b"\x01" * 31}, "device_id"),
        ({"k3": -1}, "seq"),
        ({"k3": "7"}, "seq"),
        ({"k4": None}, "start"),
        ({"k5": 1.5}, "length"),
        ({"k6": "m"}, "model_id"),
        ({"k8": {}}, "readings"),
        ({"k8": [{0: "temp", 2: float("nan")}]}, "readings[0].v"),
        ({"k8": [{0: "temp", 2: float("inf")}]}, "readings[0].v"),
        ({"k8": [{0: "temp", 2: "hot"}]}, "readings[0].v"),
        ({"k8": [{0: " bad name", 2: 1.0}]}, "readings[0].name"),
        ({"k8": [{0: "temp"}]}, "readings[0]"),
        ({"k8": [{0: "temp", 2: 1.0, 3: "x"}]}, "readings[0]"),
        ({"k8": [{0: "temp", 99: 1.0}]}, "readings[0]"),
        ({"k10": 1}, "payload"),
    ],
)
def test_malformed_payload_names_the_field(changes: dict[str, object], field: str) -> None:
    data = sign1(_payload_with(**changes), DEVICE_KEY.device_id, DEVICE_KEY)
    with pytest.raises(MalformedError) as caught:
        decode_report(data)
    assert caught.value.field == field


def test_non_deterministic_payload_is_refused() -> None:
    payload = cbor2.dumps(cbor2.loads(encode_payload(_report())), canonical=False)
    # Force a non-shortest integer for seq (0x1a = 4-byte uint) to break determinism.
    loose = payload.replace(b"\x03\x01", b"\x03\x1a\x00\x00\x00\x01", 1)
    data = sign1(loose, DEVICE_KEY.device_id, DEVICE_KEY)
    with pytest.raises(MalformedError, match="deterministic"):
        decode_report(data)


def test_values_travel_in_single_precision() -> None:
    signed = decode_report(sign_report(_report(), DEVICE_KEY))
    assert signed.report.records[0].value == pytest.approx(21.3, rel=1e-7)
    assert signed.report.records[0].unit == "Cel"  # restored from the metric catalogue


def test_a_report_with_a_beacon_travels_as_version_2() -> None:
    report = _report()
    assert report.version == SCHEMA_VERSION == 2
    payload = cbor2.loads(encode_payload(report))
    assert payload[1] == 2
    assert payload[9] == [BEACON.number, BEACON.block_hash]
    decoded = decode_report(sign_report(report, DEVICE_KEY)).report
    assert decoded.beacon == BEACON
    assert decoded.version == 2


def test_version_1_reports_still_decode_without_a_beacon() -> None:
    report = _report(beacon=None)
    payload = cbor2.loads(encode_payload(report))
    assert payload[1] == 1
    assert 9 not in payload
    decoded = open_report(sign_report(report, DEVICE_KEY), DEVICE_KEY.public_key)
    assert decoded == report
    assert decoded.beacon is None
    assert decoded.version == 1


@pytest.mark.parametrize(
    ("version", "beacon", "problem"),
    [
        (1, [7, bytes(32)], "version 1 reports carry no beacon"),
        (2, None, "missing"),
    ],
)
def test_the_beacon_and_the_version_must_agree(
    version: int, beacon: list[object] | None, problem: str
) -> None:
    payload = _payload_with(_report(beacon=None), k1=version, k9=beacon)
    data = sign1(payload, DEVICE_KEY.device_id, DEVICE_KEY)
    with pytest.raises(MalformedError) as caught:
        decode_report(data)
    assert (caught.value.field, caught.value.problem) == ("beacon", problem)


@pytest.mark.parametrize(
    ("number", "block_hash"), [(-1, bytes(32)), (2**63, bytes(32)), (1, bytes(31))]
)
def test_a_beacon_out_of_range_is_refused(number: int, block_hash: bytes) -> None:
    with pytest.raises(MalformedError, match="beacon"):
        Beacon(number, block_hash)
