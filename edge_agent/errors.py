"""Error root of the edge agent."""

from __future__ import annotations

from fieldproof.errors import FieldproofError


class AgentError(FieldproofError):
    """Base of all errors raised by the edge agent."""


class AgentValueError(AgentError, ValueError):
    """A value handed to the agent was not acceptable."""
