"""Catch-up throughput of the series projection after an InfluxDB outage.

A backlog of signed reports (three readings each, as the test devices send) is written
to a SQLite ledger while InfluxDB is down; a projection step fails and moves nothing;
InfluxDB comes back and the projection is timed until its cursor reaches the ledger's
end. Figures: points/s and reports/s, per projection batch size. Not a pass/fail test.

Usage: ``python bench/catch_up.py [--json] [--reports N] [--batch 500 ...]``. Needs
``influxd`` (Debian ``influxdb``) on PATH or in /usr/bin.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aggregator.ledger import Batch, IncomingReport, open_ledger  # noqa: E402
from aggregator.series import Projector, SeriesUnavailableError  # noqa: E402
from aggregator.series.influx import InfluxSeries  # noqa: E402
from tests.aggregator.reports import new_device  # noqa: E402
from tests.services.influxdb import InfluxServer  # noqa: E402
from tests.services.ports import free_port  # noqa: E402

DEVICES = 20
START = 1_700_000_000


def fill_ledger(url: str, reports: int) -> int:
    """Write ``reports`` signed reports round-robin over the devices; return the points."""
    ledger = open_ledger(url)
    devices = [new_device() for _ in range(DEVICES)]
    batch: list[IncomingReport] = []
    for i in range(reports):
        device = devices[i % DEVICES]
        seq = i // DEVICES + 1
        start = START + seq * 60
        raw = device.signed(seq, start=start)
        batch.append(
            IncomingReport(
                device.device_id, seq, 1.0, start, start + 60, raw, hashlib.sha256(raw).digest()
            )
        )
        if len(batch) == 1000:
            ledger.write_batch(Batch(reports=batch))
            batch = []
    ledger.write_batch(Batch(reports=batch))
    ledger.close()
    return reports * 3


def run(reports: int, batch: int, work: Path) -> dict[str, float]:
    binary = Path(shutil.which("influxd") or "/usr/bin/influxd")
    if not binary.exists():
        raise SystemExit("influxd not found; install it with: apt-get install influxdb")
    directory = work / f"influx-{batch}"
    directory.mkdir()
    server = InfluxServer(binary, directory, free_port(), free_port())
    url = f"sqlite:///{work}/ledger-{batch}.db"
    points = fill_ledger(url, reports)
    ledger = open_ledger(url)
    series = InfluxSeries(server.url("bench"), timeout_s=2.0, create_database=False)
    projector = Projector(ledger, series, batch=batch)
    try:
        projector.step()  # InfluxDB is down
        raise SystemExit("the projection wrote to a stopped InfluxDB")
    except SeriesUnavailableError:
        pass
    assert ledger.get_cursor("series") == 0
    server.start()
    try:
        InfluxSeries(server.url("bench"))  # creates the database
        began = time.perf_counter()
        moved = projector.catch_up()
        seconds = time.perf_counter() - began
        assert moved == reports
        assert ledger.get_cursor("series") == ledger.max_row_id()
        assert ledger.count_dead_points() == 0
        stored = series.count()
    finally:
        server.stop()
        ledger.close()
    return {
        "batch": batch,
        "reports": reports,
        "points": points,
        "points_in_store": stored,
        "seconds": round(seconds, 3),
        "points_per_s": round(points / seconds),
        "reports_per_s": round(reports / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[500])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        results = [run(args.reports, b, Path(work)) for b in args.batch]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(
                f"batch {r['batch']}: {r['points']} points ({r['reports']} reports) in "
                f"{r['seconds']} s: {r['points_per_s']} points/s, {r['reports_per_s']} reports/s"
            )


if __name__ == "__main__":
    main()
