"""``fieldproof verify``: check a report end to end against the chain, trusting no aggregator."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldproof.api_client import API_KEY_ENV, fetch_json
from fieldproof.errors import FieldproofValueError

if TYPE_CHECKING:
    from fieldproof.verify import ReportProof, Step

OK_MARK = "\u2714"
FAIL_MARK = "\u2718"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = subparsers.add_parser(
        "verify",
        help="Verify a report end to end against the chain.",
        description="Check that a report is signed by its device's registered key, that the "
        "proof places it in its epoch's Merkle tree, that the tree's root is the one "
        "anchored on-chain for that epoch, and that the device was registered at the time. "
        "Give the report and proof as files (--report, --proof), or fetch them from an "
        "aggregator's HTTP API (--device, --seq, --api): the API is not trusted, every "
        "check runs here against the chain. Prints each step; exits 0 only if all hold. "
        "With --export, checks every row of a CSV or Parquet export instead (each carries "
        "its signed report and proof), prints a summary and the rows that fail, and exits "
        "0 only if every row holds.",
    )
    verify.add_argument("--report", type=Path, help="report file (COSE_Sign1)")
    verify.add_argument("--proof", type=Path, help="proof file (JSON)")
    verify.add_argument("--device", help="device id (0x + 64 hex digits), with --api")
    verify.add_argument("--seq", type=int, help="sequence number, with --api")
    verify.add_argument("--api", help="aggregator API base URL (http(s)://…)")
    verify.add_argument(
        "--export", type=Path, help="a CSV or Parquet export of raw readings with their proofs"
    )
    verify.add_argument(
        "--show",
        type=int,
        default=100,
        help="with --export: failing rows to print (default 100; 0 prints all)",
    )
    verify.add_argument(
        "--api-key-env",
        default=API_KEY_ENV,
        help=f"environment variable holding the API key, if the API needs one ({API_KEY_ENV})",
    )
    verify.add_argument(
        "--beacon-max-age",
        type=float,
        default=3600.0,
        help="seconds the report's beacon block may precede its interval's end (default 3600)",
    )
    verify.add_argument("--rpc", required=True, help="chain URL (http(s)://…)")
    verify.add_argument("--deployment", required=True, type=Path, help="deployment.json")
    verify.set_defaults(handler=_verify)


def read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FieldproofValueError(f"{what} {path}: {exc.strerror}") from exc


def _from_api(args: argparse.Namespace) -> tuple[bytes, ReportProof]:
    import base64
    import binascii

    from fieldproof.identity import parse_device_id
    from fieldproof.verify import ReportProof

    device = "0x" + parse_device_id(args.device).hex()
    base = args.api.rstrip("/")
    report = fetch_json(f"{base}/v1/reports/{device}/{args.seq}", args.api_key_env)
    try:
        raw = base64.b64decode(report["cose"], validate=True)
    except (KeyError, TypeError, binascii.Error, ValueError) as exc:
        raise FieldproofValueError(f"{base}: the report has no base64 'cose' field") from exc
    proof = ReportProof.from_json(
        fetch_json(f"{base}/v1/proofs/{device}/{args.seq}", args.api_key_env)
    )
    return raw, proof


def _verify(args: argparse.Namespace) -> int:
    from fieldproof.chain.backends import connect_deployment
    from fieldproof.chain.deploy import Deployment
    from fieldproof.verify import ContractView, ReportProof, all_ok, verify

    by_file = args.report is not None or args.proof is not None
    by_api = args.device is not None or args.seq is not None or args.api is not None
    if args.export is not None:
        if by_file or by_api:
            raise FieldproofValueError("verify: --export goes alone, without a single report")
        return _verify_export(args)
    if by_file == by_api:
        raise FieldproofValueError(
            "verify: give either --report and --proof, or --device, --seq and --api"
        )
    if by_file:
        if args.report is None or args.proof is None:
            raise FieldproofValueError("verify: --report and --proof go together")
        raw = read_bytes(args.report, "report")
        proof = ReportProof.loads(read_bytes(args.proof, "proof").decode("utf-8", "replace"))
    else:
        if args.device is None or args.seq is None or args.api is None:
            raise FieldproofValueError("verify: --device, --seq and --api go together")
        raw, proof = _from_api(args)
    deployment = Deployment.load(args.deployment)
    w3 = connect_deployment(args.rpc, deployment)
    steps = verify(raw, proof, ContractView(deployment.registry(w3), deployment.anchor(w3)))
    beacon = check_beacon(raw, _block_reader(w3), args.beacon_max_age)
    if beacon is not None:
        steps.append(beacon)
    else:
        print(f"- {STEP_BEACON}: none (a version 1 report); its freshness is not shown")
    for step in steps:
        print(f"{OK_MARK if step.ok else FAIL_MARK} {step.name}: {step.detail}")
    ok = all_ok(steps)
    print("verified" if ok else "NOT verified")
    return 0 if ok else 1


STEP_BEACON = "beacon"
BlockReader = Callable[[int], "tuple[bytes, int] | None"]


def _block_reader(w3: Any) -> BlockReader:
    """The (hash, timestamp) of a block of ``w3``'s chain, None when there is no such block."""

    def read(number: int) -> tuple[bytes, int] | None:
        try:
            block = w3.eth.get_block(number)
        except Exception as exc:
            if type(exc).__name__ == "BlockNotFound":
                return None
            raise
        return bytes(block["hash"]), int(block["timestamp"])

    return read


