"""Operating a device: ``agent run|check-config|audit``, ``device init|pairing|register``,
``fleet provision|sign-config``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from edge_agent.cli.shadow import register_fleet
from fieldproof.cli import group_parser
from fieldproof.cli.chain import register_pairing_command
from fieldproof.cli.chain_stake import LOCATION_HELP

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register_agent(agent: Subparsers) -> None:
    run = agent.add_parser(
        "run",
        help="Run the agent: cameras, signed reports, outbox, MQTT link, health.",
        description="Run the agent until SIGINT/SIGTERM.",
    )
    run.add_argument("--config", required=True, type=Path, help="agent.yaml")
    run.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    run.set_defaults(handler=_run)

    check = agent.add_parser(
        "check-config",
        help="Validate agent.yaml; exit 0 when valid, 1 with each bad key path.",
        description="Validate agent.yaml; exit 0 when valid, 1 with each bad key path.",
    )
    check.add_argument("config", type=Path, help="agent.yaml")
    check.set_defaults(handler=_check_config)

    audit = agent.add_parser(
        "audit",
        help="Check that every acknowledged report is in a root anchored on-chain.",
        description="Run the device's audit once, by hand: fetch the proof of each report an "
        "aggregator acknowledged whose epoch is anchored, check it against the root "
        "DataAnchor holds, and name the reports left out. The API is not trusted. Exits 0 "
        "when none is missing, 1 when some are, 2 when the API or chain cannot be read. "
        "--api, --rpc and --deployment override the config's audit section.",
    )
    audit.add_argument("--config", required=True, type=Path, help="agent.yaml")
    audit.add_argument("--api", help="aggregator API base URL (http(s)://…)")
    audit.add_argument("--rpc", help="chain URL (http(s)://…)")
    audit.add_argument("--deployment", type=Path, help="deployment.json")
    audit.add_argument("--json", action="store_true", help="print one JSON object")
    audit.set_defaults(handler=_audit)


def register(subparsers: Subparsers) -> None:
    device = group_parser(subparsers, "device", "Create and register a device identity.")
    init = device.add_parser(
        "init",
        help="Create an encrypted device key, device.json and a commented agent.yaml.",
        description="Create DIR/device.key (passphrase from FIELDPROOF_PASSPHRASE or a "
        "prompt), DIR/device.json and DIR/agent.yaml.",
    )
    init.add_argument("--dir", required=True, type=Path, help="device directory")
    init.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="broker URL")
    init.set_defaults(handler=_device_init)

    pairing = device.add_parser(
        "pairing",
        help="Print the device's proof of possession for an owner (JSON).",
        description="Sign abi.encode(registry, chainId, owner, deviceId, nonce) with the "
        "device key and print it for `fieldproof device register`.",
    )
    pairing.add_argument("--dir", required=True, type=Path, help="device directory")
    pairing.add_argument("--owner", required=True, help="owner address (0x…)")
    pairing.add_argument("--registry", required=True, help="DeviceRegistry address (0x…)")
    pairing.add_argument("--chain-id", required=True, type=int, help="chain id")
    pairing.add_argument(
        "--nonce", type=int, default=0, help="the device's registry nonce (0 when new)"
    )
    pairing.set_defaults(handler=_device_pairing)

    register_ = device.add_parser(
        "register",
        help="Register a paired device on-chain (sent by the owner or anyone).",
        description="Submit a proof of possession to DeviceRegistry.",
    )
    register_.add_argument("--pairing", required=True, type=Path, help="pairing JSON file")
    register_.add_argument("--rpc", required=True, help="chain URL (http(s)://)")
    register_.add_argument("--deployment", required=True, type=Path, help="deployment.json")
    register_.add_argument(
        "--key", required=True, help="key source of the sender: keystore:PATH or env:VARNAME"
    )
    register_.add_argument("--metadata-uri", default="", help="device metadata URI")
    register_.add_argument("--location", help=LOCATION_HELP)
    register_.set_defaults(handler=register_pairing_command)

    fleet = group_parser(subparsers, "fleet", "Provision and configure many devices.")
    provision = fleet.add_parser(
        "provision",
        help="Create N device bundles plus broker files (passwd, ACL, TLS) and a manifest.",
        description="Create N device bundles plus broker files and an operator manifest.",
    )
    provision.add_argument("--count", required=True, type=int, help="number of devices")
    provision.add_argument("--out", required=True, type=Path, help="output directory (new)")
    provision.add_argument(
        "--broker", default="mqtts://broker.local:8883", help="broker URL devices use"
    )
    provision.add_argument(
        "--broker-host",
        action="append",
        help="DNS name or IP in the broker certificate (repeatable; default broker.local)",
    )
    provision.set_defaults(handler=_fleet_provision)

    sign = fleet.add_parser(
        "sign-config",
        help="Sign a remote config document (JSON) with the operator key.",
        description="Sign a config document for fp/v1/<device>/config; prints nothing, "
        "writes the COSE_Sign1 to --out.",
    )
    sign.add_argument("document", type=Path, help="config document (JSON)")
    sign.add_argument("--key", required=True, type=Path, help="operator key file")
    sign.add_argument("--out", required=True, type=Path, help="signed output file")
    sign.set_defaults(handler=_fleet_sign)
    register_fleet(fleet)


def _run(args: argparse.Namespace) -> int:
    from edge_agent.runtime import run_agent
    from fieldproof.runloop import configure_logging

    configure_logging(args.log_level)
    return run_agent(args.config)


def _audit(args: argparse.Namespace) -> int:
    from edge_agent.agent import build_auditor
    from edge_agent.audit.auditor import AuditUnavailableError
    from edge_agent.audit.journal import AckJournal
    from edge_agent.config import load_agent_config
    from edge_agent.outbox import Outbox
    from fieldproof.errors import FieldproofValueError

    config = load_agent_config(args.config)
    overrides = {
        name: value
        for name, value in (("api", args.api), ("rpc", args.rpc), ("deployment", args.deployment))
        if value is not None
    }
    audit = config.audit.model_validate({**config.audit.model_dump(), **overrides})
    if audit.api is None:
        raise FieldproofValueError("agent audit: no API to audit (audit.api or --api)")
    config = config.model_copy(update={"audit": audit})
    journal = AckJournal(Outbox(config.outbox).connection)
    device_id = journal.device_id()
    if device_id is None:
        print("no acknowledged report recorded yet: nothing to audit")
        return 0
    try:
        result = build_auditor(config, device_id, journal).run()
    except AuditUnavailableError as exc:
        print(f"audit not concluded: {exc}", file=sys.stderr)
        return 2
    missing = journal.missing()
    if args.json:
        document = {
            "epoch": result.epoch,
            "checked": result.checked,
            "found": result.found,
            "missing": missing,
            "reasons": {str(seq): why for seq, why in sorted(result.missing.items())},
            "pending": journal.pending() - len(missing),
        }
        print(json.dumps(document))
    else:
        print(
            f"anchored through epoch {result.epoch}: {result.checked} report(s) checked, "
            f"{result.found} in an anchored root"
        )
        for seq, why in sorted(result.missing.items()):
            print(f"missing: seq {seq}: {why}")
        if missing:
            print(f"MISSING seq {', '.join(map(str, missing))}")
    return 1 if missing else 0


def _check_config(args: argparse.Namespace) -> int:
    from edge_agent.config import load_agent_config
    from fieldproof.errors import ConfigError

    try:
        config = load_agent_config(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(
        f"{args.config}: ok ({len(config.cameras)} camera(s), broker {config.link.url}, "
        f"outbox {config.outbox.path})"
    )
    return 0


def _device_init(args: argparse.Namespace) -> int:
    from edge_agent.provisioning.device import init_device
    from edge_agent.provisioning.template import AgentYamlValues
    from fieldproof.identity import DeviceKey, device_id_hex, passphrase_from_env_or_prompt

    passphrase = passphrase_from_env_or_prompt(confirm=True)
    key = DeviceKey.generate()
    values = AgentYamlValues(device_hex=device_id_hex(key.device_id), broker_url=args.broker)
    identity = init_device(args.dir, passphrase, values, key)
    print(json.dumps(identity.to_json()))
    return 0


def _device_pairing(args: argparse.Namespace) -> int:
    from edge_agent.provisioning.device import KEY_NAME
    from fieldproof.chain.pairing import sign_pairing
    from fieldproof.identity import load_key

    key = load_key(args.dir / KEY_NAME)
    sys.stdout.write(sign_pairing(key, args.registry, args.chain_id, args.owner, args.nonce))
    return 0


def _fleet_provision(args: argparse.Namespace) -> int:
    from edge_agent.provisioning.fleet import provision_fleet

    hosts = tuple(args.broker_host or ("broker.local",))
    result = provision_fleet(args.count, args.out, broker_url=args.broker, broker_hosts=hosts)
    print(
        json.dumps(
            {
                "devices": [b.identity.device_id for b in result.devices],
                "manifest": str(result.manifest),
                "broker": str(result.broker_dir),
            }
        )
    )
    return 0


def _fleet_sign(args: argparse.Namespace) -> int:
    from edge_agent.remote.signing import sign_config
    from fieldproof.errors import ConfigError
    from fieldproof.identity import load_key

    try:
        document = json.loads(args.document.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{args.document}: not a JSON document ({exc})") from exc
    args.out.write_bytes(sign_config(document, load_key(args.key)))
    return 0
