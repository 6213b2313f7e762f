"""A small client for an aggregator's HTTP API: researchers and owners need no server install."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
from typing import Any

from fieldproof.errors import FieldproofError, FieldproofValueError

API_KEY_ENV = "FIELDPROOF_API_KEY"
TIMEOUT_S = 60.0


def api_request(url: str, key_env: str, *, timeout: float = TIMEOUT_S, accept: str = "*/*") -> Any:
    """GET ``url`` with the API key from ``$key_env`` (if set); the open response.
    HTTP and network errors become a :class:`FieldproofError` naming the endpoint."""
    headers = {"Accept": accept}
    key = os.environ.get(key_env)
    if key:
        headers["X-API-Key"] = key
    request = urllib.request.Request(url, headers=headers)
    endpoint = url.partition("?")[0]
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(json.loads(detail).get("detail", detail))
        raise FieldproofError(f"{endpoint}: HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise FieldproofError(f"{endpoint}: {exc}") from exc


def fetch_json(url: str, key_env: str, *, timeout: float = TIMEOUT_S) -> Any:
    """GET ``url`` and parse its JSON body; a body that is not JSON is an error naming ``url``."""
    with api_request(url, key_env, timeout=timeout, accept="application/json") as response:
        body = response.read()
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise FieldproofValueError(f"{url}: not JSON ({exc})") from exc
