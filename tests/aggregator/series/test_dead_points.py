"""Points the series store refuses for good go to the ledger's dead-point table and the
projection moves on; an outage still stops the cursor (real InfluxDB, real SQLite)."""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

from aggregator.ledger import Batch, IncomingReport, SqlLedger, open_ledger
from aggregator.metrics import IngestMetrics
from aggregator.series import (
    Point,
    Projector,
    SeriesRejectedError,
    SeriesUnavailableError,
    open_series,
)
from aggregator.series.influx import InfluxSeries
from fieldproof.wire import Record
from tests.aggregator.reports import Device, new_device
from tests.services.influxdb import InfluxServer

START = 1_700_000_000


def records(seq: int) -> tuple[Record, ...]:
    out = [Record(name="temp", value=20.0 + seq, time=float(START + seq))]
    if seq == 3:
        out.append(Record(name="pressure", value=1013.0, time=float(START + seq)))
    return tuple(out)


def store_reports(ledger: SqlLedger, device: Device, seqs: Sequence[int]) -> None:
    reports = []
    for seq in seqs:
        raw = device.signed(seq, start=START, records=records(seq))
        reports.append(
            IncomingReport(
                device.device_id, seq, 1.0, START, START + 60, raw, hashlib.sha256(raw).digest()
            )
        )
    ledger.write_batch(Batch(reports=reports))


@pytest.fixture
def ledger(tmp_path: Path) -> SqlLedger:
    return open_ledger(f"sqlite:///{tmp_path}/ledger.db")


def test_a_refused_point_is_kept_and_the_following_reports_are_projected(
    ledger: SqlLedger, influxdb_server: InfluxServer, influxdb_url: str
) -> None:
    device = new_device()
    series = InfluxSeries(influxdb_url)
    # The same measurement and field first written as a string: a later float is a field
    # type conflict, refused with HTTP 400.
    line = f'pressure,device={device.hex} value="high" {START * 1000}'
    request = urllib.request.Request(
        f"http://127.0.0.1:{influxdb_server.port}/write?db={series.database}&precision=ms",
        data=line.encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204
    store_reports(ledger, device, range(1, 6))
    metrics = IngestMetrics()
    projector = Projector(ledger, series, batch=2, metrics=metrics)

    assert projector.catch_up() == 5
    assert ledger.get_cursor("series") == ledger.max_row_id()
    dead = ledger.dead_points()
    assert len(dead) == 1
    (point,) = dead
    report = ledger.report(device.device_id, 3)
    assert report is not None
    assert (point.report_id, point.device_id, point.seq) == (report.row_id, device.device_id, 3)
    assert point.measurement == "pressure"
    assert point.line.startswith("pressure,device=")
    assert "value=1013.0" in point.line
    assert "HTTP 400" in point.reason
    assert "field type conflict" in point.reason
    assert metrics.snapshot()["series_dead_points"] == 1
    # Every other point is there, report 3's temperature included.
    temps = series.series("temp", [device.hex], START, START + 60)
    assert [p.value for p in temps] == [21.0, 22.0, 23.0, 24.0, 25.0]
    # Projecting again finds nothing to do and records nothing twice.
    assert projector.step() == 0
    assert ledger.count_dead_points() == 1


class _Store:
    """A series store that fails as told: an outage, or a refusal of one measurement."""

    url = "stub://"

    def __init__(self, error: type[Exception] | None, refuse: str = "") -> None:
        self.error = error
        self.refuse = refuse
        self.written: list[Point] = []

    def write(self, points: Sequence[Point]) -> None:
        if self.error is not None:
            raise self.error("down")
        if any(p.measurement == self.refuse for p in points):
            raise SeriesRejectedError("HTTP 400: refused")
        self.written.extend(points)


def test_an_outage_moves_nothing_and_skips_nothing(ledger: SqlLedger) -> None:
    device = new_device()
    store_reports(ledger, device, range(1, 6))
    store = _Store(SeriesUnavailableError)
    projector = Projector(ledger, store)  # type: ignore[arg-type]
    with pytest.raises(SeriesUnavailableError):
        projector.step()
    assert ledger.get_cursor("series") == 0
    assert ledger.count_dead_points() == 0
    store.error = None
    assert projector.catch_up() == 5
    assert len(store.written) == 6
    assert ledger.count_dead_points() == 0


def test_other_errors_move_nothing(ledger: SqlLedger) -> None:
    store_reports(ledger, new_device(), range(1, 3))
    projector = Projector(ledger, _Store(RuntimeError))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        projector.step()
    assert ledger.get_cursor("series") == 0


def test_refusals_are_isolated_to_the_refused_points(ledger: SqlLedger) -> None:
    device = new_device()
    store_reports(ledger, device, range(1, 6))
    store = _Store(None, refuse="pressure")
    assert Projector(ledger, store).catch_up() == 5  # type: ignore[arg-type]
    assert [p.measurement for p in store.written] == ["temp"] * 5
    assert [(d.seq, d.measurement) for d in ledger.dead_points()] == [(3, "pressure")]


def test_influx_write_errors_are_sorted_by_status(influxdb_url: str) -> None:
    # A database that does not exist is the server's setup, not the points': retry.
    missing = InfluxSeries(influxdb_url + "x", create_database=False)
    with pytest.raises(SeriesUnavailableError):
        missing.write([Point("temp", (), "0x00", START * 1000, 1.0)])
    series = open_series(influxdb_url)
    with pytest.raises(SeriesRejectedError, match="HTTP 400"):
        series.write([Point("", (), "0x00", START * 1000, 1.0)])  # no measurement
