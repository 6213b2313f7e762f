"""Mosquitto ACL rendering: the per-device patterns we ship plus named service users.

A device logs in with its 0x-hex device id as username, so ``%u`` confines it to its
own ``fp/v1/<device>/…`` topics. The config topic is read-only for the device: only
the operator writes it, so a device cannot wipe its own retained, signed config; the ack
topic is written by the aggregator only. Every device reads the retained beacon topic
``fp/v1/beacon`` (the chain's latest block), which only aggregators write.

Mosquitto 2.0's ``acl_file`` checks what is delivered and published, never what is
subscribed: a device may still subscribe to ``$share/aggregators/…`` and so take its
turn of every shared report, which the broker then drops at delivery. The shipped broker
therefore runs the dynamic security plugin, whose per-client roles refuse such a
subscription outright; :func:`render_dynsec` writes its configuration from the same grants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fieldproof.protocol import TopicKind, device_filter
from fieldproof.protocol.topics import BEACON_TOPIC

DEVICE_PATTERNS: tuple[str, ...] = (
    f"pattern write {device_filter(TopicKind.REPORT, '%u')}",
    f"pattern write {device_filter(TopicKind.STATUS, '%u')}",
    f"pattern write {device_filter(TopicKind.HEALTH, '%u')}",
    f"pattern read {device_filter(TopicKind.CONFIG, '%u')}",
    f"pattern read {device_filter(TopicKind.ACK, '%u')}",
    f"pattern read {BEACON_TOPIC}",
)

# What a device publishes, and what it may subscribe to and receive.
DEVICE_WRITES: tuple[TopicKind, ...] = (TopicKind.REPORT, TopicKind.STATUS, TopicKind.HEALTH)
DEVICE_READS: tuple[TopicKind, ...] = (TopicKind.CONFIG, TopicKind.ACK)
SHARED_GROUP = "aggregators"

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
        TopicGrant("write", device_filter(TopicKind.ACK)),
        TopicGrant("write", BEACON_TOPIC),
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


def _acl(acltype: str, topic: str) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


def _read_acls(topic_filter: str, shared: bool, group: str) -> list[dict[str, Any]]:
    """Receive under ``topic_filter`` and subscribe to exactly it (and its shared form)."""
    acls = [
        _acl("publishClientReceive", topic_filter),
        _acl("subscribeLiteral", topic_filter),
    ]
    if shared:
        acls.append(_acl("subscribeLiteral", f"$share/{group}/{topic_filter}"))
    return acls


def device_role(device: str) -> dict[str, Any]:
    """The one role of one device: its own topics, nothing shared, nothing of others."""
    acls = [_acl("publishClientSend", device_filter(kind, device)) for kind in DEVICE_WRITES]
    for kind in DEVICE_READS:
        acls.extend(_read_acls(device_filter(kind, device), False, SHARED_GROUP))
    acls.extend(_read_acls(BEACON_TOPIC, False, SHARED_GROUP))
    return {"rolename": f"device-{device}", "acls": acls}


def service_role(user: ServiceUser, group: str = SHARED_GROUP) -> dict[str, Any]:
    """A service user's role. Report and health reads may also be taken through the
    shared subscription ``$share/<group>/…``; only service users may subscribe to it."""
    shared = {device_filter(TopicKind.REPORT), device_filter(TopicKind.HEALTH)}
    acls: list[dict[str, Any]] = []
    for grant in user.grants:
        if grant.access in ("read", "readwrite"):
            acls.extend(_read_acls(grant.topic, grant.topic in shared, group))
        if grant.access in ("write", "readwrite"):
            acls.append(_acl("publishClientSend", grant.topic))
    return {"rolename": f"service-{user.username}", "acls": acls}


def render_dynsec(
    devices: Sequence[tuple[str, dict[str, Any]]],
    services: Sequence[tuple[ServiceUser, dict[str, Any]]],
    group: str = SHARED_GROUP,
) -> dict[str, Any]:
    """The dynamic security plugin's configuration (``dynamic-security.json``).

    ``devices`` pairs a device id with its password entry, ``services`` a service user
    with its own (see :func:`~edge_agent.provisioning.passwd.dynsec_password`).
    Everything not granted is refused, subscriptions included. A device must connect
    with its id as client id, so no device can take over another client's session.
    """
    clients: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    for device, password in devices:
        role = device_role(device)
        roles.append(role)
        clients.append(
            {
                "username": device,
                "clientid": device,
                **password,
                "roles": [{"rolename": role["rolename"]}],
            }
        )
    for user, password in services:
        role = service_role(user, group)
        roles.append(role)
        clients.append(
            {"username": user.username, **password, "roles": [{"rolename": role["rolename"]}]}
        )
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": roles,
    }
