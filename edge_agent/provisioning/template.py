"""The commented default ``agent.yaml`` written by ``device init`` and ``fleet provision``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AgentYamlValues:
    """What differs between devices in the generated file."""

    device_hex: str
    broker_url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password_secret: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file_tls: str | None = None
    operator_public_key: str | None = None
    passphrase_file: str | None = None
    state_dir: str | None = None  # None: the config file's own folder


def _opt(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


def render_agent_yaml(values: AgentYamlValues) -> str:
    """A valid ``agent.yaml``; every key is commented so an operator can edit it safely."""
    tls = ""
    # A tls section belongs to mqtts:// only (the link refuses one on plain mqtt://).
    if values.ca_file is not None and values.broker_url.startswith("mqtts://"):
        tls = (
            "  tls:\n"
            f"    ca_file: {_opt(values.ca_file)}        # CA that signed the broker\n"
            f"    cert_file: {_opt(values.cert_file)}    # device client certificate (or null)\n"
            f"    key_file: {_opt(values.key_file_tls)}  # its key (or null)\n"
        )
    password = (
        "null" if values.password_secret is None else f'"${{secret:{values.password_secret}}}"'
    )
    state = (
        ""
        if values.state_dir is None
        else f"state_dir: {_opt(values.state_dir)}  # key, outbox, state and models live here\n\n"
    )
    return f"""\
# fieldproof edge agent, device {values.device_hex}
# Check it with: fieldproof agent check-config agent.yaml
# Relative paths: the key, outbox, state and models resolve from state_dir; every other
# path from this file's folder (never from the working directory).
# Secrets are never literal here: use ${{env:NAME}} or ${{secret:NAME}} (/run/secrets/NAME).

{state}identity:
  key_file: device.key            # encrypted P-256 device key
  passphrase_file: {_opt(values.passphrase_file)}  # null: FIELDPROOF_PASSPHRASE or a prompt

link:
  url: "{values.broker_url}"      # mqtt://host:port, or mqtts:// with the tls section
  protocol: "5"                   # "3.1.1" for brokers without MQTT 5 (amqtt)
  username: {_opt(values.username)}        # broker user = device id
  password: {password}
{tls}  keepalive_s: 30
  session_expiry_s: 86400         # broker keeps our session this long while we are away
  reconnect_initial_s: 0.5
  reconnect_max_s: 30
  max_in_flight: 100              # reports published and not yet acknowledged

outbox:
  path: outbox.sqlite             # every signed report waits here until the ledger holds it
  max_bytes: 268435456            # past this the OLDEST reports are dropped (counted in health)
  max_reports: 1000000

health:
  interval_s: 30                  # heartbeat on fp/v1/<device>/health
  metrics_bind: 127.0.0.1         # Prometheus /metrics, loopback only
  metrics_port: 9108              # 0 turns the endpoint off
  sysfs_root: /
  disk_path: .

remote:
  # Operator key that signs configs on fp/v1/<device>/config; null turns remote config off.
  operator_public_key: {_opt(values.operator_public_key)}
  state_dir: state
  models_dir: models

settings:                         # start values; a signed remote config may change them
  heartbeat_s: 30
  report_interval_s: 60

cameras: []
# cameras:
#   - name: door
#     url: rtsp://192.168.1.20:554/stream1
#     lines:
#       - name: line1
#         start: [100, 300]
#         end: [540, 300]
"""
