"""Fault matrix: every seq each device allocated is in the ledger exactly once after each
fault, and how long the ledger took to catch up.

A fresh network per case: Mosquitto from the shipped ``deploy/mosquitto/mosquitto.conf``
with a provisioned fleet (dynamic security, loopback ports), aggregator processes
(``python -m aggregator run``), three agent processes (``fieldproof agent run``,
replayed weather, a report every 0.25 s) and a signed-report load generator (its own
outbox and the agent's link, 50 reports/s). Each case runs ``--warm`` seconds, breaks
one part, measures ``recovery_s`` (fault over → the ledger holds every seq allocated up
to then), keeps producing, then drains every outbox and counts.

The baseline, measured in the same run: the same network with no fault
(``no_fault``); ``recovery_ratio`` is each case's ``recovery_s`` over it.

Usage: ``python bench/chaos.py [--json] [--case NAME ...] [--warm S] [--outage S]``.
Needs mosquitto and PostgreSQL (``deploy/dev/install-test-services.sh``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.cases import BASELINE, CASES, Timing, run_case
from tests.faults.network import NetworkSettings
from tests.services.postgres import running_postgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="run only these")
    parser.add_argument("--warm", type=float, default=5.0, help="seconds before the fault")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds a part stays down")
    parser.add_argument("--load", type=float, default=50.0, help="generator reports/s")
    args = parser.parse_args()
    names = [BASELINE, *(args.case or sorted(CASES))]
    settings = NetworkSettings(agents=3, report_interval_s=0.25, load_per_s=args.load)
    timing = Timing(warm_s=args.warm, outage_s=args.outage)
    results: dict[str, dict[str, Any]] = {}
    with running_postgres() as postgres:
        for name in names:
            started = time.monotonic()
            url = None
            if name != BASELINE and CASES[name].needs_postgres:
                url = postgres.create_database(f"chaos_{uuid.uuid4().hex[:12]}")
            try:
                with tempfile.TemporaryDirectory(prefix=f"chaos-{name}-") as folder:
                    result = run_case(name, Path(folder), settings, timing, postgres_url=url)
            except AssertionError as exc:  # one case that does not recover ends only itself
                results[name] = {"error": str(exc), "recovery_s": float("nan")}
                print(f"{name}: {exc}", file=sys.stderr, flush=True)
                continue
            row = result.as_json()
            row["wall_s"] = round(time.monotonic() - started, 1)
            results[name] = row
            if not args.json:
                print(
                    f"{name:45s} allocated {row['allocated']:6d} stored {row['stored']:6d} "
                    f"lost {row['lost']:4d} duplicated {row['duplicated']:4d} "
                    f"recovery {row['recovery_s']:6.2f} s",
                    flush=True,
                )
    baseline = max(results[BASELINE]["recovery_s"], 0.01)
    for row in results.values():
        if "error" not in row:
            row["recovery_ratio"] = round(row["recovery_s"] / baseline, 1)
    if args.json:
        print(json.dumps({"settings": vars(args), "cases": results}, indent=2, default=str))
    else:
        print(f"baseline recovery (no fault): {baseline:.2f} s")


if __name__ == "__main__":
    main()
