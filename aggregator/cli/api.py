"""``fieldproof api serve`` (the HTTP API and dashboard on their own) and
``fieldproof query series`` (a series from any aggregator's API as CSV, Parquet or JSON)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from fieldproof.cli import group_parser
from fieldproof.errors import FieldproofError, FieldproofValueError

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

    query = group_parser(subparsers, "query", "Query an aggregator's HTTP API.")
    series = query.add_parser(
        "series",
        help="One metric's points or bucket aggregates.",
        description="Fetch a series from the API and write it as CSV, Parquet or JSON "
        "(to --output, or standard output). Times are Unix seconds or ISO 8601.",
    )
    series.add_argument("--metric", required=True, help="record name, e.g. temp or bme280/temp")
    series.add_argument(
        "--device", action="append", default=[], help="device id (repeat for several)"
    )
    series.add_argument("--bbox", help="min_lon,min_lat,max_lon,max_lat")
    series.add_argument("--start", required=True, help="start (inclusive)")
    series.add_argument("--end", required=True, help="end (exclusive)")
    series.add_argument("--every", help="bucket length (60s, 15m, 1h, 1d)")
    series.add_argument("--agg", choices=("mean", "min", "max", "sum", "count"), help="aggregate")
    series.add_argument("--format", choices=FORMATS, default="csv", help="output format")
    series.add_argument("--api", required=True, help="API base URL (http(s)://host:port)")
    series.add_argument(
        "--api-key-env",
        default=API_KEY_ENV,
        help=f"environment variable holding the API key, if the API needs one ({API_KEY_ENV})",
    )
    series.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    series.set_defaults(handler=_query_series)


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


def api_request(url: str, key_env: str, *, timeout: float = TIMEOUT_S, accept: str = "*/*") -> Any:
    """GET ``url`` with the API key from ``$key_env`` (if set); the open response.
    HTTP and network errors become a :class:`FieldproofError` naming the endpoint."""
    headers = {"Accept": accept}
    key = os.environ.get(key_env)
    if key:
        headers["X-API-Key"] = key
    request = urllib.request.Request(url, headers=headers)
    endpoint = url.partition("?")[0]
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(json.loads(detail).get("detail", detail))
        raise FieldproofError(f"{endpoint}: HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise FieldproofError(f"{endpoint}: {exc}") from exc


def _query_series(args: argparse.Namespace) -> int:
    base = args.api.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise FieldproofValueError(f"--api: expected http(s)://…, got {args.api!r}")
    params: list[tuple[str, str]] = [
        ("metric", args.metric),
        ("start", args.start),
        ("end", args.end),
    ]
    params += [("device", d) for d in args.device]
    for name in ("bbox", "every", "agg"):
        value = getattr(args, name)
        if value is not None:
            params.append((name, value))
    out = sys.stdout.buffer if args.output is None else args.output.open("wb")
    try:
        if args.format == "json":
            _write_json(base, params, args.api_key_env, out)
        else:
            url = f"{base}/v1/export?" + urllib.parse.urlencode([*params, ("format", args.format)])
            with api_request(url, args.api_key_env) as response:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
    finally:
        if args.output is not None:
            out.close()
        else:
            out.flush()
    return 0


def _write_json(base: str, params: list[tuple[str, str]], key_env: str, out: Any) -> None:
    """Follow the pages of /v1/series and write one JSON document."""
    points: list[dict[str, Any]] = []
    echo: dict[str, Any] = {}
    offset: int | None = 0
    while offset is not None:
        url = f"{base}/v1/series?" + urllib.parse.urlencode(
            [*params, ("offset", str(offset)), ("limit", "10000")]
        )
        with api_request(url, key_env) as response:
            page = json.loads(response.read())
        points.extend(page["points"])
        echo = {k: page[k] for k in ("metric", "start", "end", "every", "agg")}
        offset = page["next_offset"]
    out.write((json.dumps({**echo, "points": points}, indent=1) + "\n").encode())
