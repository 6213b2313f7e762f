"""Errors of reward scoring."""

from __future__ import annotations

from aggregator.errors import AggregatorError, AggregatorValueError


class RewardError(AggregatorError):
    """Rewards could not be computed or published."""


class RewardValueError(RewardError, AggregatorValueError):
    """A reward input (emission, owner, dump) is not acceptable."""
