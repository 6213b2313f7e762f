"""``fieldproof aggregator run`` and ``fieldproof aggregator check-config``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register_aggregator(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    run = subparsers.add_parser(
        "run", help="Run ingest: MQTT → verify → ledger → series, until SIGTERM."
    )
    run.add_argument("--config", type=Path, required=True, help="aggregator.yaml")
    run.add_argument("--log-level", default="INFO", help="Python logging level (INFO).")
    run.set_defaults(handler=_run)
    project = subparsers.add_parser(
        "project", help="Run only the series projection (with series.in_process: false)."
    )
    project.add_argument("--config", type=Path, required=True, help="aggregator.yaml")
    project.add_argument("--log-level", default="INFO", help="Python logging level (INFO).")
    project.set_defaults(handler=_project)
    check = subparsers.add_parser(
        "check-config", help="Validate an aggregator config file; exit 0 if valid, 1 if not."
    )
    check.add_argument("config", type=Path, help="aggregator.yaml")
    check.set_defaults(handler=_check_config)


def _check_config(args: argparse.Namespace) -> int:
    from aggregator.config import load_aggregator_config

    config = load_aggregator_config(args.config)
    allowlist = config.registry.allowlist
    if config.registry.mode == "allowlist" and allowlist is not None:
        from aggregator.registry.allowlist import read_allowlist
        from fieldproof.errors import ConfigError

        if not allowlist.path.exists():
            raise ConfigError(
                f"{args.config}: registry -> allowlist -> path: {allowlist.path} does not exist"
            )
        read_allowlist(allowlist.path)  # its own errors name the bad entry
    print(
        f"{args.config}: valid (ledger {config.ledger.url.split(':', 1)[0]}, "
        f"series {config.series.url.split(':', 1)[0]}, mqtt {config.mqtt.protocol}, "
        f"registry {config.registry.mode})"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    import logging
    import signal

    from aggregator.config import load_aggregator_config
    from aggregator.service import Aggregator

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = load_aggregator_config(args.config)
    aggregator = Aggregator(config)
    aggregator.start()
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    port = aggregator.metrics_server.port if aggregator.metrics_server is not None else None
    logging.getLogger("aggregator").info(
        "aggregator running (client %s, metrics port %s)",
        aggregator.consumer.client_id if aggregator.consumer else "?",
        port,
    )
    while not stop_requested:
        aggregator.wait(0.2)
    aggregator.stop()
    return 0


def _project(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from aggregator.config import load_aggregator_config
    from aggregator.service import ProjectionService

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    service = ProjectionService(load_aggregator_config(args.config))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    service.start()
    logging.getLogger("aggregator").info("series projection running")
    while not stop.wait(0.2):
        pass
    service.stop()
    return 0
