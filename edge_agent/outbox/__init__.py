"""Durable outbox of signed reports (SQLite, WAL): committed before publish, deleted on PUBACK."""

from __future__ import annotations

from edge_agent.outbox.config import OutboxConfig
from edge_agent.outbox.store import Outbox, OutboxEntry, OutboxError, OutboxStats

__all__ = ["Outbox", "OutboxConfig", "OutboxEntry", "OutboxError", "OutboxStats"]
