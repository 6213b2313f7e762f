"""SenML (RFC 8428) records: CBOR packs with integer labels, and the JSON form.

A pack is decoded into *resolved* records (RFC 8428 §4.6): base name, time, unit,
value and sum are applied to every record, so callers never see base fields.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fieldproof.metrics import metric_for
from fieldproof.wire.errors import MalformedError

# RFC 8428 §6, Table 4: CBOR labels.
BVER, BN, BT, BU, BV, BS = -1, -2, -3, -4, -5, -6
N, U, V, VS, VB, S, T, UT, VD = 0, 1, 2, 3, 4, 5, 6, 7, 8

_JSON_LABELS = {
    "bver": BVER, "bn": BN, "bt": BT, "bu": BU, "bv": BV, "bs": BS,
    "n": N, "u": U, "v": V, "vs": VS, "vb": VB, "s": S, "t": T, "ut": UT, "vd": VD,
}  # fmt: skip
_LABEL_NAMES = {label: name for name, label in _JSON_LABELS.items()}
_LABELS = frozenset(_LABEL_NAMES)
_BASE_LABELS = frozenset({BVER, BN, BT, BU, BV, BS})
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9:./_-]*")
MAX_NAME_LENGTH = 128
SENML_VERSION = 10
_FLOAT32 = struct.Struct(">f")


@dataclass(frozen=True, slots=True)
class Record:
    """One resolved SenML record: exactly one value field, or a sum, or both."""

    name: str
    unit: str | None = None
    value: float | None = None
    string_value: str | None = None
    bool_value: bool | None = None
    data_value: bytes | None = None
    time: float | None = None
    sum: float | None = None
    update_time: float | None = None

    def __post_init__(self) -> None:
        validate_record(self, "record")
        # Numbers travel as IEEE single precision, far beyond any sensor's resolution,
        # which keeps a typical report small; normalising here keeps round trips exact.
        if self.value is not None:
            object.__setattr__(self, "value", to_wire_precision(self.value))
        if self.unit is None:
            metric = metric_for(self.name)
            if metric is not None:
                object.__setattr__(self, "unit", metric.unit)

    @property
    def value_fields(self) -> int:
        return (
            (self.value is not None)
            + (self.string_value is not None)
            + (self.bool_value is not None)
            + (self.data_value is not None)
        )


def to_wire_precision(value: float) -> float:
    """``value`` rounded to the nearest single-precision float (unchanged if it overflows)."""
    try:
        narrowed: float = _FLOAT32.unpack(_FLOAT32.pack(value))[0]
    except OverflowError:
        return float(value)
    return narrowed


def validate_record(record: Record, where: str) -> None:
    """Checks RFC 8428 places on a resolved record; raises :class:`MalformedError`."""
    name = record.name
    if len(name) > MAX_NAME_LENGTH or not _NAME_PATTERN.fullmatch(name):
        raise MalformedError(
            f"{where}.name", f"{name!r} is not a valid SenML name (RFC 8428 §4.5.1)"
        )
    fields = record.value_fields
    if fields > 1:
        raise MalformedError(where, "more than one value field (v, vs, vb, vd)")
    if fields == 0 and record.sum is None:
        raise MalformedError(where, "no value and no sum")
    for field_name, number in (
        ("value", record.value),
        ("time", record.time),
        ("sum", record.sum),
        ("update_time", record.update_time),
    ):
        if number is not None and not math.isfinite(number):
            raise MalformedError(f"{where}.{field_name}", f"{number!r} is not a finite number")


def _number(raw: Any, at: str, label: str) -> float:
    # Field names are formatted only on error: this runs for every reading received.
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise MalformedError(f"{at}.{label}", f"expected a number, got {type(raw).__name__}")
    value = float(raw)
    if not math.isfinite(value):
        raise MalformedError(f"{at}.{label}", f"{raw!r} is not a finite number")
    return value


def _text(raw: Any, at: str, label: str) -> str:
    if not isinstance(raw, str):
        raise MalformedError(f"{at}.{label}", f"expected text, got {type(raw).__name__}")
    return raw


def _add(base: float | None, offset: float | None) -> float | None:
    if base is None:
        return offset
    return base + (offset or 0.0)


def resolve_pack(pack: Sequence[Mapping[Any, Any]], where: str = "senml") -> tuple[Record, ...]:
    """Resolve a pack whose maps use integer labels (the CBOR form) into records."""
    if not isinstance(pack, list | tuple):
        raise MalformedError(where, f"expected an array of records, got {type(pack).__name__}")
    base_name, base_unit = "", None
    base_time: float | None = None
    base_value: float | None = None
    base_sum: float | None = None
    records = []
    for index, entry in enumerate(pack):
        at = f"{where}[{index}]"
        if not isinstance(entry, Mapping):
            raise MalformedError(at, f"expected a map, got {type(entry).__name__}")
        if not _LABELS.issuperset(entry):
            unknown = [key for key in entry if key not in _LABEL_NAMES]
            raise MalformedError(at, f"unknown label(s) {unknown!r}")
        if not _BASE_LABELS.isdisjoint(entry):
            if BVER in entry:
                version = entry[BVER]
                if isinstance(version, bool) or not isinstance(version, int):
                    raise MalformedError(f"{at}.bver", f"unsupported SenML version {version!r}")
                if version > SENML_VERSION:
                    raise MalformedError(f"{at}.bver", f"unsupported SenML version {version!r}")
            if BN in entry:
                base_name = _text(entry[BN], at, "bn")
            if BT in entry:
                base_time = _number(entry[BT], at, "bt")
            if BU in entry:
                base_unit = _text(entry[BU], at, "bu")
            if BV in entry:
                base_value = _number(entry[BV], at, "bv")
            if BS in entry:
                base_sum = _number(entry[BS], at, "bs")
        value = _number(entry[V], at, "v") if V in entry else None
        if value is not None and base_value is not None:
            value += base_value
        sum_ = _number(entry[S], at, "s") if S in entry else None
        if sum_ is not None and base_sum is not None:
            sum_ += base_sum
        bool_value = entry.get(VB)
        if VB in entry and not isinstance(bool_value, bool):
            raise MalformedError(f"{at}.vb", f"expected a boolean, got {type(bool_value).__name__}")
        data_value = entry.get(VD)
        if VD in entry and not isinstance(data_value, bytes):
            raise MalformedError(f"{at}.vd", f"expected bytes, got {type(data_value).__name__}")
        name = _text(entry[N], at, "n") if N in entry else None
        unit = _text(entry[U], at, "u") if U in entry else None
        records.append(
            _record(
                at,
                name=base_name if name is None else base_name + name,
                unit=base_unit if unit is None else unit,
                value=value,
                string_value=_text(entry[VS], at, "vs") if VS in entry else None,
                bool_value=bool_value,
                data_value=data_value,
                time=_add(base_time, _number(entry[T], at, "t") if T in entry else None),
                sum=sum_,
                update_time=_number(entry[UT], at, "ut") if UT in entry else None,
            )
        )
    return tuple(records)


def _record(where: str, **fields: Any) -> Record:
    try:
        return Record(**fields)
    except MalformedError as exc:
        # Re-anchor the error at the record's position in the pack.
        raise MalformedError(exc.field.replace("record", where, 1), exc.problem) from exc


def pack_records(records: Iterable[Record]) -> list[dict[int, Any]]:
    """The CBOR-label form of ``records``, one self-contained map per record."""
    pack = []
    for record in records:
        entry: dict[int, Any] = {N: record.name}
        metric = metric_for(record.name)
        if record.unit is not None and (metric is None or metric.unit != record.unit):
            entry[U] = record.unit
        if record.value is not None:
            entry[V] = float(record.value)
        if record.string_value is not None:
            entry[VS] = record.string_value
        if record.bool_value is not None:
            entry[VB] = record.bool_value
        if record.data_value is not None:
            entry[VD] = record.data_value
        if record.sum is not None:
            entry[S] = float(record.sum)
        if record.time is not None:
            entry[T] = float(record.time)
        if record.update_time is not None:
            entry[UT] = float(record.update_time)
        pack.append(entry)
    return pack


def records_from_senml_json(text: str | bytes) -> tuple[Record, ...]:
    """Parse an RFC 8428 JSON pack (``[{"bn": …, "n": …, "v": …}, …]``) into records."""
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedError("senml", f"not valid JSON ({exc})") from exc
    if not isinstance(raw, list):
        raise MalformedError("senml", f"expected a JSON array, got {type(raw).__name__}")
    labelled: list[dict[int, Any]] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise MalformedError(
                f"senml[{index}]", f"expected an object, got {type(entry).__name__}"
            )
        converted: dict[int, Any] = {}
        for key, value in entry.items():
            label = _JSON_LABELS.get(key)
            if label is None:
                raise MalformedError(f"senml[{index}]", f"unknown field {key!r}")
            converted[label] = (
                _base64url_decode(value, f"senml[{index}].vd") if label == VD else value
            )
        labelled.append(converted)
    return resolve_pack(labelled)


def records_to_senml_json(records: Iterable[Record], *, indent: int | None = None) -> str:
    """The JSON form of ``records``, units spelled out, values in their shortest form."""
    records = tuple(records)
    objects = []
    for record, entry in zip(records, pack_records(records), strict=True):
        obj: dict[str, Any] = {}
        for label, value in entry.items():
            name = _LABEL_NAMES[label]
            obj[name] = _base64url_encode(value) if label == VD else value
        if record.unit is not None:
            obj["u"] = record.unit
        if record.value is not None:
            obj["v"] = shortest_float32_repr(record.value)
        objects.append(obj)
    return json.dumps(objects, indent=indent)


def shortest_float32_repr(value: float) -> float:
    """The float with the fewest digits that narrows to the same single-precision value."""
    target = to_wire_precision(value)
    for digits in range(1, 18):
        candidate = float(f"{value:.{digits}g}")
        if to_wire_precision(candidate) == target:
            return candidate
    return value


def _base64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _base64url_decode(text: Any, field: str) -> bytes:
    if not isinstance(text, str):
        raise MalformedError(field, "expected base64url text")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(field, f"not base64url ({exc})") from exc
