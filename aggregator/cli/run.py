"""``fieldproof aggregator run``, ``project`` and ``check-config``: the service from its config.

Every command of the aggregator reads the same ``aggregator.yaml``; flags only override
single keys of it (``--role``, ``--host``, ``--once``, …).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldproof.errors import ConfigError

if TYPE_CHECKING:
    from aggregator.config import AggregatorConfig

ROLE_CHOICES = ("ingest", "projection", "anchoring", "api")


def register_aggregator(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    run = subparsers.add_parser(
        "run",
        help="Run the roles the config names (ingest, projection, anchoring, api) until SIGTERM.",
        description="Run the aggregator roles listed under `roles:` in one process: ingest "
        "(MQTT → verify → ledger), projection (ledger → series), anchoring (epochs and "
        "rewards on-chain) and api (HTTP API and dashboard).",
    )
    run.add_argument("--config", type=Path, required=True, help="aggregator.yaml")
    run.add_argument(
        "--role",
        action="append",
        choices=ROLE_CHOICES,
        help="run this role instead of the config's roles (repeat for several)",
    )
    run.add_argument("--log-level", default="INFO", help="Python logging level (INFO).")
    run.set_defaults(handler=_run)
    project = subparsers.add_parser(
        "project", help="Run only the series projection (`run --role projection`)."
    )
    project.add_argument("--config", type=Path, required=True, help="aggregator.yaml")
    project.add_argument("--log-level", default="INFO", help="Python logging level (INFO).")
    project.set_defaults(handler=_project)
    check = subparsers.add_parser(
        "check-config", help="Validate an aggregator config file; exit 0 if valid, 1 if not."
    )
    check.add_argument("config", type=Path, help="aggregator.yaml")
    check.set_defaults(handler=_check_config)


def override(config: AggregatorConfig, section: str, **values: Any) -> AggregatorConfig:
    """``config`` with keys of one section replaced (validated like the file's values)."""
    from pydantic import ValidationError

    from fieldproof.config import format_validation_error

    current = getattr(config, section)
    data: dict[str, Any] = {name: getattr(config, name) for name in type(config).model_fields}
    try:
        if isinstance(current, tuple):  # a list-valued key such as ``roles``
            data[section] = values[section]
        else:
            data[section] = type(current).model_validate({**current.model_dump(), **values})
        return type(config).model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, {}, "command line")) from exc


def load(path: Path) -> AggregatorConfig:
    from aggregator.config import load_aggregator_config

    return load_aggregator_config(path)


def _check_files(config: AggregatorConfig, source: Path) -> None:
    """Files the config names exist and read (their own errors name the bad entry)."""
    registry = config.registry
    if registry is not None and registry.mode == "allowlist" and registry.allowlist is not None:
        from aggregator.registry.allowlist import read_allowlist

        if not registry.allowlist.path.exists():
            raise ConfigError(
                f"{source}: registry -> allowlist -> path: {registry.allowlist.path} does not exist"
            )
        read_allowlist(registry.allowlist.path)
    if config.anchoring is not None and not config.anchoring.deployment.exists():
        raise ConfigError(
            f"{source}: anchoring -> deployment: {config.anchoring.deployment} does not exist"
        )
    if config.api.devices is not None:
        from aggregator.api.devicefile import load_devices

        if not config.api.devices.exists():
            raise ConfigError(f"{source}: api -> devices: {config.api.devices} does not exist")
        load_devices(config.api.devices)


def _check_config(args: argparse.Namespace) -> int:
    config = load(args.config)
    _check_files(config, args.config)
    registry = "none" if config.registry is None else config.registry.mode
    print(
        f"{args.config}: valid (roles {', '.join(config.roles)}; ledger "
        f"{config.ledger.url.split(':', 1)[0]}, series {config.series.url.split(':', 1)[0]}, "
        f"mqtt {config.mqtt.protocol}, registry {registry})"
    )
    return 0


def serve(config: AggregatorConfig, log_level: str = "INFO") -> int:
    """Run ``config``'s roles until SIGTERM or SIGINT; 0 after a clean stop."""
    from aggregator.service import Aggregator
    from fieldproof.runloop import configure_logging, run_service

    configure_logging(log_level)
    aggregator = Aggregator(config)
    return run_service(aggregator, alive=aggregator.alive, name="aggregator")


def _run(args: argparse.Namespace) -> int:
    config = load(args.config)
    if args.role:
        config = override(config, "roles", roles=tuple(args.role))
    return serve(config, args.log_level)


def _project(args: argparse.Namespace) -> int:
    return serve(override(load(args.config), "roles", roles=("projection",)), args.log_level)
