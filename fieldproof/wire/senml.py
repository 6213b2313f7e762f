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
    _check_name(record.name, where)
    _check_value_fields(record.value_fields, record.sum is not None, where)
    for field_name, number in (
        ("value", record.value),
        ("time", record.time),
        ("sum", record.sum),
        ("update_time", record.update_time),
    ):
        if number is not None and not math.isfinite(number):
            raise MalformedError(f"{where}.{field_name}", f"{number!r} is not a finite number")


def _check_name(name: str, where: str) -> None:
    if len(name) > MAX_NAME_LENGTH or not _NAME_PATTERN.fullmatch(name):
        raise MalformedError(
            f"{where}.name", f"{name!r} is not a valid SenML name (RFC 8428 §4.5.1)"
        )


def _check_value_fields(fields: int, has_sum: bool, where: str) -> None:
    if fields > 1:
        raise MalformedError(where, "more than one value field (v, vs, vb, vd)")
    if fields == 0 and not has_sum:
        raise MalformedError(where, "no value and no sum")


def _number(raw: Any, where: str, index: int, label: str) -> float:
    if type(raw) is float and math.isfinite(raw):  # the common case, first
        return raw
    # Field names are formatted only on error: this runs for every reading received.
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise MalformedError(
            f"{where}[{index}].{label}", f"expected a number, got {type(raw).__name__}"
        )
    value = float(raw)
    if not math.isfinite(value):
        raise MalformedError(f"{where}[{index}].{label}", f"{raw!r} is not a finite number")
    return value


def _text(raw: Any, where: str, index: int, label: str) -> str:
    if type(raw) is not str:
        raise MalformedError(
            f"{where}[{index}].{label}", f"expected text, got {type(raw).__name__}"
        )
    return raw


_MISSING: Any = object()
_new_record = object.__new__
# The slot descriptors' setters, which a frozen dataclass's __setattr__ does not guard.
_SET_NAME = Record.__dict__["name"].__set__
_SET_UNIT = Record.__dict__["unit"].__set__
_SET_VALUE = Record.__dict__["value"].__set__
_SET_STRING_VALUE = Record.__dict__["string_value"].__set__
_SET_BOOL_VALUE = Record.__dict__["bool_value"].__set__
_SET_DATA_VALUE = Record.__dict__["data_value"].__set__
_SET_TIME = Record.__dict__["time"].__set__
_SET_SUM = Record.__dict__["sum"].__set__
_SET_UPDATE_TIME = Record.__dict__["update_time"].__set__
# Valid names seen lately and the unit a record under each defaults to: names repeat
# in every report of a device, so the name check and catalogue lookup run once per name.
_KNOWN_NAMES: dict[str, str | None] = {}
_KNOWN_NAMES_LIMIT = 4096


def resolve_pack(pack: Sequence[Mapping[Any, Any]], where: str = "senml") -> tuple[Record, ...]:
    """Resolve a pack whose maps use integer labels (the CBOR form) into records.

    Runs for every report received, so it validates each field once, as it reads it,
    and builds the records directly instead of through :class:`Record`'s checks.
    """
    if not isinstance(pack, list | tuple):
        raise MalformedError(where, f"expected an array of records, got {type(pack).__name__}")
    base_name, base_unit = "", None
    base_time: float | None = None
    base_value: float | None = None
    base_sum: float | None = None
    records = []
    for index, entry in enumerate(pack):
        if not isinstance(entry, Mapping):
            raise MalformedError(f"{where}[{index}]", f"expected a map, got {type(entry).__name__}")
        if not _LABELS.issuperset(entry):
            unknown = [key for key in entry if key not in _LABEL_NAMES]
            raise MalformedError(f"{where}[{index}]", f"unknown label(s) {unknown!r}")
        if not _BASE_LABELS.isdisjoint(entry):
            if BVER in entry:
                version = entry[BVER]
                if (
                    isinstance(version, bool)
                    or not isinstance(version, int)
                    or version > SENML_VERSION
                ):
                    raise MalformedError(
                        f"{where}[{index}].bver", f"unsupported SenML version {version!r}"
                    )
            if BN in entry:
                base_name = _text(entry[BN], where, index, "bn")
            if BT in entry:
                base_time = _number(entry[BT], where, index, "bt")
            if BU in entry:
                base_unit = _text(entry[BU], where, index, "bu")
            if BV in entry:
                base_value = _number(entry[BV], where, index, "bv")
            if BS in entry:
                base_sum = _number(entry[BS], where, index, "bs")
        records.append(
            _resolve_entry(
                entry, where, index, base_name=base_name, base_unit=base_unit,
                base_time=base_time, base_value=base_value, base_sum=base_sum,
            )
        )  # fmt: skip
    return tuple(records)


