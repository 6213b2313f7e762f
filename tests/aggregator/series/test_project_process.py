"""With ``roles: [ingest]`` the ingest process only ingests and
``fieldproof aggregator project`` (its own process) fills the series."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from aggregator.config import AggregatorConfig
from aggregator.ledger import open_ledger
from aggregator.series import open_series
from aggregator.service import Aggregator
from tests.aggregator.reports import new_device
from tests.aggregator.runtime import REPO, config_dict, publish_all, wait_for, write_config
from tests.services.mosquitto import MosquittoBroker


def test_projection_in_its_own_process(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    device = new_device()
    data = config_dict(tmp_path, mosquitto.port, [device])
    data["roles"] = ["ingest"]
    path = write_config(tmp_path / "aggregator.yaml", data)
    config = AggregatorConfig.model_validate(data)
    aggregator = Aggregator(config)
    aggregator.start()
    projector = None
    try:
        time.sleep(0.3)
        publish_all(mosquitto.port, [(device.topic, device.signed(s)) for s in range(1, 101)])
        wait_for(lambda: aggregator.metrics.snapshot()["accepted"] >= 100, 30, "ingest")
        ledger = open_ledger(config.ledger.url)
        time.sleep(0.5)
        assert ledger.get_cursor("series") == 0
        projector = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "project", "--config", str(path)], cwd=REPO
        )
        wait_for(lambda: ledger.get_cursor("series") == ledger.max_row_id(), 30, "projection")
        now = time.time()
        points = open_series(config.series.url).series("rh", None, now - 86_400, now + 60)
        assert len(points) == 100
    finally:
        aggregator.stop()
        if projector is not None:
            projector.send_signal(signal.SIGTERM)
            assert projector.wait(15) == 0
