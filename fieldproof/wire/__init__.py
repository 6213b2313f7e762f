"""The wire contract: signed SenML reports (COSE_Sign1, ES256, deterministic CBOR) and
signed device documents (status and health JSON in the same envelope)."""

from fieldproof.wire.document import (
    MAX_DOCUMENT_SIZE,
    SignedDocument,
    open_document,
    sign_document,
    verify_document,
)
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
from fieldproof.wire.report_types import (
    MAX_REPORT_SIZE,
    SCHEMA_VERSION,
    SCHEMA_VERSIONS,
    Beacon,
    ModelRef,
    Report,
)
from fieldproof.wire.senml import Record, records_from_senml_json, records_to_senml_json

__all__ = [
    "MAX_DOCUMENT_SIZE",
    "MAX_REPORT_SIZE",
    "SCHEMA_VERSION",
    "SCHEMA_VERSIONS",
    "Beacon",
    "DeviceMismatchError",
    "MalformedError",
    "ModelRef",
    "Record",
    "Report",
    "ReportTooLargeError",
    "SignatureError",
    "SignedDocument",
    "SignedReport",
    "WireError",
    "decode_payload",
    "decode_report",
    "encode_payload",
    "open_document",
    "open_report",
    "records_from_senml_json",
    "records_to_senml_json",
    "sign_document",
    "sign_report",
    "verify_document",
    "verify_report",
]
