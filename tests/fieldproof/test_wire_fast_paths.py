"""The receive path's shortcuts agree with the general decoder they stand in for."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import NamedTuple

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldproof.wire import (
    MalformedError,
    Record,
    Report,
    WireError,
    decode_payload,
    encode_payload,
    sign_report,
)
from fieldproof.wire import cbor as det_cbor
from fieldproof.wire.cbor import bstr_header, read_float
from fieldproof.wire.cose import (
    PROTECTED_ES256,
    _parse_canonical_sign1,
    _parse_sign1_in_full,
    sig_structure,
)
from fieldproof.wire.payload_scan import scan_payload
from fieldproof.wire.report import _decode_payload_in_full
from fieldproof.wire.senml import BN, BT, BU, BV, UT, VB, VD, VS, N, S, T, U, V, resolve_pack
from tests.fieldproof.strategies import DEVICE_KEY, reports

MAX = 1 << 20


def _edited(data: st.DataObject, blob: bytes) -> tuple[bytes, int]:
    """``blob`` after 0-3 random edits (flip a byte, cut, insert, set a CBOR head that is
    often the wrong width), and how many edits there were."""
    raw = bytearray(blob)
    edits = data.draw(st.integers(min_value=0, max_value=3))
    for _ in range(edits):
        at = data.draw(st.integers(min_value=0, max_value=max(0, len(raw) - 1)))
        edit = data.draw(st.sampled_from(["flip", "cut", "insert", "set"]))
        if edit == "flip" and raw:
            raw[at] ^= data.draw(st.integers(min_value=1, max_value=255))
        elif edit == "cut":
            del raw[at : at + data.draw(st.integers(min_value=1, max_value=len(raw) + 1))]
        elif edit == "set" and raw:
            raw[at] = data.draw(st.sampled_from([0x00, 0x18, 0x19, 0x40, 0x60, 0xF9, 0xFA, 0xFB]))
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=3))
    return bytes(raw), edits


@given(st.integers(min_value=0, max_value=70_000))
def test_bstr_header_is_cbor2s_deterministic_head(length: int) -> None:
    encoded = cbor2.dumps(b"\0" * length, canonical=True)
    assert bstr_header(length) == encoded[: len(encoded) - length]


@given(st.binary(max_size=300) | st.binary(min_size=65_530, max_size=65_540))
def test_sig_structure_equals_its_cbor_encoding(payload: bytes) -> None:
    expected = det_cbor.encode(["Signature1", PROTECTED_ES256, b"", payload])
    assert sig_structure(PROTECTED_ES256, payload) == expected


_LABELLED = st.dictionaries(
    st.sampled_from([N, U, V, VS, VB, S, T, BN, BT, BU, BV]),
    st.one_of(
        st.floats(width=32) | st.floats(min_value=-1e308, max_value=1e308),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.sampled_from(["temp", "rh", "line/car/in", "bad name", "", "Cel", "count"]),
        st.booleans(),
        st.none(),
    ),
    max_size=5,
)


@settings(max_examples=1_000)
@given(st.lists(_LABELLED, max_size=6))
def test_resolved_records_are_what_the_checked_constructor_builds(
    pack: list[dict[int, object]],
) -> None:
    try:
        resolved = resolve_pack(pack)
    except MalformedError:
        return
    for record in resolved:
        rebuilt = Record(
            name=record.name,
            unit=record.unit,
            value=record.value,
            string_value=record.string_value,
            bool_value=record.bool_value,
            data_value=record.data_value,
            time=record.time,
            sum=record.sum,
            update_time=record.update_time,
        )
        assert rebuilt == record


def test_base_value_overflowing_to_infinity_is_refused() -> None:
    with pytest.raises(MalformedError, match=r"readings\[0\]\.value"):
        resolve_pack([{BV: 1e308, N: "x", V: 1e308}], "readings")


def _canonical_float(data: bytes) -> float | None:
    """What the general decoder makes of one CBOR float item: its value if the item is
    deterministically encoded and finite, else None."""
    try:
        value = cbor2.loads(data)
    except Exception:
        return None
    if not isinstance(value, float) or not math.isfinite(value):
        return None
    return value if det_cbor.encode(value) == data else None


def _scanned_float(data: bytes) -> float | None:
    try:
        value, end = read_float(data, 0)
    except Exception:
        return None
    return value if end == len(data) else None


def test_every_half_precision_float_is_read_as_the_general_decoder_reads_it() -> None:
    for bits in range(1 << 16):
        data = b"\xf9" + bits.to_bytes(2, "big")
        assert _scanned_float(data) == _canonical_float(data), data.hex()


@settings(max_examples=3_000)
@given(
    st.binary(min_size=4, max_size=4).map(lambda b: b"\xfa" + b)
    | st.binary(min_size=8, max_size=8).map(lambda b: b"\xfb" + b)
    | st.floats(width=32).map(lambda f: b"\xfa" + struct.pack(">f", f))
    | st.floats(width=16).map(lambda f: b"\xfb" + struct.pack(">d", f))
    | st.floats().map(det_cbor.encode)
)
def test_wider_floats_are_read_as_the_general_decoder_reads_them(data: bytes) -> None:
    assert _scanned_float(data) == _canonical_float(data)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(reports())
def test_scan_reads_every_encoded_report_as_the_general_decoder_does(report: Report) -> None:
    payload = encode_payload(report)
    scanned = scan_payload(payload)
    assert scanned is not None
    assert scanned == _decode_payload_in_full(payload, max_size=MAX) == report


class Shortcut(NamedTuple):
    encode: Callable[[Report], bytes]
    read: Callable[[bytes], object]
    read_in_full: Callable[[bytes], object]
    covers_all_valid: bool


SHORTCUTS = {
    # Every valid envelope has the one shape the envelope shortcut reads.
    "envelope": Shortcut(
        lambda report: sign_report(report, DEVICE_KEY),
        _parse_canonical_sign1,
        lambda blob: _parse_sign1_in_full(blob, max_size=MAX),
        covers_all_valid=True,
    ),
    # Valid payloads of other shapes (base fields, integer values) are left to the full
    # decoder.
    "payload": Shortcut(
        encode_payload,
        scan_payload,
        lambda blob: _decode_payload_in_full(blob, max_size=MAX),
        covers_all_valid=False,
    ),
}


@pytest.mark.parametrize("name", SHORTCUTS)
@settings(max_examples=1_000, suppress_health_check=[HealthCheck.too_slow])
@given(report=reports(), data=st.data())
def test_shortcut_accepts_only_what_the_full_decoder_accepts(
    name: str, report: Report, data: st.DataObject
) -> None:
    case = SHORTCUTS[name]
    blob, edits = _edited(data, case.encode(report))
    fast = case.read(blob)
    try:
        full = case.read_in_full(blob)
    except WireError:
        assert fast is None
    else:
        assert fast == full if case.covers_all_valid or not edits else fast in (None, full)


def test_other_shapes_are_left_to_the_general_decoder() -> None:
    report = Report(DEVICE_KEY.device_id, 1, 1_764_000_000, 1_764_000_060, ())
    base = dict(cbor2.loads(encode_payload(report)))
    # Base fields and integer values are valid SenML the scan does not read itself.
    base[8] = [{BN: "bme280/", N: "temp", V: 21}, {N: "rh", V: 54.5}]
    payload = det_cbor.encode(base)
    assert scan_payload(payload) is None
    decoded = decode_payload(payload)
    assert [r.name for r in decoded.records] == ["bme280/temp", "bme280/rh"]
    assert decoded.records[0].value == 21.0


def test_scan_reads_the_non_base_labels_by_their_numbers() -> None:
    assert tuple(range(9)) == (N, U, V, VS, VB, S, T, UT, VD)
