"""``fieldproof report``: sign SenML packs as reports and inspect signed reports."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fieldproof.cli import group_parser
from fieldproof.errors import FieldproofValueError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands = group_parser(subparsers, "report", "Sign and inspect device reports.")
    sign = commands.add_parser(
        "sign",
        help="Sign a SenML JSON pack as a report.",
        description="Sign a SenML JSON pack (RFC 8428) as a COSE_Sign1 report. The interval "
        "defaults to the current time when --start/--end are not given.",
    )
    sign.add_argument("--key", required=True, type=Path, help="device key file")
    sign.add_argument("--senml", required=True, type=Path, help="SenML JSON pack")
    sign.add_argument("--seq", required=True, type=int, help="sequence number")
    sign.add_argument("--out", required=True, type=Path, help="where to write the report")
    sign.add_argument("--start", type=_timestamp, help="interval start (Unix seconds or ISO 8601)")
    sign.add_argument("--end", type=_timestamp, help="interval end (Unix seconds or ISO 8601)")
    sign.add_argument("--model-id", help="id of the model that produced the readings")
    sign.add_argument("--model-sha256", help="sha256 (hex) of that model")
    sign.set_defaults(handler=_sign)

    show = commands.add_parser(
        "show",
        help="Decode a report and check its signature.",
        description="Decode a report. With --pubkey or --key the device id and signature are "
        "checked (exit 1 on any failure); without them the signature is not checked.",
    )
    show.add_argument("report", type=Path, help="report file (COSE_Sign1)")
    keys = show.add_mutually_exclusive_group()
    keys.add_argument("--pubkey", help="device public key, SEC1 hex (compressed or not)")
    keys.add_argument("--key", type=Path, help="device key file")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=_show)


def _timestamp(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return int(datetime.fromisoformat(text).timestamp())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is neither Unix seconds nor ISO 8601") from exc


def _sign(args: argparse.Namespace) -> int:
    from fieldproof.identity import load_key
    from fieldproof.wire import ModelRef, Report, records_from_senml_json, sign_report

    key = load_key(args.key)
    try:
        text = args.senml.read_bytes()
    except OSError as exc:
        raise FieldproofValueError(f"--senml {args.senml}: {exc.strerror}") from exc
    now = int(time.time())
    start = args.start if args.start is not None else (args.end if args.end is not None else now)
    end = args.end if args.end is not None else max(start, now)
    model = None
    if args.model_id or args.model_sha256:
        if not (args.model_id and args.model_sha256):
            raise FieldproofValueError("--model-id and --model-sha256 go together")
        model = ModelRef.from_sha256_hex(args.model_id, args.model_sha256)
    report = Report(
        device_id=key.device_id,
        seq=args.seq,
        start=start,
        end=end,
        records=records_from_senml_json(text),
        model=model,
    )
    data = sign_report(report, key)
    args.out.write_bytes(data)
    print(f"{len(data)} bytes written to {args.out}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from fieldproof.identity import device_id_hex, load_key
    from fieldproof.wire import WireError, decode_report, records_to_senml_json, verify_report

    try:
        data = args.report.read_bytes()
    except OSError as exc:
        raise FieldproofValueError(f"{args.report}: {exc.strerror}") from exc
    signed = decode_report(data)
    report = signed.report
    public_key: bytes | None = None
    if args.pubkey:
        try:
            public_key = bytes.fromhex(args.pubkey.removeprefix("0x"))
        except ValueError as exc:
            raise FieldproofValueError(f"--pubkey: not hex: {args.pubkey!r}") from exc
    elif args.key:
        public_key = load_key(args.key).public_key
    verified: bool | None = None
    problem = None
    if public_key is not None:
        try:
            verify_report(signed, public_key)
            verified = True
        except WireError as exc:
            verified, problem = False, str(exc)
    info: dict[str, Any] = {
        "device_id": device_id_hex(report.device_id),
        "seq": report.seq,
        "start": report.start,
        "end": report.end,
        "model": None
        if report.model is None
        else {"id": report.model.model_id, "sha256_prefix": report.model.sha256_prefix.hex()},
        "records": json.loads(records_to_senml_json(report.records)),
        "size_bytes": len(data),
        "verified": verified,
    }
    if problem:
        info["error"] = problem
    if args.json:
        print(json.dumps(info))
    else:
        _print_human(info)
    if problem:
        print(f"fieldproof: error: {problem}", file=sys.stderr)
        return 1
    return 0


def _print_human(info: dict[str, Any]) -> None:
    print(f"device   {info['device_id']}")
    print(f"seq      {info['seq']}")
    print(f"interval {info['start']} .. {info['end']}")
    if info["model"]:
        print(f"model    {info['model']['id']} (sha256 {info['model']['sha256_prefix']}…)")
    for record in info["records"]:
        value = next((record[k] for k in ("v", "vs", "vb", "vd", "s") if k in record), "")
        print(f"  {record['n']:24} {value} {record.get('u', '')}".rstrip())
    if info["verified"] is None:
        print("signature NOT checked (give --pubkey or --key to check it)")
    elif info["verified"]:
        print("signature ✔ valid for this device")
    else:
        print("signature ✘ INVALID")
