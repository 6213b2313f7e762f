"""SenML packs: the RFC 8428 examples, JSON and CBOR forms, base-field resolution."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldproof.wire import MalformedError, Record, records_from_senml_json, records_to_senml_json
from fieldproof.wire import cbor as det_cbor
from fieldproof.wire.senml import pack_records, resolve_pack, to_wire_precision
from tests.fieldproof.strategies import records

# RFC 8428 §5.1.1
SINGLE = '[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]'
# RFC 8428 §5.1.2
MULTIPLE = """[
  {"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},
  {"n":"current","u":"A","v":1.2}
]"""
# RFC 8428 §5.1.3
MEASUREMENTS = """[
  {"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,
   "bu":"A","bver":5,"n":"voltage","u":"V","v":120.1},
  {"n":"current","t":-5,"v":1.2},
  {"n":"current","t":-4,"v":1.3},
  {"n":"current","t":-3,"v":1.4},
  {"n":"current","t":-2,"v":1.5},
  {"n":"current","t":-1,"v":1.6},
  {"n":"current","v":1.7}
]"""


def test_rfc8428_single_datapoint() -> None:
    (record,) = records_from_senml_json(SINGLE)
    assert record.name == "urn:dev:ow:10e2073a01080063"
    assert record.unit == "Cel"
    assert record.value == to_wire_precision(23.1)


def test_rfc8428_multiple_datapoints_apply_base_name() -> None:
    voltage, current = records_from_senml_json(MULTIPLE)
    assert (voltage.name, voltage.unit) == ("urn:dev:ow:10e2073a01080063:voltage", "V")
    assert voltage.value == pytest.approx(120.1)
    assert (current.name, current.unit) == ("urn:dev:ow:10e2073a01080063:current", "A")
    assert current.value == pytest.approx(1.2)


def test_rfc8428_multiple_measurements_apply_base_time_and_unit() -> None:
    voltage, *currents = records_from_senml_json(MEASUREMENTS)
    base_time = 1.276020076001e09
    assert voltage.unit == "V"
    assert voltage.time == base_time
    assert [c.unit for c in currents] == ["A"] * 6
    assert [c.time for c in currents] == [base_time + t for t in (-5, -4, -3, -2, -1, 0)]
    assert [c.value for c in currents] == pytest.approx([1.2, 1.3, 1.4, 1.5, 1.6, 1.7])
    assert {c.name for c in currents} == {"urn:dev:ow:10e2073a0108006:current"}


@given(st.lists(records(), max_size=10))
def test_json_round_trip(items: list[Record]) -> None:
    assert records_from_senml_json(records_to_senml_json(items)) == tuple(items)


@given(st.lists(records(), max_size=10))
def test_cbor_round_trip(items: list[Record]) -> None:
    encoded = det_cbor.encode(pack_records(items))
    decoded = det_cbor.decode(encoded, what="senml", max_size=1 << 20)
    assert resolve_pack(decoded) == tuple(items)


def test_json_spells_units_and_short_values() -> None:
    text = records_to_senml_json([Record(name="temp", value=21.3)])
    assert json.loads(text) == [{"n": "temp", "u": "Cel", "v": 21.3}]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("not json", "senml"),
        ('{"n": "x"}', "senml"),
        ('[{"n": "x", "zz": 1, "v": 1}]', "senml[0]"),
        ('[{"n": "x", "v": true}]', "senml[0].v"),
        ('[{"n": "x", "vb": 1}]', "senml[0].vb"),
        ('[{"n": "x", "vd": "***"}]', "senml[0].vd"),
        ('[{"n": "x"}]', "senml[0]"),
        ('[{"bver": 99, "n": "x", "v": 1}]', "senml[0].bver"),
    ],
)
def test_bad_json_names_the_field(text: str, field: str) -> None:
    with pytest.raises(MalformedError) as caught:
        records_from_senml_json(text)
    assert caught.value.field == field
