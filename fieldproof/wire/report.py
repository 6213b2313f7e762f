"""Reports: the signed, deterministic-CBOR unit every device publishes.

Payload map (integer keys, deterministic CBOR)::

    1: schema version (uint)          5: interval length in seconds (uint; end - start)
    2: device id (bstr 32)            6: model id (tstr, optional)
    3: sequence number (uint)         7: model sha256 prefix (bstr 8, with 6)
    4: interval start, Unix seconds   8: readings, SenML pack with CBOR labels
                                      9: beacon, [block number (uint), block hash (bstr 32)]

The end travels as a length because it is a few bytes shorter and cannot precede
the start. Version 2 reports carry key 9, version 1 reports never do; both decode.

wrapped in a COSE_Sign1 (ES256) whose ``kid`` is the device id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fieldproof.identity import DeviceId, PublicKeyVerifier, Signer, device_id_from_public_key
from fieldproof.wire import cbor
from fieldproof.wire.cose import Sign1, parse_sign1, sign1
from fieldproof.wire.errors import DeviceMismatchError, MalformedError, SignatureError
from fieldproof.wire.payload_scan import scan_payload
from fieldproof.wire.report_types import (
    DEVICE_ID_SIZE,
    KEY_BEACON,
    KEY_DEVICE,
    KEY_END,
    KEY_MODEL_ID,
    KEY_MODEL_SHA,
    KEY_READINGS,
    KEY_SEQ,
    KEY_START,
    KEY_VERSION,
    MAX_RECORDS,
    MAX_REPORT_SIZE,
    MAX_SEQ,
    SCHEMA_VERSIONS,
    Beacon,
    ModelRef,
    Report,
)
from fieldproof.wire.senml import pack_records, resolve_pack

_KEYS = {
    KEY_VERSION: "version", KEY_DEVICE: "device_id", KEY_SEQ: "seq", KEY_START: "start",
    KEY_END: "length", KEY_MODEL_ID: "model_id", KEY_MODEL_SHA: "model_sha256",
    KEY_READINGS: "readings", KEY_BEACON: "beacon",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SignedReport:
    """A decoded report with its envelope; the signature is checked by :func:`verify_report`."""

    report: Report
    kid: bytes
    signature: bytes
    raw: bytes
    to_be_signed: bytes

    @property
    def device_id(self) -> DeviceId:
        return DeviceId(self.report.device_id)


def encode_payload(report: Report) -> bytes:
    """Deterministic CBOR of the report's payload map."""
    payload: dict[int, Any] = {
        KEY_VERSION: report.version,
        KEY_DEVICE: report.device_id,
        KEY_SEQ: report.seq,
        KEY_START: report.start,
        KEY_END: report.end - report.start,
        KEY_READINGS: pack_records(report.records),
    }
    if report.model is not None:
        payload[KEY_MODEL_ID] = report.model.model_id
        payload[KEY_MODEL_SHA] = report.model.sha256_prefix
    if report.beacon is not None:
        payload[KEY_BEACON] = [report.beacon.number, report.beacon.block_hash]
    return cbor.encode(payload)


def sign_report(report: Report, signer: Signer) -> bytes:
    """The COSE_Sign1 bytes of ``report``, signed by the device it names."""
    if signer.device_id != report.device_id:
        raise DeviceMismatchError("signer: its device id differs from the report's device_id")
    return sign1(encode_payload(report), report.device_id, signer)


def _uint(payload: dict[Any, Any], key: int, limit: int = MAX_SEQ) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedError(_KEYS[key], f"expected an unsigned integer, got {value!r}"[:120])
    if not 0 <= value <= limit:
        raise MalformedError(_KEYS[key], f"{value} is out of range")
    return value


def decode_payload(data: bytes, *, max_size: int = MAX_REPORT_SIZE) -> Report:
    """Strictly decode a payload into a :class:`Report`."""
    if len(data) <= max_size:
        scanned = scan_payload(data)
        if scanned is not None:
            return scanned
    return _decode_payload_in_full(data, max_size=max_size)


