"""Durable outbox of signed reports (SQLite, WAL): stored before publish, deleted once acked."""

from __future__ import annotations

from edge_agent.outbox.config import OutboxConfig
from edge_agent.outbox.store import Outbox, OutboxEntry, OutboxError, OutboxStats

__all__ = ["Outbox", "OutboxConfig", "OutboxEntry", "OutboxError", "OutboxStats"]
