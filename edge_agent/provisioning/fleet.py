"""``fleet provision``: per-device bundles plus the operator's broker files and manifest.

Layout of ``OUT``::

    devices/<device>/            one bundle per device, copied to the device once
        device.key               encrypted P-256 identity key
        secrets/key-passphrase   its passphrase (becomes a systemd credential)
        secrets/mqtt-password    broker password (plain; the broker only has its hash)
        agent.yaml, device.json, ca.crt, client.crt, client.key
    broker/                      for the Mosquitto host (see deploy/mosquitto/README.md)
        dynamic-security.json    clients, passwords and per-device roles (0600)
        passwd, acl              the same logins and grants for a broker without the
                                 plugin (0640; such a broker cannot refuse subscriptions)
        ca.crt, server.crt, server.key (0600)
    operator/                    stays with the operator
        ca.key, operator.key (+ passphrase), service passwords, manifest.json
    aggregator/
        allowlist.yaml           the devices' public keys, for ``registry: allowlist``
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.provisioning.acl import AGGREGATOR, OPERATOR, ServiceUser, render_acl, render_dynsec
from edge_agent.provisioning.device import DeviceIdentity, init_device, write_private
from edge_agent.provisioning.errors import ProvisioningError
from edge_agent.provisioning.passwd import dynsec_password, new_password, password_line
from edge_agent.provisioning.template import AgentYamlValues
from edge_agent.provisioning.tls import CertificateAuthority
from fieldproof.identity import DeviceKey, save_key

DYNSEC_NAME = "dynamic-security.json"


@dataclass(frozen=True, slots=True)
class DeviceBundle:
    """What the manifest records about one provisioned device."""

    identity: DeviceIdentity
    directory: Path


@dataclass(frozen=True, slots=True)
class FleetResult:
    """The outcome of one ``fleet provision`` run."""

    devices: tuple[DeviceBundle, ...]
    broker_dir: Path
    operator_dir: Path
    manifest: Path
    operator_public_key: str


ALLOWLIST_NAME = "allowlist.yaml"


def render_allowlist(identities: Iterable[DeviceIdentity]) -> str:
    """The aggregator's allowlist (``registry: allowlist``) of these devices, all active.

    Public keys only: the file may be shared with every aggregator process."""
    lines = [
        "# Devices this aggregator accepts; written by `fieldproof fleet provision`.",
        "devices:",
    ]
    for identity in identities:
        lines += [
            f'  - key: "{identity.did}"',
            "    active: true",
            f'    name: "{identity.device_id}"',
        ]
    return "\n".join(lines) + "\n"


def provision_fleet(
    count: int,
    out: Path,
    *,
    broker_url: str = "mqtts://broker.local:8883",
    broker_hosts: Sequence[str] = ("broker.local", "127.0.0.1"),
    operator_key: DeviceKey | None = None,
) -> FleetResult:
    """Create ``count`` device bundles under ``out`` (which must be empty or new)."""
    if count < 1:
        raise ProvisioningError("fleet provision: --count must be at least 1")
    if out.exists() and any(out.iterdir()):
        raise ProvisioningError(f"{out} is not empty; refusing to mix fleets")
    devices_dir, broker_dir, operator_dir = out / "devices", out / "broker", out / "operator"
    for directory in (devices_dir, broker_dir, operator_dir):
        directory.mkdir(parents=True, exist_ok=True)

    ca = CertificateAuthority.generate()
    write_private(operator_dir / "ca.key", ca.key_pem)
    (broker_dir / "ca.crt").write_bytes(ca.cert_pem)
    server = ca.issue_server(broker_hosts)
    (broker_dir / "server.crt").write_bytes(server.cert_pem)
    write_private(broker_dir / "server.key", server.key_pem)

    operator_key = DeviceKey.generate() if operator_key is None else operator_key
    operator_passphrase = secrets.token_urlsafe(24)
    save_key(operator_key, operator_dir / "operator.key", operator_passphrase.encode())
    write_private(operator_dir / "operator.key.passphrase", operator_passphrase.encode())
    operator_public = "0x" + operator_key.public_key.hex()

    passwd_lines: list[str] = []
    service_passwords: dict[str, str] = {}
    dynsec_services: list[tuple[ServiceUser, dict[str, Any]]] = []
    dynsec_devices: list[tuple[str, dict[str, Any]]] = []
    for user in (AGGREGATOR, OPERATOR):
        password = new_password()
        service_passwords[user.username] = password
        passwd_lines.append(password_line(user.username, password))
        dynsec_services.append((user, dynsec_password(password)))

    bundles: list[DeviceBundle] = []
    for _ in range(count):
        key = DeviceKey.generate()
        identity = DeviceIdentity.of(key)
        directory = devices_dir / identity.device_id
        secrets_dir = directory / "secrets"
        secrets_dir.mkdir(parents=True)
        passphrase = secrets.token_urlsafe(24)
        password = new_password()
        write_private(secrets_dir / "key-passphrase", passphrase.encode())
        write_private(secrets_dir / "mqtt-password", password.encode())
        client = ca.issue_client(identity.device_id)
        (directory / "ca.crt").write_bytes(ca.cert_pem)
        (directory / "client.crt").write_bytes(client.cert_pem)
        write_private(directory / "client.key", client.key_pem)
        values = AgentYamlValues(
            device_hex=identity.device_id,
            broker_url=broker_url,
            username=identity.device_id,
            password_secret="mqtt-password",
            ca_file="/etc/fieldproof/ca.crt",
            cert_file="/etc/fieldproof/client.crt",
            key_file_tls="/etc/fieldproof/client.key",
            operator_public_key=operator_public,
            passphrase_file="/run/credentials/fieldproof-agent.service/key-passphrase",
            # The config is installed in /etc/fieldproof, the key and outbox here.
            state_dir="/var/lib/fieldproof",
        )
        init_device(directory, passphrase.encode(), values, key)
        passwd_lines.append(password_line(identity.device_id, password))
        dynsec_devices.append((identity.device_id, dynsec_password(password)))
        bundles.append(DeviceBundle(identity, directory))

    # Never world-readable: the broker's user reads them after `chown` (README there).
    dynsec = render_dynsec(dynsec_devices, dynsec_services)
    write_private(broker_dir / DYNSEC_NAME, (json.dumps(dynsec, indent=2) + "\n").encode())
    write_private(broker_dir / "passwd", ("\n".join(passwd_lines) + "\n").encode(), 0o640)
    write_private(broker_dir / "acl", render_acl().encode(), 0o640)
    write_private(
        operator_dir / "service-passwords.json",
        (json.dumps(service_passwords, indent=2) + "\n").encode(),
    )
    aggregator_dir = out / "aggregator"
    aggregator_dir.mkdir()
    (aggregator_dir / ALLOWLIST_NAME).write_text(render_allowlist(b.identity for b in bundles))
    manifest = operator_dir / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "brokerUrl": broker_url,
                "operatorPublicKey": operator_public,
                "caCertificate": str(broker_dir / "ca.crt"),
                "devices": [
                    {**b.identity.to_json(), "bundle": str(b.directory.relative_to(out))}
                    for b in bundles
                ],
            },
            indent=2,
        )
        + "\n"
    )
    return FleetResult(tuple(bundles), broker_dir, operator_dir, manifest, operator_public)
