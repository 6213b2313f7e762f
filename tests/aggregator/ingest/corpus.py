"""Hand-made bad inputs: each with the topic it arrives on and the reason it must get."""

from __future__ import annotations

import time
from typing import Any

import cbor2

from aggregator.ingest.reasons import Reason
from fieldproof.wire import MAX_REPORT_SIZE, Record, encode_payload, sign_report
from fieldproof.wire.cose import sign1
from tests.aggregator.reports import Device


def resign(device: Device, payload: dict[int, Any]) -> bytes:
    """Sign an arbitrary payload map with the device's real key (valid COSE, bad content)."""
    return sign1(cbor2.dumps(payload, canonical=True), device.device_id, device.key)


def payload_of(device: Device, seq: int) -> dict[int, Any]:
    return dict(cbor2.loads(encode_payload(device.report(seq))))


def bad_corpus(
    good: Device, unknown: Device, inactive: Device, *, seq: int
) -> list[tuple[str, str, bytes, Reason]]:
    """(name, topic, payload, expected reason). ``seq`` must be unused for ``good``."""
    now = int(time.time())
    valid = good.signed(seq)
    flipped = bytearray(valid)
    flipped[-1] ^= 0x01
    nan_payload = payload_of(good, seq)
    nan_payload[8] = [{0: "temp", 2: float("nan")}]
    inf_payload = payload_of(good, seq)
    inf_payload[8] = [{0: "temp", 2: float("inf")}]
    seq_text = payload_of(good, seq)
    seq_text[3] = "seven"
    value_text = payload_of(good, seq)
    value_text[8] = [{0: "temp", 2: "hot"}]
    future = good.report(seq, start=now + 10 * 86_400)
    old = good.report(seq, start=now - 400 * 86_400)
    hot = good.report(seq, records=(Record(name="temp", value=500.0),))
    wrong_unit = good.report(seq, records=(Record(name="rh", unit="Cel", value=20.0),))
    negative_count = good.report(
        seq, records=(Record(name="line1/car/in", unit="count", value=-3.0),)
    )
    text_metric = good.report(seq, records=(Record(name="temp", string_value="warm"),))
    return [
        ("bad signature", good.topic, bytes(flipped), Reason.BAD_SIGNATURE),
        ("unknown device", unknown.topic, unknown.signed(1), Reason.UNKNOWN_DEVICE),
        ("deactivated device", inactive.topic, inactive.signed(1), Reason.INACTIVE_DEVICE),
        ("truncated CBOR", good.topic, valid[: len(valid) // 2], Reason.MALFORMED),
        ("empty", good.topic, b"", Reason.MALFORMED),
        ("oversized", good.topic, valid + b"\x00" * MAX_REPORT_SIZE, Reason.TOO_LARGE),
        ("NaN value", good.topic, resign(good, nan_payload), Reason.MALFORMED),
        ("infinite value", good.topic, resign(good, inf_payload), Reason.MALFORMED),
        ("seq as text", good.topic, resign(good, seq_text), Reason.MALFORMED),
        ("value as text", good.topic, resign(good, value_text), Reason.MALFORMED),
        ("far-future interval", good.topic, sign_report(future, good.key), Reason.TIMESTAMP_FUTURE),
        ("ancient interval", good.topic, sign_report(old, good.key), Reason.TIMESTAMP_TOO_OLD),
        ("other device's topic", unknown.topic, valid, Reason.WRONG_TOPIC),
        ("not a report topic", "fp/v1/x/report/extra", valid, Reason.WRONG_TOPIC),
        ("temperature out of range", good.topic, sign_report(hot, good.key), Reason.OUT_OF_RANGE),
        ("wrong unit", good.topic, sign_report(wrong_unit, good.key), Reason.UNIT_MISMATCH),
        ("negative count", good.topic, sign_report(negative_count, good.key), Reason.OUT_OF_RANGE),
        ("text for a metric", good.topic, sign_report(text_metric, good.key), Reason.WRONG_TYPE),
    ]
