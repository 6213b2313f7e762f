"""``fieldproof fleet shadow-report``: how shadow candidates agree with the active models.

Reads the aggregator's ``/v1/shadow`` and prints each candidate's fleet-wide figures
with the documents that promote or drop it (sign them with ``fleet sign-config``).
"""

from __future__ import annotations

import argparse
import json
import urllib.parse
from typing import Any

from fieldproof.api_client import API_KEY_ENV, fetch_json
from fieldproof.errors import FieldproofValueError


def register_fleet(fleet: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = fleet.add_parser(
        "shadow-report",
        help="Summarise shadow-mode candidates across the fleet (from an aggregator's API).",
        description="Per candidate model: devices running it, detections matched per class, "
        "line-crossing differences against the active models, time per frame.",
    )
    report.add_argument("--api", required=True, help="API base URL (http(s)://host:port)")
    report.add_argument("--candidate", help="only this candidate (its sha256)")
    report.add_argument("--json", action="store_true", help="print the API's JSON as is")
    report.add_argument(
        "--api-key-env",
        default=API_KEY_ENV,
        help=f"environment variable holding the API key, if the API needs one ({API_KEY_ENV})",
    )
    report.set_defaults(handler=_shadow_report)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} ms"


def format_report(report: dict[str, Any]) -> str:
    """The API's shadow report as text for an operator."""
    out = [f"{report['devices_reporting']} device(s) report shadow figures"]
    for c in report["candidates"]:
        d, lines, latency = c["detections"], c["lines"], c["latency_ms"]
        out += [
            "",
            f"candidate {c['candidate']} ({c['sha256']}) on {c['devices']} device(s), "
            f"against {', '.join(c['active_models']) or '–'}",
            f"  frames {c['frames']} (skipped {c['frames_skipped']}); detections: agreement "
            f"{_share(d['agreement'])}, {d['matched']} matched of {d['active']} active "
            f"and {d['candidate']} candidate",
        ]
        for name, k in c["classes"].items():
            out.append(
                f"    {name}: agreement {_share(k['agreement'])} "
                f"({k['active']} active, {k['candidate']} candidate, {k['matched']} matched)"
            )
        out.append(
            f"  crossings on {lines['lines']} line(s): in {lines['in']['active']} active / "
            f"{lines['in']['candidate']} candidate, out {lines['out']['active']} / "
            f"{lines['out']['candidate']}; relative error {_share(lines['relative_error'])}"
        )
        out.append(
            f"  time per frame: active {_ms(latency['active_mean'])}, candidate "
            f"{_ms(latency['candidate_mean'])} (p95 up to {_ms(latency['candidate_p95_max'])})"
        )
        for device in c["per_device"]:
            out.append(
                f"    {device['device']}: {device['frames']} frames, agreement "
                f"{_share(device['agreement'])}, crossings |Δ| {device['line_abs_difference']} "
                f"of {device['line_active']}"
            )
        for action in ("promote", "drop"):
            document = {"shadow": {"action": action, "sha256": c["sha256"]}}
            out.append(f"  {action}: {json.dumps(document)} (+ version, device; sign-config)")
    return "\n".join(out)


def _shadow_report(args: argparse.Namespace) -> int:
    base = args.api.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise FieldproofValueError(f"--api: expected http(s)://…, got {args.api!r}")
    url = f"{base}/v1/shadow"
    if args.candidate:
        url += "?" + urllib.parse.urlencode({"candidate": args.candidate})
    report = fetch_json(url, args.api_key_env)
    print(json.dumps(report) if args.json else format_report(report))
    return 0