def _decode_payload_in_full(data: bytes, *, max_size: int) -> Report:
    payload = cbor.decode(data, what="payload", max_size=max_size)
    if not isinstance(payload, dict):
        raise MalformedError("payload", f"expected a map, got {type(payload).__name__}")
    unknown = [key for key in payload if key not in _KEYS]
    if unknown:
        raise MalformedError("payload", f"unknown key(s) {unknown!r}"[:120])
    for key in (KEY_VERSION, KEY_DEVICE, KEY_SEQ, KEY_START, KEY_END, KEY_READINGS):
        if key not in payload:
            raise MalformedError(_KEYS[key], "missing")
    version = _uint(payload, KEY_VERSION)
    if version not in SCHEMA_VERSIONS:
        raise MalformedError("version", f"unsupported schema version {version}")
    beacon = _beacon(payload, version)
    device_id = payload[KEY_DEVICE]
    if not isinstance(device_id, bytes) or len(device_id) != DEVICE_ID_SIZE:
        raise MalformedError("device_id", f"expected {DEVICE_ID_SIZE} bytes")
    model = None
    if (KEY_MODEL_ID in payload) != (KEY_MODEL_SHA in payload):
        raise MalformedError("model_id", "model id and sha256 prefix must come together")
    if KEY_MODEL_ID in payload:
        model_id, model_sha = payload[KEY_MODEL_ID], payload[KEY_MODEL_SHA]
        if not isinstance(model_id, str):
            raise MalformedError("model_id", "expected text")
        if not isinstance(model_sha, bytes):
            raise MalformedError("model_sha256", "expected bytes")
        model = ModelRef(model_id, model_sha)
    start = _uint(payload, KEY_START)
    end = start + _uint(payload, KEY_END)
    readings = payload[KEY_READINGS]
    if not isinstance(readings, list):
        raise MalformedError("readings", "expected a SenML pack (array)")
    if len(readings) > MAX_RECORDS:
        raise MalformedError("readings", f"more than {MAX_RECORDS} records")
    return Report(
        device_id=device_id,
        seq=_uint(payload, KEY_SEQ),
        start=start,
        end=end,
        records=resolve_pack(readings, "readings"),
        model=model,
        beacon=beacon,
    )


def _beacon(payload: dict[Any, Any], version: int) -> Beacon | None:
    """The beacon, which version 2 requires and version 1 does not know."""
    if version == 1:
        if KEY_BEACON in payload:
            raise MalformedError("beacon", "version 1 reports carry no beacon")
        return None
    value = payload.get(KEY_BEACON)
    if value is None:
        raise MalformedError("beacon", "missing")
    if not isinstance(value, list) or len(value) != 2:
        raise MalformedError("beacon", "expected [block number, block hash]")
    number, block_hash = value
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= MAX_SEQ:
        raise MalformedError(
            "beacon", f"block number: expected an unsigned integer, got {number!r}"[:120]
        )
    if not isinstance(block_hash, bytes):
        raise MalformedError("beacon", "block hash: expected bytes")
    return Beacon(number, block_hash)


def decode_report(data: bytes, *, max_size: int = MAX_REPORT_SIZE) -> SignedReport:
    """Strictly decode a signed report; the signature is *not* checked here."""
    envelope: Sign1 = parse_sign1(data, max_size=max_size)
    report = decode_payload(envelope.payload, max_size=max_size)
    if envelope.kid != report.device_id:
        raise DeviceMismatchError("kid: the header's kid differs from the payload's device_id")
    return SignedReport(report, envelope.kid, envelope.signature, data, envelope.to_be_signed)


def verify_report(signed: SignedReport, public_key: bytes | PublicKeyVerifier) -> None:
    """Raise unless ``public_key`` belongs to the report's device and signed it."""
    if isinstance(public_key, PublicKeyVerifier):
        verifier = public_key
    else:
        if device_id_from_public_key(public_key) != signed.report.device_id:
            raise DeviceMismatchError("public key: does not derive the report's device_id")
        verifier = PublicKeyVerifier(public_key)
    if not verifier.verify(signed.to_be_signed, signed.signature):
        raise SignatureError("signature: does not verify under the device's key")


def open_report(
    data: bytes, public_key: bytes | PublicKeyVerifier, *, max_size: int = MAX_REPORT_SIZE
) -> Report:
    """Decode and verify in one step."""
    signed = decode_report(data, max_size=max_size)
    verify_report(signed, public_key)
    return signed.report
