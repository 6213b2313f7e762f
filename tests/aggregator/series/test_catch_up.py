"""InfluxDB down: the ledger keeps accepting; back up: the projection catches up from its
cursor in the ledger and nothing is lost (real Mosquitto, real InfluxDB)."""

from __future__ import annotations

import time
from pathlib import Path

from aggregator.ledger import open_ledger
from aggregator.series import open_series
from aggregator.service import Aggregator
from tests.aggregator.reports import new_device
from tests.aggregator.runtime import make_config, publish_all, wait_for
from tests.services.influxdb import InfluxServer
from tests.services.mosquitto import MosquittoBroker
from tests.services.ports import free_port, require_binary


def test_projection_catches_up_after_an_influxdb_outage(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    binary = require_binary("influxd", "apt-get install influxdb", extra_dirs=("/usr/bin",))
    directory = tmp_path / "influx"
    directory.mkdir()
    influx = InfluxServer(binary, directory, free_port(), free_port())
    influx.start()
    device = new_device()
    url = influx.url("outage")
    config = make_config(tmp_path, mosquitto.port, [device], series_url=url)
    aggregator = Aggregator(config)
    aggregator.start()
    try:
        time.sleep(0.3)
        publish_all(mosquitto.port, [(device.topic, device.signed(s)) for s in range(1, 51)])
        wait_for(lambda: aggregator.metrics.snapshot()["projected"] >= 50, 30, "projection")
        influx.stop()
        publish_all(mosquitto.port, [(device.topic, device.signed(s)) for s in range(51, 201)])
        wait_for(lambda: aggregator.metrics.snapshot()["accepted"] >= 200, 30, "ledger accepts")
        ledger = open_ledger(config.ledger.url)
        assert ledger.count_reports() == 200
        wait_for(lambda: aggregator.metrics.snapshot()["series_errors"] >= 1, 10, "write error")
        assert ledger.get_cursor("series") < ledger.max_row_id()
        influx.start()
        wait_for(
            lambda: ledger.get_cursor("series") == ledger.max_row_id(), 60, "projection catch-up"
        )
        now = time.time()
        points = open_series(url).series("temp", [device.hex], now - 86_400, now + 60)
        assert len(points) == 200
    finally:
        aggregator.stop()
        influx.stop()
