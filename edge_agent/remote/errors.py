"""Errors of remote config and model updates; each carries a short ``reason`` code."""

from __future__ import annotations

from edge_agent.errors import AgentError


class RemoteUpdateError(AgentError):
    """A remote config or model update was refused; nothing was changed."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ConfigRejectedError(RemoteUpdateError):
    """Codes: ``malformed``, ``bad_signature``, ``invalid``, ``wrong_device``, ``stale``,
    ``apply_failed``, ``disabled``."""


class ModelRejectedError(RemoteUpdateError):
    """Codes: ``download_failed``, ``too_large``, ``hash_mismatch``, ``warmup_failed``,
    ``activation_failed``."""