def check_beacon(raw: bytes, block: BlockReader, max_age_s: float) -> Step | None:
    """The report's beacon is a block of this chain made at most ``max_age_s`` before its
    interval's end, so the report was not made further ahead; None without a beacon."""
    from fieldproof.verify import Step
    from fieldproof.wire import WireError, decode_report

    try:
        report = decode_report(raw).report
    except WireError as exc:
        return Step(STEP_BEACON, False, f"report does not decode: {exc}")
    beacon = report.beacon
    if beacon is None:
        return None
    found = block(beacon.number)
    if found is None:
        return Step(STEP_BEACON, False, f"block {beacon.number} does not exist on this chain yet")
    block_hash, timestamp = found
    if block_hash != beacon.block_hash:
        return Step(STEP_BEACON, False, f"{beacon} is not a block of this chain")
    age = report.end - timestamp
    if age > max_age_s:
        return Step(
            STEP_BEACON,
            False,
            f"{beacon} was made {age:.0f} s before the interval's end (limit {max_age_s:.0f} s): "
            "the report may have been made in advance",
        )
    return Step(
        STEP_BEACON,
        True,
        f"{beacon} of this chain, made {age:.0f} s before the interval's end: the report was "
        "signed after it",
    )


def _verify_export(args: argparse.Namespace) -> int:
    from fieldproof.chain.backends import connect_deployment
    from fieldproof.chain.deploy import Deployment
    from fieldproof.export_rows import read_export
    from fieldproof.verify_export import CachedChain, ContractExportView, verify_rows

    deployment = Deployment.load(args.deployment)
    w3 = connect_deployment(args.rpc, deployment)
    view = ContractExportView(deployment.registry(w3), deployment.anchor(w3))
    verdict = verify_rows(read_export(args.export), CachedChain(view))
    epochs = sorted(verdict.epochs)
    span = f"epochs {epochs[0]}..{epochs[-1]}" if epochs else "no epoch"
    devices = len(verdict.devices)
    print(
        f"{args.export}: {verdict.rows} rows, {verdict.verified} verified, "
        f"{len(verdict.failures)} failed ({devices} device{'' if devices == 1 else 's'}, {span})"
    )
    shown = verdict.failures if args.show <= 0 else verdict.failures[: args.show]
    for failure in shown:
        print(f"{FAIL_MARK} {failure.describe()}")
    if len(shown) < len(verdict.failures):
        print(f"… and {len(verdict.failures) - len(shown)} more failing rows (--show 0: all)")
    if verdict.rows == 0:
        print(f"{FAIL_MARK} the file holds no rows")
    print(f"{OK_MARK} every row verified" if verdict.ok else "NOT verified")
    return 0 if verdict.ok else 1
