"""Errors of epoch anchoring."""

from __future__ import annotations

from aggregator.errors import AggregatorError, AggregatorValueError


class AnchoringError(AggregatorError):
    """An epoch could not be closed, written or anchored."""


class AnchoringValueError(AnchoringError, AggregatorValueError):
    """A setting of the anchorer is not acceptable."""
