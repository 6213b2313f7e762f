"""Mosquitto ACL rendering: the per-device patterns we ship plus named service users.

A device logs in with its 0x-hex device id as username, so ``%u`` confines it to its
own ``fp/v1/<device>/…`` topics. The config topic is read-only for the device: only
the operator writes it, so a device cannot wipe its own retained, signed config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from fieldproof.protocol import TopicKind, device_filter

DEVICE_PATTERNS: tuple[str, ...] = (
    f"pattern write {device_filter(TopicKind.REPORT, '%u')}",
    f"pattern write {device_filter(TopicKind.STATUS, '%u')}",
    f"pattern write {device_filter(TopicKind.HEALTH, '%u')}",
    f"pattern read {device_filter(TopicKind.CONFIG, '%u')}",
)

Access = Literal["read", "write", "readwrite"]


@dataclass(frozen=True, slots=True)
class TopicGrant:
    """One ``topic <access> <filter>`` line under a ``user`` section."""

    access: Access
    topic: str


@dataclass(frozen=True, slots=True)
class ServiceUser:
    """A non-device account (aggregator, operator) and its grants."""

    username: str
    grants: tuple[TopicGrant, ...]


AGGREGATOR = ServiceUser(
    "aggregator",
    (
        TopicGrant("read", device_filter(TopicKind.REPORT)),
        TopicGrant("read", device_filter(TopicKind.STATUS)),
        TopicGrant("read", device_filter(TopicKind.HEALTH)),
    ),
)
OPERATOR = ServiceUser(
    "operator",
    (
        TopicGrant("readwrite", device_filter(TopicKind.CONFIG)),
        TopicGrant("read", device_filter(TopicKind.STATUS)),
        TopicGrant("read", device_filter(TopicKind.HEALTH)),
    ),
)


def render_acl(
    users: Sequence[ServiceUser] = (AGGREGATOR, OPERATOR),
    patterns: Sequence[str] = DEVICE_PATTERNS,
) -> str:
    """The ACL file text: device patterns first (they apply to every user), then users."""
    lines = [
        "# fieldproof broker ACL. Devices log in as their 0x-hex device id (%u).",
        *patterns,
        "",
    ]
    for user in users:
        lines.append(f"user {user.username}")
        lines.extend(f"topic {grant.access} {grant.topic}" for grant in user.grants)
        lines.append("")
    return "\n".join(lines)


def pattern_lines(acl_text: str) -> list[str]:
    """The ``pattern`` lines of an ACL file (to check the shipped file against ours)."""
    return [line.strip() for line in acl_text.splitlines() if line.strip().startswith("pattern ")]
