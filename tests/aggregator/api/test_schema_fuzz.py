"""The OpenAPI document against what the API answers, by generated requests.

Every operation gets valid and invalid requests built from the document; no answer may
be a server error, and every answer (status, content type, headers, body) must be one
the document lists for that operation.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aggregator.api import ApiConfig, ApiKeyConfig, create_app
from tests.aggregator.api.world import World

ADMIN_KEY = "fuzz-admin-key-0123456789"
MAX_EXAMPLES = 25

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def _has_inputs(operation: APIOperation[Any, Any, Any, Any]) -> bool:
    return bool(operation.path_parameters or operation.query or operation.body)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_answers_match_the_document(sqlite_world: World, mode: GenerationMode) -> None:
    # Limits high enough that generated requests are never refused for their number;
    # the admin key opens the admin endpoints too.
    config = ApiConfig(
        anonymous_rate_per_s=1e6,
        anonymous_burst=10**6,
        keys=[ApiKeyConfig(name="fuzz", key=ADMIN_KEY, admin=True, rate_per_s=1e6, burst=10**6)],
    )
    app = create_app(sqlite_world.sources, config)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 15
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and not _has_inputs(operation):
            continue  # nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Case[Any]) -> None:
            case.call_and_validate(headers={"X-API-Key": ADMIN_KEY}, checks=CHECKS)

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    answered, _, _ = app.state.context.metrics.read()
    # Generation did run: most operations were asked many times.
    assert sum(answered.values()) >= 5 * len(operations)
