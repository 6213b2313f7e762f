"""Errors of the HTTP API: each maps to one status code and names what was wrong.

Every error answer has one shape, :class:`ErrorBody`; :func:`error_responses` lists the
ones a route can give in its OpenAPI ``responses``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aggregator.errors import AggregatorError, AggregatorValueError


class ParameterError(AggregatorValueError):
    """A request parameter is invalid (HTTP 400); the message starts with its name."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


class NotFoundError(AggregatorError):
    """The thing asked for does not exist (HTTP 404)."""


class UnavailableError(AggregatorError):
    """The API was started without the source this endpoint needs (HTTP 503)."""


class ErrorBody(BaseModel):
    """The body of every error answer."""

    detail: str = Field(description="What was wrong; starts with the parameter's name if any.")
    parameter: str | None = Field(
        None, description="The request parameter at fault (400 and 422 only)."
    )


_DESCRIPTIONS = {
    400: "A parameter is invalid (its value, or how it combines with the others).",
    401: "No API key where one is required, or an unknown key.",
    403: "The key may not call this endpoint.",
    404: "The thing asked for does not exist.",
    422: "A parameter is missing or has the wrong type or form.",
    429: "The caller's rate limit is spent; retry after `Retry-After` seconds.",
    502: "A backend refused the query.",
    503: "The API was started without the source this endpoint needs.",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`ApiKey`", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
}

# What any route behind a key and a rate limit may answer.
KEYED = (401, 422, 429)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error ``codes`` and :data:`KEYED`, as :class:`ErrorBody`."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in sorted({*KEYED, *codes}):
        entry: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[code]}
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        responses[code] = entry
    return responses
