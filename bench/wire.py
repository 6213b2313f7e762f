"""Wire-format speed and size: signing and decode+verify rates on one core, report sizes.

Sizes are compared with the same data as plain JSON (the baseline a naive device
would publish). Usage: ``python bench/wire.py [--json] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

from fieldproof.identity import DeviceKey, PublicKeyVerifier
from fieldproof.wire import (
    ModelRef,
    Record,
    Report,
    decode_report,
    records_to_senml_json,
    sign_report,
    verify_report,
)

# A typical environmental interval: ten readings (weather station + particulate sensor + QC).
ENV_READINGS = (
    ("temp", 21.37), ("rh", 54.2), ("pres", 101_325.0), ("dew", 11.8), ("wspd", 3.4),
    ("wdir", 270.0), ("ghi", 512.0), ("pm25", 8.7), ("pm10", 15.2), ("qc", 0.97),
)  # fmt: skip
# A typical traffic interval: six counts on one line.
TRAFFIC_COUNTS = (
    ("line1/person/in", 14), ("line1/person/out", 9), ("line1/car/in", 31),
    ("line1/car/out", 27), ("line1/bicycle/in", 3), ("line1/truck/out", 2),
)  # fmt: skip
START = 1_764_000_000


def env_report(key: DeviceKey, seq: int) -> Report:
    return Report(
        device_id=key.device_id,
        seq=seq,
        start=START,
        end=START + 60,
        records=tuple(Record(name=name, value=value) for name, value in ENV_READINGS),
        model=ModelRef.from_sha256_hex("qc-v1", "9f" * 32),
    )


def traffic_report(key: DeviceKey, seq: int) -> Report:
    return Report(
        device_id=key.device_id,
        seq=seq,
        start=START,
        end=START + 60,
        records=tuple(
            Record(name=name, unit="count", value=float(count)) for name, count in TRAFFIC_COUNTS
        ),
        model=ModelRef.from_sha256_hex("nanodet-m", "3c" * 32),
    )


def as_plain_json(report: Report) -> bytes:
    """The same data as a naive JSON message (hex ids, SenML JSON readings), unsigned."""
    return json.dumps(
        {
            "device_id": "0x" + report.device_id.hex(),
            "seq": report.seq,
            "start": report.start,
            "end": report.end,
            "model": None
            if report.model is None
            else {"id": report.model.model_id, "sha256": report.model.sha256_prefix.hex()},
            "readings": json.loads(records_to_senml_json(report.records)),
        },
        separators=(",", ":"),
    ).encode()


def rate(operation: Callable[[int], object], seconds: float) -> float:
    """Operations per second over at least ``seconds`` of wall time."""
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            operation(count)
            count += 1
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says

    key = DeviceKey.generate()
    env = env_report(key, 1)
    traffic = traffic_report(key, 2)
    signed_env = sign_report(env, key)
    signed_traffic = sign_report(traffic, key)
    verifier = PublicKeyVerifier(key.public_key)

    def sign_once(i: int) -> object:
        return sign_report(env, key)

    def verify_once(i: int) -> object:
        signed = decode_report(signed_env)
        verify_report(signed, verifier)
        return signed

    results = {
        "sign_per_s": round(rate(sign_once, args.seconds)),
        "verify_per_s": round(rate(verify_once, args.seconds)),
        "env_report_bytes": len(signed_env),
        "env_report_json_bytes": len(as_plain_json(env)),
        "traffic_report_bytes": len(signed_traffic),
        "traffic_report_json_bytes": len(as_plain_json(traffic)),
    }
    results["env_size_vs_json"] = round(
        results["env_report_bytes"] / results["env_report_json_bytes"], 3
    )
    if args.json:
        print(json.dumps(results))
    else:
        for name, value in results.items():
            print(f"{name:28} {value}")


if __name__ == "__main__":
    main()
