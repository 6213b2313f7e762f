"""``fieldproof api serve``: the HTTP API and dashboard on their own (the api role)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fieldproof.cli import group_parser


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    api = group_parser(subparsers, "api", "Serve the HTTP API and dashboard.")
    serve = api.add_parser(
        "serve",
        help="Serve the API and dashboard over an aggregator's stores (read-only).",
        description="Serve /v1 (series, traffic, reports, proofs, epochs, rewards, export), "
        "/metrics and the dashboard at / over the ledger and series store of the config "
        "(`fieldproof aggregator run --role api`). Proofs need anchoring.bundle_dir; "
        "verification and claimed amounts need anchoring.rpc and anchoring.deployment.",
    )
    serve.add_argument("--config", type=Path, required=True, help="aggregator.yaml")
    serve.add_argument("--host", help="bind address (api.host)")
    serve.add_argument("--port", type=int, help="port (api.port)")
    serve.add_argument("--log-level", default="INFO", help="Python logging level (INFO).")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from aggregator.cli.run import load, override, serve

    config = load(args.config)
    changes = {"host": args.host, "port": args.port}
    changes = {key: value for key, value in changes.items() if value is not None}
    if changes:
        config = override(config, "api", **changes)
    return serve(override(config, "roles", roles=("api",)), args.log_level)
