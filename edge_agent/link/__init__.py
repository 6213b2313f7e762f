"""MQTT link of the agent: topics, a non-blocking publisher thread, and the outbox pump."""

from __future__ import annotations

from edge_agent.link.config import LinkConfig, TlsConfig
from edge_agent.link.errors import LinkError
from fieldproof.protocol import DeviceTopics

__all__ = ["DeviceTopics", "LinkConfig", "LinkError", "TlsConfig"]
