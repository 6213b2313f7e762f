"""Errors of the MQTT link."""

from __future__ import annotations

from edge_agent.errors import AgentError, AgentValueError


class LinkError(AgentError):
    """The link could not be set up (bad URL, unreadable TLS files)."""


class LinkValueError(LinkError, AgentValueError):
    """A link setting is not acceptable."""
