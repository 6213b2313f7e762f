"""Errors of the HTTP API: each maps to one status code and names what was wrong."""

from __future__ import annotations

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
