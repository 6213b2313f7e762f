"""Devices audit the aggregator: every acknowledged report must be in an anchored root."""

from edge_agent.audit.auditor import Auditor, AuditResult, AuditStatus
from edge_agent.audit.config import AuditConfig
from edge_agent.audit.journal import AckJournal

__all__ = ["AckJournal", "AuditConfig", "AuditResult", "AuditStatus", "Auditor"]
