"""Errors of the wire format: every malformed input raises a subclass of :class:`WireError`."""

from __future__ import annotations

from fieldproof.errors import FieldproofValueError


class WireError(FieldproofValueError):
    """A report, pack or record could not be encoded, decoded or verified."""

    reason = "malformed"


class ReportTooLargeError(WireError):
    """The input is larger than the size cap."""

    reason = "too_large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"report: {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


class MalformedError(WireError):
    """A field is missing, of the wrong type or out of range; ``field`` names it."""

    reason = "malformed"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class SignatureError(WireError):
    """The signature does not verify under the given key."""

    reason = "bad_signature"


class DeviceMismatchError(WireError):
    """The key, the ``kid`` header and the payload's device id do not agree."""

    reason = "device_mismatch"