def _resolve_entry(
    entry: Mapping[Any, Any],
    where: str,
    index: int,
    *,
    base_name: str,
    base_unit: str | None,
    base_time: float | None,
    base_value: float | None,
    base_sum: float | None,
) -> Record:
    get = entry.get
    raw = get(V, _MISSING)
    value = None if raw is _MISSING else _number(raw, where, index, "v")
    if value is not None and base_value is not None:
        value += base_value
    raw = get(S, _MISSING)
    sum_ = None if raw is _MISSING else _number(raw, where, index, "s")
    if sum_ is not None and base_sum is not None:
        sum_ += base_sum
    raw = get(T, _MISSING)
    if raw is _MISSING:
        time = base_time
    else:
        offset = _number(raw, where, index, "t")
        time = offset if base_time is None else base_time + offset
    raw = get(UT, _MISSING)
    update_time = None if raw is _MISSING else _number(raw, where, index, "ut")
    raw = get(VS, _MISSING)
    string_value = None if raw is _MISSING else _text(raw, where, index, "vs")
    bool_value = get(VB)
    if VB in entry and type(bool_value) is not bool:
        raise MalformedError(
            f"{where}[{index}].vb", f"expected a boolean, got {type(bool_value).__name__}"
        )
    data_value = get(VD)
    if VD in entry and not isinstance(data_value, bytes):
        raise MalformedError(
            f"{where}[{index}].vd", f"expected bytes, got {type(data_value).__name__}"
        )
    if base_value is not None or base_sum is not None or base_time is not None:
        # Base values added to offsets can overflow to infinity.
        for field_name, number in (("value", value), ("time", time), ("sum", sum_)):
            if number is not None and not math.isfinite(number):
                raise MalformedError(
                    f"{where}[{index}].{field_name}", f"{number!r} is not a finite number"
                )
    raw = get(N, _MISSING)
    name = base_name if raw is _MISSING else base_name + _text(raw, where, index, "n")
    raw = get(U, _MISSING)
    unit = base_unit if raw is _MISSING else _text(raw, where, index, "u")
    return checked_record(
        where, index, name, unit, value, string_value, bool_value, data_value, time, sum_,
        update_time,
    )  # fmt: skip


def checked_record(  # noqa: PLR0917 - positional: it runs for every reading received
    where: str,
    index: int,
    name: str,
    unit: str | None,
    value: float | None,
    string_value: str | None,
    bool_value: bool | None,
    data_value: bytes | None,
    time: float | None,
    sum_: float | None,
    update_time: float | None,
) -> Record:
    """A :class:`Record` from fields whose types a decoder has checked (numbers finite),
    with the other checks and normalisation of ``Record.__post_init__`` done once;
    errors are placed at ``where[index]``."""
    default_unit = _KNOWN_NAMES.get(name, _MISSING)
    if default_unit is _MISSING:
        _check_name(name, f"{where}[{index}]")
        metric = metric_for(name)
        default_unit = None if metric is None else metric.unit
        if len(_KNOWN_NAMES) >= _KNOWN_NAMES_LIMIT:
            _KNOWN_NAMES.clear()
        _KNOWN_NAMES[name] = default_unit
    fields = (
        (value is not None) + (string_value is not None) + (bool_value is not None)
        + (data_value is not None)
    )  # fmt: skip
    if fields > 1 or (fields == 0 and sum_ is None):
        _check_value_fields(fields, sum_ is not None, f"{where}[{index}]")
    if value is not None:
        value = to_wire_precision(value)
    if unit is None:
        unit = default_unit
    # Setting the slots directly skips checking every field a second time.
    record: Record = _new_record(Record)
    _SET_NAME(record, name)
    _SET_UNIT(record, unit)
    _SET_VALUE(record, value)
    _SET_STRING_VALUE(record, string_value)
    _SET_BOOL_VALUE(record, bool_value)
    _SET_DATA_VALUE(record, data_value)
    _SET_TIME(record, time)
    _SET_SUM(record, sum_)
    _SET_UPDATE_TIME(record, update_time)
    return record


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
