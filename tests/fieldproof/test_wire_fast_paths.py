"""The receive path's shortcuts agree with the general decoder they stand in for."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldproof.wire import MalformedError, Record, Report, WireError, sign_report
from fieldproof.wire import cbor as det_cbor
from fieldproof.wire.cose import (
    PROTECTED_ES256,
    _parse_canonical_sign1,
    _parse_sign1_in_full,
    bstr_header,
    sig_structure,
)
from fieldproof.wire.senml import BN, BT, BU, BV, VB, VS, N, S, T, U, V, resolve_pack
from tests.fieldproof.strategies import DEVICE_KEY, reports

MAX = 1 << 20


@given(st.integers(min_value=0, max_value=70_000))
def test_bstr_header_is_cbor2s_deterministic_head(length: int) -> None:
    encoded = cbor2.dumps(b"\0" * length, canonical=True)
    assert bstr_header(length) == encoded[: len(encoded) - length]


@given(st.binary(max_size=300) | st.binary(min_size=65_530, max_size=65_540))
def test_sig_structure_equals_its_cbor_encoding(payload: bytes) -> None:
    expected = det_cbor.encode(["Signature1", PROTECTED_ES256, b"", payload])
    assert sig_structure(PROTECTED_ES256, payload) == expected


@settings(max_examples=300)
@given(reports(), st.data())
def test_envelope_shortcut_accepts_exactly_what_the_full_decoder_accepts(
    report: Report, data: st.DataObject
) -> None:
    signed = sign_report(report, DEVICE_KEY)
    edit = data.draw(st.sampled_from(["none", "flip", "cut", "insert"]))
    raw = bytearray(signed)
    at = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    if edit == "flip":
        raw[at] ^= data.draw(st.integers(min_value=1, max_value=255))
    elif edit == "cut":
        del raw[at:]
    elif edit == "insert":
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=3))
    blob = bytes(raw)
    fast = _parse_canonical_sign1(blob)
    try:
        full = _parse_sign1_in_full(blob, max_size=MAX)
    except WireError:
        assert fast is None
    else:
        assert fast == full
    if edit == "none":
        assert fast is not None


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
