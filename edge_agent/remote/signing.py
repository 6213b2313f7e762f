"""Operator-signed config documents: JSON inside a COSE_Sign1 (ES256, kid = operator id)."""

from __future__ import annotations

import json
from typing import Any

from edge_agent.remote.config import ConfigDocument
from edge_agent.remote.errors import ConfigRejectedError
from fieldproof.config import parse_config
from fieldproof.errors import ConfigError
from fieldproof.identity import PublicKeyVerifier, Signer
from fieldproof.wire.cose import parse_sign1, sign1
from fieldproof.wire.errors import WireError


def sign_config(document: dict[str, Any], signer: Signer) -> bytes:
    """Sign a config document (the operator side); validates it first."""
    parse_config(ConfigDocument, document, "config document")
    payload = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return sign1(payload, bytes(signer.device_id), signer)


def open_config(data: bytes, operator_key: PublicKeyVerifier, *, max_size: int) -> ConfigDocument:
    """Check the signature, then parse and validate; raises ConfigRejectedError with a reason."""
    try:
        envelope = parse_sign1(data, max_size=max_size)
    except WireError as exc:
        raise ConfigRejectedError("malformed", str(exc)) from exc
    # The signature is checked before the payload is parsed: unsigned bytes are never trusted.
    if not operator_key.verify(envelope.to_be_signed, envelope.signature):
        raise ConfigRejectedError("bad_signature", "not signed by the configured operator key")
    try:
        document = json.loads(envelope.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigRejectedError("malformed", f"payload is not JSON: {exc}") from exc
    try:
        return parse_config(ConfigDocument, document, "config")
    except ConfigError as exc:
        raise ConfigRejectedError("invalid", str(exc)) from exc
