"""The wire contract: signed SenML reports (COSE_Sign1, ES256, deterministic CBOR)."""

from fieldproof.wire.errors import (
    DeviceMismatchError,
    MalformedError,
    ReportTooLargeError,
    SignatureError,
    WireError,
)
from fieldproof.wire.report import (
    SignedReport,
    decode_payload,
    decode_report,
    encode_payload,
    open_report,
    sign_report,
    verify_report,
)
from fieldproof.wire.report_types import MAX_REPORT_SIZE, SCHEMA_VERSION, ModelRef, Report
from fieldproof.wire.senml import Record, records_from_senml_json, records_to_senml_json

__all__ = [
    "MAX_REPORT_SIZE",
    "SCHEMA_VERSION",
    "DeviceMismatchError",
    "MalformedError",
    "ModelRef",
    "Record",
    "Report",
    "ReportTooLargeError",
    "SignatureError",
    "SignedReport",
    "WireError",
    "decode_payload",
    "decode_report",
    "encode_payload",
    "open_report",
    "records_from_senml_json",
    "records_to_senml_json",
    "sign_report",
    "verify_report",
]
