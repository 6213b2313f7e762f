"""Errors of provisioning."""

from __future__ import annotations

from edge_agent.errors import AgentError


class ProvisioningError(AgentError):
    """A device or fleet could not be provisioned (existing files, bad inputs)."""
