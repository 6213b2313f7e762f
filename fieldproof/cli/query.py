"""``fieldproof query series``: a series from any aggregator's API as CSV, Parquet or JSON."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from fieldproof.api_client import API_KEY_ENV, api_request
from fieldproof.cli import group_parser
from fieldproof.errors import FieldproofValueError

FORMATS = ("csv", "parquet", "json")
CHUNK = 1 << 16


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
