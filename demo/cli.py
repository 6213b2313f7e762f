"""``fieldproof demo``: run the whole network locally on embedded defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

# The extra that installs what these commands run.
ROLE_EXTRA = "demo"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="Run the whole network locally: chain, broker, aggregator and devices.",
        description="Deploy the contracts on the in-process chain, start a broker "
        "(Mosquitto when installed, else in-process), the aggregator and N devices (each a "
        "real agent process with its own key and owner), anchor epochs, publish rewards, "
        "claim once and verify a random reading against the chain.",
    )
    demo.add_argument("--devices", type=int, default=3, help="number of devices (default 3)")
    demo.add_argument(
        "--duration", type=float, default=60.0, help="seconds the devices run (default 60)"
    )
    demo.add_argument("--epoch", type=int, default=15, help="epoch length in seconds (default 15)")
    demo.add_argument(
        "--interval", type=float, default=3.0, help="report interval in seconds (default 3)"
    )
    demo.add_argument(
        "--broker",
        choices=("auto", "embedded"),
        default="auto",
        help="auto: Mosquitto when installed, else in-process; embedded: always in-process",
    )
    demo.add_argument("--json", action="store_true", help="print one JSON object at the end")
    demo.add_argument(
        "--serve",
        action="store_true",
        help="serve the API and dashboard while the demo runs, and after it until Ctrl-C",
    )
    demo.add_argument("--port", type=int, default=8080, help="port for --serve (default 8080)")
    demo.add_argument("--workdir", type=Path, help="keep all state here instead of a temp dir")
    demo.add_argument("--seed", type=int, help="seed for the random choices (reproducible runs)")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from aggregator.errors import AggregatorValueError
    from demo.network import DemoOptions, DemoResult, result_json, run_demo, summary

    if not 1 <= args.devices <= 9:
        raise AggregatorValueError("--devices: must be between 1 and 9")
    if args.duration <= 0 or args.epoch <= 0 or args.interval <= 0:
        raise AggregatorValueError("--duration, --epoch and --interval must be positive")
    options = DemoOptions(
        devices=args.devices,
        duration=args.duration,
        epoch=args.epoch,
        interval=args.interval,
        workdir=args.workdir,
        keep=args.workdir is not None,
        seed=args.seed,
        prefer_mosquitto=args.broker == "auto",
        serve=args.serve,
        port=args.port,
    )

    def report(result: DemoResult) -> None:
        print(result_json(result) if args.json else summary(result), flush=True)

    result = run_demo(options, on_finished=report)
    ok = (
        result.verified_reading
        and result.epochs_anchored >= 1
        and result.reports_published == result.reports_stored
    )
    return 0 if ok else 1
