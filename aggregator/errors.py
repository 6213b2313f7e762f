"""Error root of the aggregator."""

from __future__ import annotations

from fieldproof.errors import FieldproofError


class AggregatorError(FieldproofError):
    """Base of all errors raised by the aggregator."""


class AggregatorValueError(AggregatorError, ValueError):
    """A value handed to the aggregator was not acceptable."""
