"""``fieldproof api serve`` (the HTTP API and dashboard on their own) and
``fieldproof query series`` (a series from any aggregator's API as CSV, Parquet or JSON)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fieldproof.cli import group_parser
from fieldproof.errors import FieldproofValueError

API_KEY_ENV = "FIELDPROOF_API_KEY"
TIMEOUT_S = 60.0
FORMATS = ("csv", "parquet", "json")
CHUNK = 1 << 16


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    api = group_parser(subparsers, "api", "Serve the HTTP API and dashboard.")
    serve = api.add_parser(
        "serve",
        help="Serve the API and dashboard over an aggregator's stores (read-only).",
        description="Serve /v1 (series, traffic, reports, proofs, epochs, rewards, export), "
        "/metrics and the dashboard at / over the given ledger and series store. Epochs, "
        "proofs and rewards need the anchor state and bundle directory; verification and "
        "claimed amounts need the chain.",
    )
    serve.add_argument("--ledger", required=True, help="ledger URL (sqlite:///… or postgresql://…)")
    serve.add_argument("--series", required=True, help="series URL (sqlite:///… or influx://…)")
    serve.add_argument("--anchor-state", help="anchor state URL (sqlite:///…)")
    serve.add_argument("--bundle-dir", type=Path, help="directory of epoch bundles (<cid>.json)")
    serve.add_argument("--rpc", help="chain URL (eth-tester:// or http(s)://…)")
    serve.add_argument("--deployment", type=Path, help="deployment.json (with --rpc)")
    serve.add_argument("--devices", type=Path, help="YAML of device names and locations")
    serve.add_argument("--config", type=Path, help="API config YAML (keys, limits, host, port)")
    serve.add_argument("--host", help="bind address (overrides the config)")
    serve.add_argument("--port", type=int, help="port (overrides the config)")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from aggregator.anchoring.state import AnchorState
    from aggregator.api import ApiConfig, ApiSources, ContractReader, create_app
    from aggregator.api.devicefile import load_devices
    from aggregator.ledger import open_ledger
    from aggregator.series import open_series
    from fieldproof.config import load_config

    config = ApiConfig() if args.config is None else load_config(ApiConfig, args.config)  # type: ignore[call-arg]
    chain = None
    if args.rpc is not None:
        if args.deployment is None:
            raise FieldproofValueError("--rpc needs --deployment")
        from fieldproof.chain.backends import connect
        from fieldproof.chain.deploy import Deployment

        chain = ContractReader.from_deployment(connect(args.rpc), Deployment.load(args.deployment))
    sources = ApiSources(
        ledger=open_ledger(args.ledger, migrate=False),
        series=open_series(args.series),
        anchors=None if args.anchor_state is None else AnchorState(args.anchor_state),
        bundle_dir=args.bundle_dir,
        chain=chain,
        devices={} if args.devices is None else load_devices(args.devices),
    )
    host = args.host or config.host
    port = config.port if args.port is None else args.port
    import uvicorn

    print(f"serving the API and dashboard on http://{host}:{port}/", file=sys.stderr)
    uvicorn.run(create_app(sources, config), host=host, port=port, log_level="warning")
    return 0
