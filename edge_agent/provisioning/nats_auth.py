"""NATS cluster logins for a provisioned fleet: the Mosquitto grants of :mod:`acl` as NATS
user permissions (``deploy/nats/README.md``).

Every login lives in one account with JetStream. A device may connect over MQTT only (no
NATS protocol, so no JetStream API: it cannot bind to, create or read the aggregators'
consumer), publish on its own ``fp.v1.<id>.{report,status,health}`` and subscribe to
its own ``fp.v1.<id>.{config,ack}``. ``$MQTT.sub.>`` is granted because the server
delivers a QoS 1 subscription through an internal JetStream consumer on such a subject
under the client's own permissions; MQTT clients cannot subscribe to ``$MQTT/…``
topics themselves. The aggregator speaks NATS only: the JetStream API of its stream and
durable consumer, acks on ``fp.v1.*.ack``, replies on ``_INBOX.>``.

    python -m edge_agent.provisioning.nats_auth OUT    # OUT from `fleet provision --out`

writes ``OUT/broker/nats-auth.conf`` (0600: it holds the passwords, as the server
needs them).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edge_agent.provisioning.acl import AGGREGATOR, DEVICE_READS, DEVICE_WRITES, OPERATOR
from fieldproof.protocol import device_filter

ACCOUNT = "FIELDPROOF"
SYSTEM_ACCOUNT = "SYS"
STREAM = "FIELDPROOF"
CONSUMER = "aggregators"
AUTH_NAME = "nats-auth.conf"
# Deliver subjects of the server's own consumers behind QoS 1 subscriptions.
MQTT_DELIVERY = "$MQTT.sub.>"


def subject(topic_filter: str) -> str:
    """An MQTT filter as a NATS subject: ``/`` → ``.``, ``+`` → ``*``, ``#`` → ``>``."""
    return topic_filter.replace("/", ".").replace("+", "*").replace("#", ">")


def device_permissions(device: str) -> dict[str, Any]:
    return {
        "publish": {"allow": [subject(device_filter(k, device)) for k in DEVICE_WRITES]},
        "subscribe": {
            "allow": [subject(device_filter(k, device)) for k in DEVICE_READS] + [MQTT_DELIVERY]
        },
    }


def aggregator_permissions(stream: str = STREAM, consumer: str = CONSUMER) -> dict[str, Any]:
    acks = [subject(g.topic) for g in AGGREGATOR.grants if g.access in ("write", "readwrite")]
    api = "$JS.API"
    return {
        "publish": {
            "allow": [
                f"{api}.INFO",
                f"{api}.STREAM.INFO.{stream}",
                f"{api}.STREAM.CREATE.{stream}",
                f"{api}.CONSUMER.INFO.{stream}.{consumer}",
                f"{api}.CONSUMER.CREATE.{stream}",
                f"{api}.CONSUMER.CREATE.{stream}.{consumer}",
                f"{api}.CONSUMER.CREATE.{stream}.{consumer}.>",
                f"{api}.CONSUMER.DURABLE.CREATE.{stream}.{consumer}",
                f"{api}.CONSUMER.MSG.NEXT.{stream}.{consumer}",
                f"$JS.ACK.{stream}.{consumer}.>",
                *acks,
            ]
        },
        "subscribe": {"allow": ["_INBOX.>"]},
    }


def operator_permissions() -> dict[str, Any]:
    writes = [g.topic for g in OPERATOR.grants if g.access in ("write", "readwrite")]
    reads = [g.topic for g in OPERATOR.grants if g.access in ("read", "readwrite")]
    return {
        "publish": {"allow": [subject(t) for t in writes]},
        "subscribe": {"allow": [subject(t) for t in reads] + [MQTT_DELIVERY, "_INBOX.>"]},
    }


def render_nats_auth(
    devices: Sequence[tuple[str, str]],
    services: Mapping[str, str],
    *,
    system_password: str | None = None,
) -> str:
    """The ``accounts`` block (JSON, which the NATS config format reads): ``devices``
    pairs a device id with its password, ``services`` names the aggregator's and
    operator's passwords."""
    users: list[dict[str, Any]] = [
        {
            "user": device,
            "password": password,
            "allowed_connection_types": ["MQTT"],
            "permissions": device_permissions(device),
        }
        for device, password in devices
    ]
    users.append(
        {
            "user": AGGREGATOR.username,
            "password": services[AGGREGATOR.username],
            "allowed_connection_types": ["STANDARD"],
            "permissions": aggregator_permissions(),
        }
    )
    if OPERATOR.username in services:
        users.append(
            {
                "user": OPERATOR.username,
                "password": services[OPERATOR.username],
                "allowed_connection_types": ["STANDARD", "MQTT"],
                "permissions": operator_permissions(),
            }
        )
    accounts: dict[str, Any] = {ACCOUNT: {"jetstream": "enabled", "users": users}}
    system_users = [] if system_password is None else [{"user": "sys", "password": system_password}]
    accounts[SYSTEM_ACCOUNT] = {"users": system_users}
    return (
        "# fieldproof NATS logins, from the provisioned fleet; secret (passwords).\n"
        f"accounts: {json.dumps(accounts, indent=2)}\n"
        f"system_account: {SYSTEM_ACCOUNT}\n"
    )


def fleet_logins(out: Path) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The device and service passwords a ``fleet provision --out OUT`` run wrote."""
    devices = sorted(
        (path.parent.parent.name, path.read_text().strip())
        for path in (out / "devices").glob("*/secrets/mqtt-password")
    )
    services = json.loads((out / "operator" / "service-passwords.json").read_text())
    return devices, {str(k): str(v) for k, v in services.items()}


def write_fleet_auth(out: Path) -> Path:
    devices, services = fleet_logins(out)
    target = out / "broker" / AUTH_NAME
    target.touch(mode=0o600)
    target.chmod(0o600)
    target.write_text(render_nats_auth(devices, services))
    return target


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m edge_agent.provisioning.nats_auth OUT", file=sys.stderr)
        return 2
    print(write_fleet_auth(Path(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
